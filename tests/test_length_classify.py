"""Length classification (--length-control classify): offset classes, the Gaussian length converter,
the bnb_nat criterion, the length beam of the parallel generator, and the CLIs end to end."""

import argparse
import math
import re

import pytest
import torch
import torch.nn.functional as F
from conftest import CLS, DEMO_N_TEST, NO_DROPOUT, PAD, SEP, right_pad, run_cli

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.criterions.bnb_ctc import BnbCtcConfig, BnbCtcCriterion
from bnb_fairseq.criterions.bnb_nat import BnbNatConfig, BnbNatCriterion
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.models.bnb import BnbModel, bnb_small
from bnb_fairseq.modules import (
    GaussianLengthConverter,
    class_lengths,
    gather_rows,
    length_candidates,
    length_offset_classes,
    source_positions,
)

SRC = [[CLS, 7592, 2088, 2003, SEP], [CLS, 2129, 2024, 2017, 2725, 2651, 1012, SEP]]
TGT = [[CLS, 2023, 2003, 1037, 3231, 2748, SEP], [CLS, 2748, 2003, SEP]]
K = 16


def build(bert_dir, seed=0, **overrides):
    torch.manual_seed(seed)
    cfg = argparse.Namespace(
        bert_checkpoint=bert_dir,
        **{**NO_DROPOUT, "output_vocab": "full", "length_control": "classify", "length_classes": K, **overrides},
    )
    bnb_small(cfg)
    d = BertDictionary.load(bert_dir)
    task = argparse.Namespace(source_dictionary=d, target_dictionary=d)
    model = BnbModel.build_model(cfg, task)
    model.decoder.set_output_vocab([2023, 2003, 1037, 3231, 2748])  # a small softmax: fast
    return model.eval(), task


@pytest.fixture(scope="module")
def classify(tiny_bert_dir):
    return build(tiny_bert_dir)


def make_sample():
    src, tgt = right_pad(SRC), right_pad(TGT)
    return {
        "id": torch.arange(2),
        "nsentences": 2,
        "ntokens": int(tgt.ne(PAD).sum()),
        "target": tgt,
        "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)},
    }


def test_offset_classes_and_clamping():
    src = torch.tensor([5, 5, 5, 5])
    tgt = torch.tensor([7, 5, 300, 1])
    assert length_offset_classes(src, tgt, 8).tolist() == [6, 4, 7, 0]  # 7 - 5 + 8//2 = 6; clamped ends
    assert length_offset_classes(src, tgt, 256).tolist() == [130, 128, 255, 124]
    # back to lengths: class - K//2 + source length, at least 2, at most the decoder's positions
    assert class_lengths(torch.tensor([6, 4, 0, 7]), src, 8, max_len=6).tolist() == [6, 5, 2, 6]
    # candidates: classes below length 2 are dropped, those beyond the decoder pool at its last length
    lp = torch.log(torch.tensor([[0.3, 0.2, 0.1, 0.05, 0.15, 0.07, 0.08, 0.05]]))  # K = 8, source 3
    lengths, scores = length_candidates(lp, torch.tensor([3]), 3, max_len=5)
    assert lengths.tolist() == [[3, 5, 4]]  # classes 0..7 -> lengths -1 0 1 | 2 3 4 5 (6 -> 5)
    assert torch.allclose(scores.exp(), torch.tensor([[0.15, 0.13, 0.07]]))
    lengths, _ = length_candidates(lp, torch.tensor([3]), 10, max_len=5)
    assert lengths.tolist() == [[3, 5, 4, 2]]  # no more lengths than there are


def test_gaussian_converter_weights():
    conv = GaussianLengthConverter()
    assert conv.log_sigma.item() == 0.0  # sigma starts at 1
    src_lengths, out_lengths = torch.tensor([5, 3]), torch.tensor([7, 4])
    pos, _ = source_positions(src_lengths, out_lengths)
    w = conv.weights(pos, src_lengths, 5)
    assert w.shape == (2, 7, 5)
    assert torch.allclose(w.sum(-1), torch.ones(2, 7))
    assert (w[1, :, 3:] == 0).all()  # padding source positions get no weight
    assert torch.allclose(pos[0, :7], torch.arange(7) * 5 / 7)  # mu_j = j S / T
    with torch.no_grad():
        conv.log_sigma.fill_(math.log(0.05))
    w = conv.weights(pos, src_lengths, 5)
    for b, t in ((0, 7), (1, 4)):
        for j in range(t):
            mu = float(pos[b, j])
            if abs(mu - math.floor(mu) - 0.5) > 0.2:  # away from a tie between two positions
                assert w[b, j].argmax() == round(mu) and w[b, j].max() > 0.99
    # sigma is learnt
    conv = GaussianLengthConverter()
    x = torch.randn(2, 5, 3)
    (conv(x, conv.weights(pos, src_lengths, 5)) ** 2).sum().backward()
    assert conv.log_sigma.grad is not None and conv.log_sigma.grad.abs() > 0


@pytest.mark.parametrize("converter", ["gaussian", "nearest", "linear"])
def test_decoder_input_goes_through_the_converter(tiny_bert_dir, converter):
    model, _ = build(tiny_bert_dir, length_converter=converter)
    assert (model.decoder.length_converter is not None) == (converter == "gaussian")
    sample = make_sample()
    src = sample["net_input"]["src_tokens"]
    out_lengths = torch.tensor([7, 4])
    seen = {}
    original = model.decoder.embeddings.forward

    def spy(tokens=None, inputs_embeds=None, position_embeds=None):
        seen["inputs"] = inputs_embeds
        return original(tokens, inputs_embeds, position_embeds)

    model.decoder.embeddings.forward = spy
    with torch.no_grad():
        logits, extra = model(src, out_lengths=out_lengths)
        h = model.encoder(src)["encoder_out"][0]
    del model.decoder.embeddings.forward
    assert logits.shape[:2] == (2, 7) and extra["out_lengths"].tolist() == [7, 4]
    assert extra["length_logits"].shape == (2, K)
    src_lengths = src.ne(PAD).sum(1)
    pos, _ = source_positions(src_lengths, out_lengths)
    if converter == "gaussian":
        w = model.decoder.length_converter.weights(pos, src_lengths, src.size(1))
        convert = lambda x: torch.bmm(w, x)  # noqa: E731
    else:
        convert = lambda x: gather_rows(x, pos, (src_lengths - 1)[:, None], converter)  # noqa: E731
    dec = model.decoder
    with torch.no_grad():
        expected = F.gelu(dec.latent_in(convert(dec.latent(h)))) + convert(h)
    assert torch.allclose(seen["inputs"], expected, atol=1e-5)


def test_stop_gradient_keeps_the_length_loss_out_of_the_encoder(tiny_bert_dir):
    src = right_pad(SRC)
    for stop in (False, True):
        model, _ = build(tiny_bert_dir, sg_length_pred=stop)
        model.train()
        logits = model.decoder.length_logits(model.encoder(src))
        F.cross_entropy(logits, torch.tensor([3, 9])).backward()
        enc_grads = [p.grad for p in model.encoder.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
        assert bool(enc_grads) != stop
        assert model.decoder.length_classifier.proj.weight.grad.abs().sum() > 0


def test_criterion(classify, tiny_bert_dir):
    model, task = classify
    sample = make_sample()
    seen = []
    original = model.decoder.forward

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out[1]["out_lengths"].tolist())
        return out

    model.decoder.forward = spy
    try:
        loss, sample_size, log = BnbNatCriterion(BnbNatConfig(), task)(model, sample)
        per_sentence, _, _ = BnbNatCriterion(BnbNatConfig(), task)(model, sample, reduce=False)
    finally:
        del model.decoder.forward
    assert seen[0] == [7, 4]  # teacher-forced: as many slots as the target has tokens
    assert torch.isfinite(loss) and sample_size == sample["ntokens"] == 11
    assert {"loss", "nll_loss", "length", "length_correct", "ntokens", "nsentences", "sample_size"} <= set(log)
    assert log["nsentences"] == 2 and 0 <= int(log["length_correct"]) <= 2
    assert per_sentence.shape == (2,) and torch.allclose(per_sentence.sum(), loss)

    # the length term is length_loss_factor x the mean length cross-entropy per sentence, per token
    losses = {f: BnbNatCriterion(BnbNatConfig(length_loss_factor=f), task)(model, sample)[0] for f in (0.0, 1.0, 2.0)}
    assert torch.allclose(losses[2.0] - losses[0.0], 2 * (losses[1.0] - losses[0.0]), atol=1e-4)
    assert torch.allclose(losses[1.0] - losses[0.0], log["length"] * 11 / 2, atol=1e-4)
    # without smoothing the token term is the plain NLL
    plain, _, plain_log = BnbNatCriterion(BnbNatConfig(label_smoothing=0.0, length_loss_factor=0.0), task)(
        model, sample
    )
    assert torch.allclose(plain, plain_log["nll_loss"])

    # each criterion refuses the other length control
    ctc, ctc_task = build(tiny_bert_dir, length_control="ctc")
    assert not any(k.startswith("decoder.length_") for k in ctc.state_dict())
    with pytest.raises(ValueError, match="--criterion bnb_nat needs --length-control classify"):
        BnbNatCriterion(BnbNatConfig(), ctc_task)(ctc, sample)
    with pytest.raises(ValueError, match="--criterion bnb_ctc needs --length-control ctc"):
        BnbCtcCriterion(BnbCtcConfig(), task)(model, sample)


def test_refinement_training_inputs(classify):
    """CMLM-style training: a refinement sentence sees gold words at unmasked slots and is scored only at
    its 1..T masked ones; a first-pass sentence gets [PAD] everywhere, which adds no word input."""
    model, task = classify
    crit = BnbNatCriterion(BnbNatConfig(refinement_training=0.5), task)
    mask_idx = task.target_dictionary.mask()
    target = right_pad([[CLS] + list(range(2000, 2000 + n)) + [SEP] for n in (9, 3, 14, 1)] * 50)
    real = target.ne(PAD)
    lengths = real.sum(1)
    torch.manual_seed(0)
    prev, scored = crit.refinement_inputs(target, real, lengths)
    refine = prev.ne(PAD).any(1)
    assert 0.35 < refine.float().mean() < 0.65  # about the fraction asked for
    masked = prev.eq(mask_idx)
    assert masked[refine].any(1).all() and not masked[~refine].any()
    n = masked.sum(1)[refine]
    assert (n >= 1).all() and (n <= lengths[refine]).all()
    assert len(set(n.tolist())) > 5  # n is drawn per sentence, not fixed
    assert prev[refine].eq(torch.where(masked, mask_idx, target)[refine].masked_fill(~real[refine], PAD)).all()
    assert scored[refine].equal(masked[refine]) and scored[~refine].equal(real[~refine])
    torch.manual_seed(0)
    again = crit.refinement_inputs(target, real, lengths)
    assert again[0].equal(prev) and again[1].equal(scored)

    # a [PAD] row is exactly a first pass (no prev_tokens)
    sample = make_sample()
    enc = model.encoder(**sample["net_input"])
    lengths = torch.tensor([7, 4])
    with torch.no_grad():
        none, _ = model.decoder(None, encoder_out=enc, out_lengths=lengths)
        pads, _ = model.decoder(None, encoder_out=enc, out_lengths=lengths, prev_tokens=torch.full((2, 7), PAD))
        words, _ = model.decoder(None, encoder_out=enc, out_lengths=lengths, prev_tokens=right_pad(TGT))
    assert torch.equal(none, pads) and not torch.allclose(none, words)

    # in training, the loss is over the scored slots only
    model.train()
    try:
        torch.manual_seed(1)
        loss, sample_size, log = BnbNatCriterion(BnbNatConfig(refinement_training=1.0), task)(model, sample)
    finally:
        model.eval()
    assert torch.isfinite(loss) and 2 <= sample_size < sample["ntokens"] and log["ntokens"] == sample_size
    with pytest.raises(ValueError, match="--refinement-training 1.5"):
        BnbNatCriterion(BnbNatConfig(refinement_training=1.5), task)


def forced_length_head(model, offsets):
    """Length logits that rank the classes of ``offsets`` first, in that order, for every sentence."""
    head = model.decoder.length_classifier.proj
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        for rank, off in enumerate(offsets):
            head.bias[K // 2 + off] = 10.0 - rank


def test_length_beam(tiny_bert_dir):
    model, task = build(tiny_bert_dir)
    d = task.target_dictionary
    offsets = [2, -1, 4]
    forced_length_head(model, offsets)
    sample = make_sample()
    src_lengths = sample["net_input"]["src_lengths"]
    seen = []
    original = model.decoder.forward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("out_lengths"))
        return original(*args, **kwargs)

    model.decoder.forward = spy
    try:
        hypos = ParallelGenerator(d, length_beam=3, nbest=3).generate([model], sample)
    finally:
        del model.decoder.forward
    assert len(seen) == 1  # every candidate of every sentence in one decoder pass
    expected = [[int(s) + off for off in offsets] for s in src_lengths]
    assert seen[0].tolist() == [n for row in expected for n in row]

    specials = {CLS, SEP, PAD, 100}  # and [UNK], dropped by the default --unk-policy drop
    with torch.no_grad():
        enc = model.encoder(sample["net_input"]["src_tokens"])
    most_probable = []
    for b, nbest in enumerate(hypos):
        assert len(nbest) == 3
        scores = [float(h["score"]) for h in nbest]
        assert scores == sorted(scores, reverse=True)
        for h in nbest:
            toks = h["tokens"].tolist()
            assert toks[-1] == SEP and not specials & set(toks[:-1])
            assert len(h["positional_scores"]) == len(toks) and h["steps"] == 0 and h["alignment"] is None
        # each candidate equals decoding that sentence alone at that length
        single = []
        for length in expected[b]:
            one = model.encoder.reorder_encoder_out(enc, torch.tensor([b]))
            with torch.no_grad():
                lp = model.get_normalized_probs(
                    model.decoder(None, encoder_out=one, out_lengths=torch.tensor([length])), log_probs=True
                )
            best, slots = lp[0].max(-1)
            toks = [t for t in model.decoder.output_tokens(slots).tolist() if t not in specials] + [SEP]
            single.append((float(best.mean()), toks))
        most_probable.append(single[0][1])
        single.sort(key=lambda x: -x[0])
        assert [h["tokens"].tolist() for h in nbest] == [t for _, t in single]
        assert torch.allclose(torch.tensor(scores), torch.tensor([s for s, _ in single]), atol=1e-5)

    # one length: the most probable one, as the model's own forward uses
    greedy = ParallelGenerator(d).generate([model], sample)
    assert [len(h) for h in greedy] == [1, 1]
    assert [h[0]["tokens"].tolist() for h in greedy] == most_probable
    with torch.no_grad():
        assert model(**sample["net_input"])[1]["out_lengths"].tolist() == [e[0] for e in expected]

    # slots that all predict a special token leave an empty hypothesis, closed by [SEP]
    with torch.no_grad():
        saved = model.decoder.lm_head.bias.clone()
        model.decoder.lm_head.bias[CLS] = 50.0
        try:
            empty = ParallelGenerator(d, length_beam=2).generate([model], sample)
        finally:
            model.decoder.lm_head.bias.copy_(saved)
    assert [h[0]["tokens"].tolist() for h in empty] == [[SEP], [SEP]]


def test_decoding_options_are_checked(classify, tiny_bert_dir):
    model, task = classify
    d = task.target_dictionary
    ctc, _ = build(tiny_bert_dir, length_control="ctc")
    with pytest.raises(ValueError, match="--iter-decode-with-beam 3 is a length beam for --length-control classify"):
        ParallelGenerator(d, length_beam=3).generate([ctc], make_sample())
    with pytest.raises(ValueError, match="classify model needs --iter-decode-with-beam 3 or more"):
        ParallelGenerator(d, length_beam=2, nbest=3)
    with pytest.raises(ValueError, match="--ctc-beam 4: CTC decoding options"):
        ParallelGenerator(d, ctc_beam=4).check_models([model])
    with pytest.raises(ValueError, match="--nbest 2 needs a CTC beam"):
        ParallelGenerator(d, nbest=2)
    with pytest.raises(ValueError, match="must share its --length-control"):
        ParallelGenerator(d).check_models([model, ctc])


@pytest.mark.slow
def test_train_and_generate_with_length_beam(tiny_classify, demo_data):
    """The session's tiny classify BnB (conftest.tiny_classify: refinement training, --eval-bleu at length beam 2)."""
    env = {"OMP_NUM_THREADS": "1"}
    log = tiny_classify.log
    valid = re.findall(r"valid on 'valid' subset .*$", log, re.M)
    assert valid and all(f"| {key} " in valid[-1] for key in ("nll_loss", "length", "length_acc", "bleu")), log[-3000:]
    out = run_cli(
        [
            "fairseq-generate",
            str(demo_data.bin),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(tiny_classify.checkpoint),
            "--gen-subset",
            "test",
            "--iter-decode-with-beam",
            "3",
            "--nbest",
            "2",
            "--batch-size",
            "3",
            "--bpe",
            "bert_wordpiece",
            "--num-workers",
            "0",
        ],
        env_extra=env,
    ).stdout
    ids = sorted(int(m) for m in re.findall(r"^H-(\d+)\t", out, re.M))
    assert ids == sorted(list(range(DEMO_N_TEST)) * 2), out[-2000:]
    assert "[CLS]" not in out.split("Generate test")[0] and "[SEP]" not in "".join(re.findall(r"^D-.*$", out, re.M))
