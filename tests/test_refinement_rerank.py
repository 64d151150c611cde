"""Mask-predict refinement of classify models (--iter-decode-max-iter) and reranking of the parallel
candidates by an autoregressive model (--iter-decode-with-external-reranker), directly and through
fairseq-generate/-interactive."""

import argparse
import os
import re
import subprocess

import pytest
import torch
from conftest import CLS, DEMO_N_TEST, NO_DROPOUT, PAD, ROOT, SEP, right_pad

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.models.bert2bert import Bert2BertModel, bert2bert_small
from bnb_fairseq.models.bnb import BnbModel, bnb_small

SRC = [[CLS, 7592, 2088, 2003, SEP], [CLS, 2129, 2024, 2017, 2725, 2651, 1012, SEP]]
WORDS = [2023, 2003, 1037, 3231, 2748]
K = 16
MASK = 103  # [MASK] in BERT's uncased vocabulary
UNK = 100


def build_bnb(bert_dir, **overrides):
    torch.manual_seed(0)
    cfg = argparse.Namespace(
        bert_checkpoint=bert_dir,
        **{**NO_DROPOUT, "output_vocab": "full", "length_control": "classify", "length_classes": K, **overrides},
    )
    bnb_small(cfg)
    d = BertDictionary.load(bert_dir)
    model = BnbModel.build_model(cfg, argparse.Namespace(source_dictionary=d, target_dictionary=d))
    model.decoder.set_output_vocab(WORDS)
    return model.eval(), d


@pytest.fixture(scope="module")
def classify(tiny_bert_dir):
    model, d = build_bnb(tiny_bert_dir)
    assert d.mask() == MASK
    head = model.decoder.length_classifier.proj  # lengths source + 2, source - 1, source + 4, in that order
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        for rank, off in enumerate([2, -1, 4]):
            head.bias[K // 2 + off] = 10.0 - rank
    return model, d


@pytest.fixture(scope="module")
def reranker(tiny_bert_dir):
    torch.manual_seed(1)
    cfg = argparse.Namespace(bert_checkpoint=tiny_bert_dir, **NO_DROPOUT)
    bert2bert_small(cfg)
    d = BertDictionary.load(tiny_bert_dir)
    return Bert2BertModel.build_model(cfg, argparse.Namespace(source_dictionary=d, target_dictionary=d)).eval()


def sample():
    src = right_pad(SRC)
    return {"id": torch.arange(2), "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)}}


def spy_decoder(model):
    """Record (prev_tokens, log-probabilities) of every decoder call."""
    calls, original = [], model.decoder.forward

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append((kwargs.get("prev_tokens"), model.get_normalized_probs(out, log_probs=True)))
        return out

    model.decoder.forward = spy
    return calls


@pytest.fixture
def spied(classify):
    model, d = classify
    calls = spy_decoder(model)
    yield model, d, calls
    del model.decoder.forward


def strip(tokens, n):
    """A hypothesis' tokens: the specials and [UNK] (--unk-policy drop, the default) left out, [SEP] closing."""
    toks = [t for t in tokens[:n] if t not in (CLS, SEP, PAD, UNK)]
    return toks + [SEP]


def test_mask_predict_schedule(spied):
    """Pass t of N re-masks the floor(T (N - t + 1) / (N + 1)) least probable slots, keeps the others."""
    model, d, calls = spied
    n_iter = 3
    hypos = ParallelGenerator(d, max_iter=n_iter, force_max_iter=True, retain_history=True).generate([model], sample())
    assert len(calls) == n_iter + 1 and calls[0][0] is None  # the first pass reads no words
    lengths = [7, 10]  # source + 2
    first = calls[0][1]
    scores, slots = first.max(-1)
    tokens = model.decoder.output_tokens(slots)
    for t, (prev, lprobs) in enumerate(calls[1:], start=1):
        assert prev.shape == (2, 10)
        for b, n in enumerate(lengths):
            masked = prev[b, :n] == MASK
            assert int(masked.sum()) == n * (n_iter - t + 1) // (n_iter + 1)
            lowest = set(scores[b, :n].argsort()[: int(masked.sum())].tolist())
            assert set(masked.nonzero().flatten().tolist()) == lowest
            assert torch.equal(prev[b, :n][~masked], tokens[b, :n][~masked])  # the others, fed back
            assert (prev[b, n:] == PAD).all()
        new_scores, new_slots = lprobs.max(-1)
        remask = prev == MASK
        tokens = torch.where(remask, model.decoder.output_tokens(new_slots), tokens)
        scores = torch.where(remask, new_scores, scores)
    for b, (nbest, n) in enumerate(zip(hypos, lengths)):
        h = nbest[0]
        assert h["steps"] == n_iter and len(h["history"]) == n_iter + 1
        assert h["tokens"].tolist() == strip(tokens[b].tolist(), n)
        assert h["history"][-1]["tokens"].tolist() == h["tokens"].tolist()
        assert torch.allclose(h["score"], scores[b, :n].mean())
        assert len(h["positional_scores"]) == len(h["tokens"])
        # the first entry is the unrefined output
        assert h["history"][0]["tokens"].tolist() == strip(model.decoder.output_tokens(slots[b]).tolist(), n)
    # the words fed back reach the slots (this random model barely changes its argmax for them)
    assert not torch.allclose(calls[1][1], first[:, : calls[1][1].size(1)], atol=1e-4)


def test_no_refinement_is_unchanged(spied):
    model, d, calls = spied
    plain = ParallelGenerator(d, length_beam=3, nbest=3).generate([model], sample())
    hist = ParallelGenerator(d, length_beam=3, nbest=3, retain_history=True).generate([model], sample())
    assert len(calls) == 2 and all(prev is None for prev, _ in calls)
    for a, b in zip(plain, hist):
        assert [h["tokens"].tolist() for h in a] == [h["tokens"].tolist() for h in b]
        assert all(len(h["history"]) == 1 and h["steps"] == 0 for h in b)


def test_early_stop(spied):
    """Slots that predict the same word whatever they read: the first refinement pass changes nothing."""
    model, d, calls = spied
    bias = model.decoder.lm_head.bias
    saved = bias.clone()
    with torch.no_grad():
        bias[3231] = 50.0
    try:
        stopped = ParallelGenerator(d, length_beam=3, nbest=3, max_iter=4, retain_history=True).generate(
            [model], sample()
        )
        n_stopped = len(calls)
        forced = ParallelGenerator(d, length_beam=3, max_iter=4, force_max_iter=True, retain_history=True).generate(
            [model], sample()
        )
    finally:
        with torch.no_grad():
            bias.copy_(saved)
    assert n_stopped == 2  # the first pass and one refinement pass, then the whole batch stopped
    assert len(calls) - n_stopped == 5
    for nbest in stopped:
        for h in nbest:
            assert h["steps"] == 1 and len(h["history"]) == 2
            assert set(h["tokens"].tolist()) == {3231, SEP}
    assert all(h[0]["steps"] == 4 and len(h[0]["history"]) == 5 for h in forced)


def test_refinement_options_are_checked(classify, tiny_bert_dir):
    _, d = classify
    ctc, _ = build_bnb(tiny_bert_dir, length_control="ctc")
    with pytest.raises(ValueError, match="mask-predict refinement needs a --length-control classify model"):
        ParallelGenerator(d, max_iter=2).generate([ctc], sample())
    with pytest.raises(ValueError, match="--iter-decode-force-max-iter needs refinement passes"):
        ParallelGenerator(d, force_max_iter=True)
    with pytest.raises(ValueError, match="prev_tokens"):
        ctc.decoder(
            None,
            encoder_out=ctc.encoder(sample()["net_input"]["src_tokens"]),
            prev_tokens=torch.zeros(2, 3, dtype=torch.long),
        )


@torch.no_grad()
def teacher_forced_mean(reranker, src, tokens):
    """The reranker's mean log-probability of ``y [SEP]`` reading ``[CLS] y``, one sentence alone."""
    enc = reranker.encoder(src[None, : int(src.ne(PAD).sum())])
    prev = torch.cat([torch.tensor([CLS]), tokens[:-1]])[None]
    lp = reranker.get_normalized_probs(reranker.decoder(prev, encoder_out=enc), log_probs=True)[0]
    return lp.gather(1, tokens[:, None]).mean()


def test_reranker_scores_every_candidate_in_one_pass(classify, reranker):
    model, d = classify
    nar_bias, ar_bias = model.decoder.lm_head.bias, reranker.decoder.lm_head.bias
    saved = nar_bias.clone(), ar_bias.clone()
    calls = spy_decoder(reranker)
    with torch.no_grad():
        nar_bias[2023] = 50.0  # candidates: 2023 at each of 7, 4, 9 (and 10, 7, 12) slots
        ar_bias[2023] = 20.0  # the reranker wants 2023 and dislikes [SEP]: the longest candidate wins
    try:
        nar = ParallelGenerator(d, length_beam=3, nbest=3).generate([model], sample())
        hypos = ParallelGenerator(d, length_beam=3, nbest=3, max_iter=1, reranking=True).generate(
            [model, reranker], sample()
        )
        src = sample()["net_input"]["src_tokens"]
        expected = [
            [float(teacher_forced_mean(reranker, src[b], h["tokens"])) for h in nbest] for b, nbest in enumerate(hypos)
        ]
        n_calls = len(calls)
        alone = []  # batch size 1
        for b, row in enumerate(SRC):
            one = {
                "id": torch.tensor([b]),
                "net_input": {"src_tokens": torch.tensor([row]), "src_lengths": torch.tensor([len(row)])},
            }
            alone.append(
                ParallelGenerator(d, length_beam=3, max_iter=1, reranking=True).generate([model, reranker], one)
            )
    finally:
        del reranker.decoder.forward
        with torch.no_grad():
            nar_bias.copy_(saved[0])
            ar_bias.copy_(saved[1])
    assert n_calls == 1 + 6  # one batched pass over the 2 x 3 candidates (then the single checks)
    for b, one in enumerate(alone):
        assert len(one) == 1 and len(one[0]) == 1
        assert one[0][0]["tokens"].tolist() == hypos[b][0]["tokens"].tolist()
        assert torch.allclose(one[0][0]["score"], hypos[b][0]["score"], atol=1e-4)
    assert [[len(h["tokens"]) - 1 for h in nbest] for nbest in hypos] == [[9, 7, 4], [12, 10, 7]]
    for b, nbest in enumerate(hypos):
        assert {tuple(h["tokens"].tolist()) for h in nbest} == {tuple(h["tokens"].tolist()) for h in nar[b]}
        scores = [float(h["score"]) for h in nbest]
        assert scores == sorted(scores, reverse=True)
        assert torch.allclose(torch.tensor(scores), torch.tensor(expected[b]), atol=1e-4)
        for h in nbest:
            assert torch.allclose(h["positional_scores"].mean(), h["score"], atol=1e-5)
            assert h["steps"] == 1


def test_reranker_prefers_the_candidate_with_its_token(classify, reranker):
    """Hand-made candidates: the reranker that strongly prefers 3231 puts the one holding it first."""
    _, d = classify
    bias = reranker.decoder.lm_head.bias
    saved = bias.clone()
    with torch.no_grad():
        bias[3231] = 20.0
    cands = [[2023, 2003, SEP], [1037, 3231, 2748, SEP], [2748, SEP]]
    hypos = [
        [
            {
                "tokens": torch.tensor(c),
                "positional_scores": torch.zeros(len(c)),
                "score": torch.tensor(0.0),
                "alignment": None,
                "steps": 0,
            }
            for c in cands
        ]
        for _ in range(2)
    ]
    gen = ParallelGenerator(d, length_beam=3, nbest=2, reranking=True)
    try:
        with torch.no_grad():
            ranked = gen._rerank(
                reranker, sample()["net_input"]["src_tokens"], sample()["net_input"]["src_lengths"], hypos
            )
    finally:
        with torch.no_grad():
            bias.copy_(saved)
    for nbest in ranked:
        assert len(nbest) == 2 and nbest[0]["tokens"].tolist() == [1037, 3231, 2748, SEP]
        assert float(nbest[0]["score"]) > float(nbest[1]["score"])


def test_reranker_on_ctc_beam_hypotheses(reranker, tiny_bert_dir):
    """Every distinct CTC beam output is rescored; --nbest keeps the reranker's best."""
    ctc, d = build_bnb(tiny_bert_dir, length_control="ctc")
    every = ParallelGenerator(d, ctc_beam=6, nbest=6).generate([ctc], sample())
    hypos = ParallelGenerator(d, ctc_beam=6, nbest=2, reranking=True).generate([ctc, reranker], sample())
    src = sample()["net_input"]["src_tokens"]
    for b, nbest in enumerate(hypos):
        rescored = sorted(float(teacher_forced_mean(reranker, src[b], h["tokens"])) for h in every[b])[::-1]
        assert len(nbest) == 2
        assert torch.allclose(torch.tensor([float(h["score"]) for h in nbest]), torch.tensor(rescored[:2]), atol=1e-4)


def test_build_generator_with_a_reranker(classify, reranker, tiny_bert_dir):
    from bnb_fairseq.tasks.bnb_seq2seq import BnbSeq2SeqConfig, BnbSeq2SeqTask

    model, d = classify
    task = BnbSeq2SeqTask(BnbSeq2SeqConfig(), d, d)
    args = argparse.Namespace(nbest=1, iter_decode_with_beam=3)
    with pytest.raises(ValueError, match="pass --iter-decode-with-external-reranker"):
        task.build_generator([model, reranker], args)
    rerank = argparse.Namespace(nbest=1, iter_decode_with_beam=3, iter_decode_with_external_reranker=True)
    gen = task.build_generator([model, reranker], rerank)
    assert isinstance(gen, ParallelGenerator) and gen.reranking
    for models in ([reranker, model], [model], [reranker]):
        with pytest.raises(ValueError, match="needs the BnB model.s. first and one autoregressive model"):
            task.build_generator(models, rerank)
    # a stored generation config holding fairseq's default of 10 passes (a checkpoint saved before the
    # task declared the option) is no request; an explicit count is
    ctc, _ = build_bnb(tiny_bert_dir, length_control="ctc")
    assert task.build_generator([ctc], argparse.Namespace(iter_decode_max_iter=10)).max_iter == 0
    assert task.build_generator([model], argparse.Namespace(iter_decode_max_iter=3)).max_iter == 3
    with pytest.raises(ValueError, match="mask-predict refinement needs"):
        task.build_generator([ctc], argparse.Namespace(iter_decode_max_iter=3))


def side_by_side(runs):
    """Run the command lines (args, stdin text) at once, one thread each; their outputs."""
    env = dict(os.environ, PYTHONPATH=ROOT, TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    procs = [
        (
            subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            text,
        )
        for args, text in runs
    ]
    outs = []
    for proc, text in procs:
        out, err = proc.communicate(text, timeout=600)
        assert proc.returncode == 0, f"{' '.join(proc.args)}:\n{out[-2000:]}\n{err[-3000:]}"
        outs.append(out)
    return outs


@pytest.fixture(scope="module")
def trained_pair(demo_data, tiny_classify, tiny_b2b):
    """A tiny classify BnB and a tiny bert2bert (the session's), trained on the same binarized slice."""
    return demo_data, tiny_classify.checkpoint, tiny_b2b.checkpoint


@pytest.mark.slow
def test_generate_and_interactive_rerank_every_input(trained_pair):
    """BnB candidates (3 lengths, 2 refinement passes) reranked by bert2bert: every sentence of the test
    split at batch size 3, and every raw line, the empty one included."""
    data, bnb, ar = trained_pair
    decode = [
        "--user-dir",
        "bnb_fairseq",
        "--task",
        "bnb_seq2seq",
        "-s",
        "es",
        "-t",
        "en",
        "--path",
        f"{bnb}:{ar}",
        "--iter-decode-with-external-reranker",
        "--iter-decode-with-beam",
        "3",
        "--iter-decode-max-iter",
        "2",
        "--batch-size",
        "3",
        "--bpe",
        "bert_wordpiece",
        "--num-workers",
        "0",
    ]
    with open(f"{data.raw}/test.es", encoding="utf-8") as f:
        lines = [next(f).rstrip("\n") for _ in range(2)]
    generated, interactive = side_by_side(
        [
            (["fairseq-generate", str(data.bin), "--gen-subset", "test", "--retain-iter-history", *decode], None),
            (["fairseq-interactive", str(data.bin), "--buffer-size", "3", *decode], f"{lines[0]}\n\n{lines[1]}\n"),
        ]
    )
    ids = sorted(int(m) for m in re.findall(r"^H-(\d+)\t", generated, re.M))
    assert ids == list(range(DEMO_N_TEST)), generated[-2000:]
    history = re.findall(r"^E-(\d+)_(\d+)\t", generated, re.M)
    assert {int(i) for i, _ in history} == set(range(DEMO_N_TEST)) and max(int(s) for _, s in history) <= 2
    assert "[SEP]" not in "".join(re.findall(r"^D-.*$", generated, re.M))
    assert sorted(int(m) for m in re.findall(r"^H-(\d+)\t", interactive, re.M)) == [0, 1, 2], interactive
