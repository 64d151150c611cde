"""The autoregressive BERT2BERT baseline: weight loading, causal decoding with a key/value cache,
and fairseq's SequenceGenerator and CLIs on it."""

import argparse
import logging

import pytest
import torch
from conftest import CLS, DEMO_N_TEST, NO_DROPOUT, PAD, SEP, right_pad, run_cli

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.models.bert2bert import Bert2BertModel, bert2bert_small


def build(bert_dir, **overrides):
    cfg = argparse.Namespace(bert_checkpoint=bert_dir, **{**NO_DROPOUT, **overrides})
    bert2bert_small(cfg)
    d = BertDictionary.load(bert_dir)
    model = Bert2BertModel.build_model(cfg, argparse.Namespace(source_dictionary=d, target_dictionary=d))
    return model.eval(), d


def sentences(lengths, seed):
    g = torch.Generator().manual_seed(seed)
    return [[CLS] + torch.randint(1000, 29000, (n - 2,), generator=g).tolist() + [SEP] for n in lengths]


@pytest.fixture(scope="module")
def tiny(tiny_bert_dir):
    return build(tiny_bert_dir)


@pytest.mark.parametrize("init", ["self", "random"])
def test_weights_come_from_bert(tiny_bert_dir, caplog, init):
    """Everything but the MLM head (absent from the tiny checkpoint) comes from BERT; cross-attention
    starts as a copy of self-attention (the default) or fresh."""
    from transformers import BertModel

    with caplog.at_level(logging.INFO):
        model, _ = build(tiny_bert_dir, decoder_layers=1, cross_attention_init=init)
    hf = BertModel.from_pretrained(tiny_bert_dir)
    layer = model.decoder.encoder.layer[0]
    assert torch.equal(layer.attention.self.query.weight, hf.encoder.layer[0].attention.self.query.weight)
    assert torch.equal(model.decoder.embeddings.word_embeddings.weight, hf.embeddings.word_embeddings.weight)
    copied = torch.equal(layer.crossattention.self.key.weight, hf.encoder.layer[0].attention.self.key.weight)
    assert copied == (init == "self")
    fresh = [r.getMessage() for r in caplog.records if "(decoder), freshly initialised" in r.getMessage()]
    assert len(fresh) == 1
    names = fresh[0].split(": ", 1)[1].split(", ")
    assert any(n.startswith("lm_head.") for n in names)
    assert all(n.startswith("lm_head.") or (init == "random" and ".crossattention." in n) for n in names), names
    assert len(model.decoder.encoder.layer) == 1


def test_decoder_is_causal(tiny):
    model, _ = tiny
    src = right_pad(sentences([9, 6], seed=1))
    enc = model.encoder(src)
    prev = right_pad(sentences([8, 8], seed=2))
    changed = prev.clone()
    changed[:, 5:] = 2000
    a, _ = model.decoder(prev, encoder_out=enc)
    b, _ = model.decoder(changed, encoder_out=enc)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-5)
    assert not torch.allclose(a[:, 5:], b[:, 5:], atol=1e-3)


def test_incremental_decoding_equals_teacher_forcing(tiny):
    model, _ = tiny
    src = right_pad(sentences([11, 7, 9], seed=3))
    enc = model.encoder(src)
    prev = torch.tensor(sentences([10, 10, 10], seed=4))
    full = model.get_normalized_probs(model.decoder(prev, encoder_out=enc), log_probs=True)
    state = {}
    steps = []
    for t in range(1, prev.size(1) + 1):
        out = model.decoder(prev[:, :t], encoder_out=enc, incremental_state=state)
        steps.append(model.get_normalized_probs(out, log_probs=True))
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-4)
    # beam search reorders the cache: reordering the batch must equal decoding the reordered batch
    order = torch.tensor([2, 0, 0])
    state = {}
    for t in range(1, 5):
        model.decoder(prev[:, :t], encoder_out=enc, incremental_state=state)
    model.decoder.reorder_incremental_state_scripting(state, order)
    enc2 = model.encoder.reorder_encoder_out(enc, order)
    step = model.decoder(prev[order, :5], encoder_out=enc2, incremental_state=state)
    assert torch.allclose(model.get_normalized_probs(step, log_probs=True)[:, 0], full[order, 4], atol=1e-4)


def test_training_targets_drop_cls(tiny):
    model, _ = tiny
    target = right_pad([[CLS, 2000, 2001, SEP], [CLS, 2002, SEP]])
    sample = {"target": target}
    assert model.get_targets(sample, None).tolist() == [[2000, 2001, SEP], [2002, SEP, PAD]]


def test_sequence_generator_beam_search(tiny):
    """fairseq's SequenceGenerator, started from [CLS] by the task, scores hypotheses as the model does."""
    from fairseq.sequence_generator import SequenceGenerator

    model, d = tiny
    src = right_pad(sentences([9, 12], seed=5))
    gen = SequenceGenerator([model], d, beam_size=4, max_len_a=0, max_len_b=6, normalize_scores=False)
    sample = {"net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)}}
    hypos = gen.generate([model], sample, bos_token=CLS)
    for b, nbest in enumerate(hypos):
        assert len(nbest) == 4
        best = nbest[0]
        prev = torch.cat([torch.tensor([CLS]), best["tokens"][:-1]])[None]
        enc = model.encoder(src[b : b + 1, : int(src[b].ne(PAD).sum())])
        lp = model.get_normalized_probs(model.decoder(prev, encoder_out=enc), log_probs=True)[0]
        expected = lp.gather(1, best["tokens"][:, None]).squeeze(1)
        assert torch.allclose(best["positional_scores"], expected, atol=1e-4)


@pytest.fixture(scope="module")
def trained(tiny_b2b, demo_data):
    """The session's tiny bert2bert (conftest.tiny_b2b: 24 updates on the shared demo slice, --eval-bleu)."""
    return tiny_b2b.save_dir, demo_data, tiny_b2b.log


@pytest.mark.slow
def test_train_and_generate_with_beam(trained):
    ckpt, data, log = trained
    losses = [float(x) for x in __import__("re").findall(r"\| loss (\d+\.\d+)", log)]
    assert len(losses) >= 2 and losses[-1] < losses[0], log[-2000:]
    assert "valid on 'valid' subset" in log and "| bleu " in log
    out = run_cli(
        [
            "fairseq-generate",
            str(data.bin),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(ckpt / "checkpoint_last.pt"),
            "--gen-subset",
            "test",
            "--beam",
            "4",
            "--nbest",
            "2",
            "--batch-size",
            "3",
            "--max-len-a",
            "1",
            "--max-len-b",
            "5",
            "--bpe",
            "bert_wordpiece",
        ]
    ).stdout
    ids = sorted(int(line.split("\t")[0][2:]) for line in out.splitlines() if line.startswith("D-"))
    assert ids == sorted(list(range(DEMO_N_TEST)) * 2)  # every sentence, two hypotheses each
    assert "[CLS]" not in out.split("Generate test")[0]


@pytest.mark.slow
def test_from_pretrained_translates_raw_text(trained):
    """fairseq's hub interface finds the tokenizer beside the data; beam search answers every line."""
    from bnb_fairseq.models.bert2bert import Bert2BertModel

    ckpt, data, _ = trained
    model = Bert2BertModel.from_pretrained(
        str(ckpt), checkpoint_file="checkpoint_last.pt", data_name_or_path=str(data.bin)
    )
    with open(f"{data.raw}/test.es", encoding="utf-8") as f:
        lines = [next(f).rstrip("\n") for _ in range(3)]
    out = model.translate(lines + [""], beam=2, max_len_a=1, max_len_b=5)
    assert len(out) == 4 and all(isinstance(t, str) for t in out)
    nbest = model.generate([model.encode(lines[0])], beam=3, nbest=3, max_len_a=1, max_len_b=5)
    assert len(nbest) == 1 and len(nbest[0]) == 3
    scores = [float(h["score"]) for h in nbest[0]]
    assert scores == sorted(scores, reverse=True)
