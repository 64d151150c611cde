"""--classify-ctc (a classified length sets the number of slots, CTC trains and decodes them) and --dedup."""

import itertools
import json
import math
import re

import pytest
import torch
import torch.nn.functional as F
from conftest import DEMO_MAX_LEN, DEMO_N_TEST, PAD, run_cli, run_generate, starts_early, train_tiny
from test_aligned_xent import glancing_passes
from test_length_classify import build, make_sample
from test_token_dependencies import generate

from bnb_fairseq.criterions.bnb_nat import BnbNatConfig, BnbNatCriterion
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.models.bnb import BnbModel


def test_the_model_refuses_what_cannot_work(tiny_bert_dir):
    with pytest.raises(ValueError, match="--classify-ctc .* needs --length-control classify"):
        build(tiny_bert_dir, length_control="ctc", classify_ctc=True)
    with pytest.raises(ValueError, match="--classify-ctc with --length-slot-ratio 1: CTC needs more frames"):
        build(tiny_bert_dir, classify_ctc=True)
    model, task = build(tiny_bert_dir, classify_ctc=True, length_slot_ratio=2.0)
    assert model.decoder.merges_repeats and not model.decoder.supports_refinement
    plain, _ = build(tiny_bert_dir, length_slot_ratio=2.0)
    assert not plain.decoder.merges_repeats and plain.decoder.ensemble_key() != model.decoder.ensemble_key()
    for option in ({"axe": True}, {"refinement_training": 0.5}):
        with pytest.raises(ValueError, match="with a --classify-ctc model"):
            BnbNatCriterion(BnbNatConfig(**option), task)(model, make_sample())


def test_the_loss_is_ctc_over_the_slots(tiny_bert_dir):
    model, task = build(tiny_bert_dir, classify_ctc=True, length_slot_ratio=2.0)
    sample = make_sample()
    criterion = BnbNatCriterion(BnbNatConfig(label_smoothing=0.0, length_loss_factor=0.0), task)
    with torch.no_grad():
        loss, n, log, parts = criterion.compute(model, sample)
    lengths = sample["target"].ne(PAD).sum(1)
    frames = parts["net_output"][1]["out_lengths"]
    assert frames.tolist() == (2 * lengths).tolist() and n == int(lengths.sum())
    # the same CTC loss, computed here from the pass's log-probabilities
    lprobs = parts["lprobs"]
    targets = model.decoder.output_index(sample["target"])
    expected = F.ctc_loss(
        lprobs.transpose(0, 1), targets, frames, lengths, blank=model.decoder.blank_slot, reduction="sum"
    )
    assert math.isclose(float(loss), float(expected), rel_tol=1e-5)
    # it trains the decoder and the length classifier; a CRF scores the best alignment
    model.train()
    BnbNatCriterion(BnbNatConfig(), task)(model, sample)[0].backward()
    assert model.decoder.lm_head.bias.grad.abs().sum() > 0
    assert model.decoder.length_classifier.proj.weight.grad.abs().sum() > 0
    crf_model, _ = build(
        tiny_bert_dir, classify_ctc=True, length_slot_ratio=2.0, crf_lowrank_approx=4, crf_beam_approx=3
    )
    grads = []
    for factor in (0.0, 1.0):  # the CRF learns its transitions; the frames learn from CTC alone
        crf_model.zero_grad()
        torch.manual_seed(1)
        loss, _, log = BnbNatCriterion(BnbNatConfig(crf_loss_factor=factor), task)(crf_model.train(), sample)
        loss.backward()
        grads.append(crf_model.decoder.lm_head.bias.grad.clone())
    assert float(log["crf"]) > 0 and crf_model.decoder.crf.E2.weight.grad.abs().sum() > 0
    assert torch.allclose(grads[0], grads[1])


def test_the_label_prior_trains_the_slots_as_it_trains_ctc_frames(tiny_bert_dir):
    """--ctc-prior-weight with --classify-ctc: CTC over the slots' log p - alpha x log of the first training
    batch's mean slot posterior; refused for slots that are not CTC frames."""
    model, task = build(tiny_bert_dir, classify_ctc=True, length_slot_ratio=2.0)
    sample = make_sample()
    config = dict(label_smoothing=0.0, length_loss_factor=0.0)
    with torch.no_grad():
        plain, _, _, parts = BnbNatCriterion(BnbNatConfig(**config), task).compute(model.eval(), sample)
        criterion = BnbNatCriterion(BnbNatConfig(ctc_prior_weight=0.5, **config), task)
        assert float(criterion.compute(model, sample)[0]) == float(plain)  # no prior before a training batch
        loss = criterion.compute(model.train(), sample)[0]  # tiny models have no dropout: the same pass
    lprobs, padding_mask = parts["lprobs"], parts["net_output"][1]["padding_mask"]
    mean = lprobs.exp()[~padding_mask].mean(0)
    assert torch.allclose(criterion.prior.log_prior.exp(), mean, atol=1e-6)
    targets = model.decoder.output_index(sample["target"])
    expected = F.ctc_loss(
        (lprobs - 0.5 * mean.log()).transpose(0, 1),
        targets,
        (~padding_mask).sum(1),
        sample["target"].ne(PAD).sum(1),
        blank=model.decoder.blank_slot,
        reduction="sum",
    )
    assert math.isclose(float(loss), float(expected), rel_tol=1e-5) and float(loss) != pytest.approx(float(plain))
    slots, _ = build(tiny_bert_dir, length_slot_ratio=2.0)
    with pytest.raises(ValueError, match="--ctc-train-blank-penalty train CTC frames: they need a --classify-ctc"):
        BnbNatCriterion(BnbNatConfig(ctc_prior_weight=0.5, axe=True), task)(slots, sample)


def test_glancing_reads_words_of_the_best_alignment(tiny_bert_dir):
    model, task = build(tiny_bert_dir, classify_ctc=True, length_slot_ratio=2.0)
    sample = make_sample()
    (_, n, log), seen = glancing_passes(model, BnbNatCriterion(BnbNatConfig(glat_ratio=1.0), task), sample)
    assert seen[0] is None and seen[1] is not None and float(log["glanced"]) > 0
    for given, target in zip(seen[1].tolist(), sample["target"].tolist()):
        # a word aligned to several frames may be glanced at some of them: merged, they follow the target
        words = [w for w, _ in itertools.groupby(w for w in given if w != PAD)]
        gold = iter(w for w in target if w != PAD)
        assert words and all(any(w == g for g in gold) for w in words)  # target words in target order


def test_aligned_steps_for_janus(tiny_bert_dir):
    model, task = build(tiny_bert_dir, classify_ctc=True, length_slot_ratio=2.0)
    sample = make_sample()
    with torch.no_grad():
        _, _, _, parts = BnbNatCriterion(BnbNatConfig(), task).compute(model, sample, align=True)
    for b, n in enumerate(sample["target"].ne(PAD).sum(1).tolist()):
        steps = [s for s, _ in itertools.groupby(parts["aligned_steps"][b].tolist()) if s >= 0]
        assert steps == sorted(set(steps)) and all(0 <= s < n - 1 for s in steps)


def scripted_decoding(model, *generators):
    """Decode the test sample with each generator, slot j's argmax forced to ``pattern[j]`` (the model's own
    logits plus a large margin): (pattern, each sentence's number of slots, each generator's hypotheses)."""
    decoder = model.decoder
    a, b = 2023, 2003
    pattern = [a, a, decoder.blank_idx, a, b, b, decoder.blank_idx, b, a, a]
    forward = decoder.forward

    def scripted_forward(*args, **kwargs):
        logits, extra = forward(*args, **kwargs)
        slots = decoder.output_index(torch.tensor(pattern * 20))[: logits.size(1)]
        return logits + 30.0 * F.one_hot(slots, logits.size(-1))[None], extra

    decoder.forward = scripted_forward
    sample = make_sample()
    try:
        with torch.no_grad():
            slots = model(**sample["net_input"])[1]["out_lengths"].tolist()
            return pattern, slots, [g.generate([model], sample) for g in generators]
    finally:
        del decoder.forward


def test_decoding_merges_repeats_and_drops_blanks(tiny_bert_dir):
    model, task = build(tiny_bert_dir, classify_ctc=True, length_slot_ratio=2.0)
    d, decoder = task.target_dictionary, model.decoder
    pattern, frames, (hypos,) = scripted_decoding(model, ParallelGenerator(d))
    with pytest.raises(ValueError, match="without --classify-ctc"):
        ParallelGenerator(d, max_iter=2).generate([model], make_sample())
    for n, nbest in zip(frames, hypos):
        merged = [w for w, _ in itertools.groupby(pattern[:n]) if w != decoder.blank_idx]
        assert nbest[0]["tokens"].tolist() == merged + [d.eos()]


def test_dedup_merges_the_repeats_of_a_classify_model(tiny_bert_dir):
    model, task = build(tiny_bert_dir)
    d, decoder = task.target_dictionary, model.decoder
    pattern, slots, (plain, dedup) = scripted_decoding(model, ParallelGenerator(d), ParallelGenerator(d, dedup=True))
    for n, one, merged in zip(slots, plain, dedup):
        words = [w for w in pattern[:n] if w != decoder.blank_idx]  # one word per slot, blanks dropped
        assert one[0]["tokens"].tolist() == words + [d.eos()]
        # --dedup: runs of a word merge, across dropped blanks too, each keeping its first score
        runs = [w for w, _ in itertools.groupby(words)]
        assert merged[0]["tokens"].tolist() == runs + [d.eos()]
        firsts = [i for i in range(len(words)) if i == 0 or words[i] != words[i - 1]]
        assert torch.equal(merged[0]["positional_scores"][:-1], one[0]["positional_scores"][firsts])


@starts_early("classify_ctc_model")
def train_classify_ctc(tmp_path_factory, demo_data, tiny_bert_dir):
    return train_tiny(
        tmp_path_factory,
        "tiny_classify_ctc",
        demo_data,
        tiny_bert_dir,
        *("--arch", "bnb_small", "--length-control", "classify", "--classify-ctc", "--length-slot-ratio", "1.5"),
        *("--crf-lowrank-approx", "8", "--crf-beam-approx", "8", "--criterion", "bnb_nat", "--glat-ratio", "0.5"),
        *("--optimizer", "adam", "--lr", "1e-3", "--batch-size", "8", "--max-update", "4", "--disable-validation"),
        *("--log-format", "simple", "--log-interval", "2"),
    )


@pytest.fixture(scope="module")
def classify_ctc_model(background, request):
    """A tiny --classify-ctc model with a CRF, trained 4 updates by fairseq-train with glancing (started early)."""
    return background.result(train_classify_ctc, request)


@pytest.mark.slow
def test_a_classify_ctc_model_through_fairseq_generate_and_the_python_api(classify_ctc_model, demo_data):
    trained = classify_ctc_model
    inner = re.findall(r"train_inner \|.*$", trained.log, re.M)
    assert inner and all("crf=" in line and "glanced=" in line for line in inner), trained.log[-3000:]
    options = ("--iter-decode-with-beam", "2", "--ctc-blank-penalty", "1", "--batch-size", "1")
    hypos = generate(demo_data, trained.checkpoint, *options)
    assert sorted(hypos) == list(range(DEMO_N_TEST))
    refused = run_generate(demo_data, trained.checkpoint, "--iter-decode-max-iter", "2", check=False)
    assert refused.returncode != 0 and "without --classify-ctc" in refused.stderr
    hub = BnbModel.from_pretrained(
        str(trained.save_dir), checkpoint_file="checkpoint_last.pt", data_name_or_path=str(demo_data.bin)
    )
    lines = (demo_data.raw / "test.es").read_text(encoding="utf-8").splitlines()
    short = [i for i in range(DEMO_N_TEST) if len(hub.encode(lines[i])) < DEMO_MAX_LEN - 2]
    assert short and [hub.translate(lines[i], iter_decode_with_beam=2, ctc_blank_penalty=1.0) for i in short] == [
        hypos[i][0] for i in short
    ]


@pytest.mark.slow
def test_benchmark_rows_of_a_classify_ctc_model(classify_ctc_model, demo_data, tmp_path):
    out = tmp_path / "bench"
    env = {"DATA": str(demo_data.bin), "SRC": "es", "TGT": "en", "REFERENCE": f"{demo_data.raw}/test.en"}
    env.update(OUT=str(out), NAR=f"cctc={classify_ctc_model.checkpoint}", LENGTH_BEAM="2", REFINE="2", THREADS="1")
    run_cli(["bash", "examples/benchmark.sh", "--fast", "--no-cmlm"], env_extra=env)
    rows = json.loads((out / "results.json").read_text())["rows"]
    # no refinement row: a frame is not a token to re-mask
    assert [r["setting"] for r in rows] == [
        "cctc BnB length beam 1, CRF Viterbi",
        "cctc BnB length beam 2, CRF Viterbi",
        "cctc BnB length beam 1, slot argmax (CRF unused)",
        "cctc model-only floor",
    ]
    assert all(0 <= r["bleu"] <= 100 for r in rows if r["kind"] != "floor")
