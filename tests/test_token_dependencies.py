"""Token dependencies in one parallel pass: the CRF head (bnb --crf-lowrank-approx) in training and
decoding, glancing training (--glat-ratio) for both length controls, and sampling in the parallel
generator."""

import argparse
import json
import re
import sys

import pytest
import torch
from conftest import (
    CLS,
    DEMO_MAX_LEN,
    DEMO_N_TEST,
    PAD,
    SEP,
    run_cli,
    run_generate,
    run_interactive,
    starts_early,
    train_tiny,
)
from test_length_classify import build, make_sample

from bnb_fairseq.criterions.bnb_ctc import BnbCtcConfig, BnbCtcCriterion
from bnb_fairseq.criterions.bnb_nat import BnbNatConfig, BnbNatCriterion
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.generation.sampling import sample_slots
from bnb_fairseq.models.bnb import BnbModel
from bnb_fairseq.modules import ctc_best_alignment
from bnb_fairseq.modules.glancing import Glancing, GlancingConfig

SPECIALS = {CLS, SEP, PAD, 100}


def crf_model(bert_dir, seed=0, rank=4, beam=3):
    model, task = build(bert_dir, seed=seed, crf_lowrank_approx=rank, crf_beam_approx=beam)
    with torch.no_grad():  # transitions that matter (a fresh CRF starts at 0)
        model.decoder.crf.E2.weight.normal_(std=2.0)
        model.decoder.crf.E1.weight.normal_(std=2.0)
    return model, task


def test_crf_head_is_optional_and_refused_with_ctc(tiny_bert_dir):
    plain, _ = build(tiny_bert_dir)
    assert not plain.decoder.has_crf and not any(".crf." in k for k in plain.state_dict())
    model, _ = crf_model(tiny_bert_dir)
    assert model.decoder.has_crf
    assert {k for k in model.state_dict() if ".crf." in k} == {"decoder.crf.E1.weight", "decoder.crf.E2.weight"}
    # a checkpoint without a CRF loads into a model built from its config (no crf option there)
    state = plain.state_dict()
    rebuilt, _ = build(tiny_bert_dir)
    rebuilt.load_state_dict(state)
    with pytest.raises(ValueError, match="--crf-lowrank-approx 4: .*needs --length-control classify"):
        build(tiny_bert_dir, length_control="ctc", crf_lowrank_approx=4)


def test_bnb_nat_adds_the_crf_loss(tiny_bert_dir):
    model, task = crf_model(tiny_bert_dir)
    model.eval()
    sample = make_sample()
    losses = {f: BnbNatCriterion(BnbNatConfig(crf_loss_factor=f), task)(model, sample) for f in (0.0, 1.0, 2.0)}
    (l0, n, _), (l1, _, log1), (l2, _, _) = losses[0.0], losses[1.0], losses[2.0]
    assert torch.allclose(l2 - l0, 2 * (l1 - l0), atol=1e-4)
    assert float(l1 - l0) > 0 and torch.allclose(l1 - l0, log1["crf"], atol=1e-4)
    assert log1["target_tokens"] == n == 11
    # the CRF term is the negative log-likelihood of the gold sequences under the decoder's CRF
    target = sample["target"]
    with torch.no_grad():
        lengths = target.ne(PAD).sum(1)
        lprobs = model.get_normalized_probs(model(**sample["net_input"], out_lengths=lengths), log_probs=True)
        mask = target.ne(PAD)
        slots = model.decoder.output_index(target).masked_fill(~mask, 0)
        expected = -model.decoder.crf_log_likelihood(lprobs, slots, mask).sum()
    assert torch.allclose(log1["crf"], expected, atol=1e-4)
    # and it trains the transition tables
    model.train()
    model.zero_grad()
    BnbNatCriterion(BnbNatConfig(), task)(model, sample)[0].backward()
    assert model.decoder.crf.E1.weight.grad.abs().sum() > 0


def test_viterbi_in_the_length_beam(tiny_bert_dir):
    model, task = crf_model(tiny_bert_dir)
    d = task.target_dictionary
    sample = make_sample()
    hypos = ParallelGenerator(d, length_beam=2, nbest=2).generate([model], sample)
    argmax = ParallelGenerator(d, length_beam=2, nbest=2, crf_decode="argmax").generate([model], sample)
    with torch.no_grad():
        enc = model.encoder(sample["net_input"]["src_tokens"], src_lengths=sample["net_input"]["src_lengths"])
    differs = False
    for b, nbest in enumerate(hypos):
        scores = [float(h["score"]) for h in nbest]
        assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)
        for h in nbest:
            n = len(h["tokens"]) - 1
            one = model.encoder.reorder_encoder_out(enc, torch.tensor([b]))
            # the candidate's length is among the two most probable; decode it alone by Viterbi
            found = False
            for length in range(2, 20):
                with torch.no_grad():
                    out = model.decoder(None, encoder_out=one, out_lengths=torch.tensor([length]))
                    lp = model.get_normalized_probs(out, log_probs=True)
                    slots, path, log_z = model.decoder.crf_viterbi(lp, torch.ones(1, length, dtype=torch.bool))
                toks = [t for t in model.decoder.output_tokens(slots[0]).tolist() if t not in SPECIALS]
                if toks == h["tokens"][:n].tolist() and abs(float((path - log_z)[0]) / length - h["score"]) < 1e-5:
                    found = True
                    break
            assert found, h
        differs |= [h["tokens"].tolist() for h in nbest] != [h["tokens"].tolist() for h in argmax[b]]
    assert differs  # transitions of this size change the output


def test_crf_decode_beam_sets_the_candidates_per_slot(tiny_bert_dir):
    """--crf-decode-beam K decodes as the same model built with --crf-beam-approx K would."""
    model, task = crf_model(tiny_bert_dir, beam=3)
    d = task.target_dictionary
    sample = make_sample()
    narrow = ParallelGenerator(d, length_beam=2, nbest=2, crf_decode_beam=2).generate([model], sample)
    wide = ParallelGenerator(d, length_beam=2, nbest=2).generate([model], sample)
    model.decoder.crf.beam = 2
    built = ParallelGenerator(d, length_beam=2, nbest=2).generate([model], sample)
    flat = lambda hypos: [(h["tokens"].tolist(), round(float(h["score"]), 5)) for nbest in hypos for h in nbest]  # noqa: E731
    assert flat(narrow) == flat(built) != flat(wide)
    for bad in (1, -1):
        with pytest.raises(ValueError, match=f"--crf-decode-beam {bad}: give at least 2 candidates"):
            ParallelGenerator(d, crf_decode_beam=bad)


def test_crf_decoding_takes_16_candidates_unless_told(tiny_bert_dir):
    model, task = crf_model(tiny_bert_dir, beam=24)
    model.decoder.set_output_vocab(list(range(2000, 2040)))  # more output slots than candidates
    crf, sizes = model.decoder.crf, []
    candidates = crf.candidates

    def recorded(emissions, gold=None, beam=None):
        scores, slots = candidates(emissions, gold, beam)
        sizes.append(slots.size(-1))
        return scores, slots

    crf.candidates = recorded
    for options, expected in (({}, 16), ({"crf_decode_beam": 8}, 8), ({"crf_decode_beam": 30}, 30)):
        sizes.clear()
        ParallelGenerator(task.target_dictionary, **options).generate([model], make_sample())
        assert sizes == [expected], options
    model.decoder.crf.beam = 8  # a model trained with fewer candidates decodes with its own by default
    sizes.clear()
    ParallelGenerator(task.target_dictionary).generate([model], make_sample())
    assert sizes == [8]


def test_crf_decoding_options_are_checked(tiny_bert_dir):
    model, task = crf_model(tiny_bert_dir)
    d = task.target_dictionary
    other, _ = crf_model(tiny_bert_dir, seed=1)
    with pytest.raises(ValueError, match="CRF Viterbi decoding takes one model"):
        ParallelGenerator(d).check_models([model, other])
    ParallelGenerator(d, crf_decode="argmax").check_models([model, other])
    with pytest.raises(ValueError, match="--iter-decode-max-iter 2 with a CRF model"):
        ParallelGenerator(d, max_iter=2).check_models([model])
    with pytest.raises(ValueError, match="--sampling with a CRF model"):
        ParallelGenerator(d, sampling=True).check_models([model])
    with pytest.raises(ValueError, match="--crf-decode best: choose viterbi or argmax"):
        ParallelGenerator(d, crf_decode="best")


def test_glancing_schedule_and_choice():
    g = Glancing(GlancingConfig(glat_ratio=0.5, glat_ratio_final=0.3, glat_anneal_updates=100))
    assert [round(g.ratio(n), 3) for n in (0, 50, 100, 1000)] == [0.5, 0.4, 0.3, 0.3]
    with pytest.raises(ValueError, match="--glat-ratio-final needs --glat-anneal-updates"):
        Glancing(GlancingConfig(glat_ratio=0.5, glat_ratio_final=0.3))
    with pytest.raises(ValueError, match="--glat-ratio 1.5"):
        Glancing(GlancingConfig(glat_ratio=1.5))
    g = Glancing(GlancingConfig(glat_ratio=0.5))
    predicted = torch.tensor([[1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 0, 0]])
    reference = torch.tensor([[1, 0, 0, 0, 0, 6], [2, 2, 2, 1, 0, 0]])
    real = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    torch.manual_seed(0)
    chosen = g.choose(predicted, reference, real)
    assert chosen.sum(1).tolist() == [2, 1]  # floor(0.5 x 4 wrong), floor(0.5 x 3 wrong)
    assert not (chosen & ~real).any()
    only = torch.tensor([[False, True, True, False, False, False], [True] * 6])
    assert not (g.choose(predicted, reference, real, only) & ~only).any()


def test_bnb_nat_glancing(tiny_bert_dir):
    model, task = build(tiny_bert_dir)
    model.train()
    sample = make_sample()
    crit = BnbNatCriterion(BnbNatConfig(glat_ratio=1.0), task)
    seen = []
    original = model.decoder.forward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("prev_tokens"))
        return original(*args, **kwargs)

    model.decoder.forward = spy
    try:
        torch.manual_seed(0)
        loss, n, log = crit(model, sample)
    finally:
        del model.decoder.forward
    assert len(seen) == 2 and seen[0] is None  # a first pass without words, then the glancing pass
    target = sample["target"]
    given = seen[1].ne(PAD)
    assert torch.equal(seen[1][given], target[given])  # gold words at the glanced slots only
    assert int(given.sum()) == int(log["glanced"]) > 0
    assert n == int(target.ne(PAD).sum()) - int(log["glanced"])  # the glanced slots are not scored
    loss.backward()
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="--glat-ratio and --refinement-training: choose one"):
        BnbNatCriterion(BnbNatConfig(glat_ratio=0.5, refinement_training=0.5), task)
    # evaluation never glances
    model.eval()
    assert "glanced" not in crit(model, sample)[2]


def test_bnb_ctc_glancing_reads_the_best_alignment(tiny_bert_dir):
    model, task = build(tiny_bert_dir, length_control="ctc", ctc_ratio=3.0)
    model.train()
    sample = make_sample()
    crit = BnbCtcCriterion(BnbCtcConfig(glat_ratio=1.0), task)
    seen = []
    original = model.decoder.forward

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append((kwargs.get("prev_tokens"), out))
        return out

    model.decoder.forward = spy
    try:
        torch.manual_seed(0)
        loss, _, log = crit(model, sample)
    finally:
        del model.decoder.forward
    (none, first), (prev, _) = seen
    assert none is None
    target = sample["target"]
    dec = model.decoder
    lprobs = torch.log_softmax(first[0].float(), -1)
    frames = (~first[1]["padding_mask"]).sum(1)
    aligned, _ = ctc_best_alignment(lprobs, dec.output_index(target), frames, target.ne(PAD).sum(1), dec.blank_slot)
    given = prev.ne(PAD)
    assert int(given.sum()) == int(log["glanced"]) > 0
    assert torch.equal(prev[given], dec.output_tokens(aligned)[given])  # the aligned words, never a blank
    loss.backward()


def test_sample_slots_topk_topp_and_temperature():
    lprobs = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(2000, 4)
    torch.manual_seed(0)
    assert sample_slots(lprobs, topk=1).eq(0).all()
    assert set(sample_slots(lprobs, topk=2).tolist()) == {0, 1}
    assert set(sample_slots(lprobs, topp=0.7).tolist()) == {0, 1}  # 0.5 < 0.7 <= 0.8
    assert set(sample_slots(lprobs, topp=0.4).tolist()) == {0}
    draws = sample_slots(lprobs)
    assert abs(float(draws.eq(0).float().mean()) - 0.5) < 0.05 and draws.eq(3).any()
    assert sample_slots(lprobs, temperature=0.01).eq(0).all()


@pytest.mark.parametrize("control", ["ctc", "classify"])
def test_sampling_is_reproducible_and_gives_distinct_nbest(tiny_bert_dir, control):
    model, task = build(tiny_bert_dir, length_control=control)
    d = task.target_dictionary
    sample = make_sample()
    beam = {"length_beam": 2} if control == "classify" else {}

    def draw(seed, **options):
        torch.manual_seed(seed)
        hypos = ParallelGenerator(d, **options).generate([model], sample)
        return [[h["tokens"].tolist() for h in nbest] for nbest in hypos]

    first = draw(1, sampling=True, nbest=3, **beam)
    assert first == draw(1, sampling=True, nbest=3, **beam)
    assert first != draw(2, sampling=True, nbest=3, **beam)
    for nbest in first:
        assert 1 <= len(nbest) <= 3 and len(set(map(tuple, nbest))) == len(nbest)
        assert all(not SPECIALS & set(h[:-1]) and h[-1] == SEP for h in nbest)
    assert any(len(nbest) == 3 for nbest in first)
    # top-1 sampling is the greedy output
    assert draw(3, sampling=True, sampling_topk=1) == draw(3)
    with pytest.raises(ValueError, match="--sampling-topk/--sampling-topp restrict sampling"):
        ParallelGenerator(d, sampling_topk=5)


def test_sampled_refinement_redraws_the_masked_slots(tiny_bert_dir):
    model, task = build(tiny_bert_dir)
    d = task.target_dictionary
    sample = make_sample()
    outs = []
    for seed in (1, 1, 2):
        torch.manual_seed(seed)
        gen = ParallelGenerator(d, sampling=True, max_iter=2, force_max_iter=True, retain_history=True)
        outs.append(gen.generate([model], sample))
    assert [h[0]["tokens"].tolist() for h in outs[0]] == [h[0]["tokens"].tolist() for h in outs[1]]
    assert all(h[0]["steps"] == 2 and len(h[0]["history"]) == 3 for h in outs[0])
    assert [h[0]["history"][1]["tokens"].tolist() for h in outs[0]] != [
        h[0]["history"][1]["tokens"].tolist() for h in outs[2]
    ] or [h[0]["tokens"].tolist() for h in outs[0]] != [h[0]["tokens"].tolist() for h in outs[2]]


def test_sampling_options_reach_the_generator_from_a_generation_config(tiny_bert_dir):
    from bnb_fairseq.generation.decoding import DecodingOptions

    args = argparse.Namespace(sampling=True, sampling_topk=5, sampling_topp=-1.0, temperature=0.7, nbest=2)
    options = DecodingOptions.resolve(None, args)
    assert (options.sampling, options.sampling_topk, options.temperature, options.nbest) == (True, 5, 0.7, 2)


def generate(data, checkpoint, *options):
    out = run_generate(data, checkpoint, *options).stdout
    hypos = {}
    for i, text in re.findall(r"^D-(\d+)\t\S+\t(.*)$", out, re.M):
        hypos.setdefault(int(i), []).append(text)
    return hypos


@starts_early("crf_glat")
def train_crf_glat(tmp_path_factory, demo_data, tiny_bert_dir):
    return train_tiny(
        tmp_path_factory,
        "tiny_crf_glat",
        demo_data,
        tiny_bert_dir,
        "--arch",
        "bnb_small",
        "--length-control",
        "classify",
        "--crf-lowrank-approx",
        "8",
        "--crf-beam-approx",
        "8",
        "--criterion",
        "bnb_nat",
        "--glat-ratio",
        "0.5",
        "--glat-ratio-final",
        "0.3",
        "--glat-anneal-updates",
        "6",
        "--axe",
        "--length-slot-ratio",
        "1.1",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--batch-size",
        "8",
        "--max-update",
        "6",
        "--disable-validation",
        "--log-format",
        "simple",
        "--log-interval",
        "3",
    )


@pytest.fixture(scope="module")
def crf_glat(background, request):
    """A tiny classify BnB with a CRF, trained 6 updates with annealed glancing and the aligned cross-entropy
    over 1.1 slots per target token (started early)."""
    return background.result(train_crf_glat, request)


@pytest.mark.slow
def test_crf_glat_model_through_the_clis_and_the_python_api(crf_glat, demo_data, tiny_ctc):
    trained = crf_glat
    inner = re.findall(r"train_inner \|.*$", trained.log, re.M)
    assert inner and all("crf=" in line and "glanced=" in line for line in inner), trained.log[-3000:]
    # the CTC model of the session trained with --glat-ratio too (conftest.tiny_ctc)
    assert re.search(r"\| train \|.* glanced ", tiny_ctc.log), tiny_ctc.log[-3000:]

    n = DEMO_N_TEST
    # batches of one sentence, as fairseq-interactive and the hub below get: an untrained model's near-ties
    # would otherwise break by the batch's padding
    viterbi = generate(
        demo_data, trained.checkpoint, "--iter-decode-with-beam", "2", "--nbest", "2", "--batch-size", "1"
    )
    assert sorted(viterbi) == list(range(n)) and all(len(v) == 2 for v in viterbi.values())
    # an AXE model's blank slots: --ctc-blank-penalty handicaps the blank for classify models too (and
    # --dedup merges repeated words)
    argmax = generate(
        demo_data,
        trained.checkpoint,
        *("--crf-decode", "argmax", "--ctc-blank-penalty", "0.5", "--dedup", "--batch-size", "1"),
    )
    assert sorted(argmax) == list(range(n))
    # more slots per predicted length at decoding than in training: a model option, overridden as fairseq does
    wider = generate(
        demo_data, trained.checkpoint, "--model-overrides", "{'length_slot_ratio': 1.5}", "--crf-decode-beam", "8"
    )
    assert sorted(wider) == list(range(n))
    sampling = ["--crf-decode", "argmax", "--sampling", "--sampling-topk", "5", "--beam", "3", "--nbest", "3"]
    first = generate(demo_data, trained.checkpoint, *sampling, "--seed", "7")
    assert first == generate(demo_data, trained.checkpoint, *sampling, "--seed", "7")
    assert first != generate(demo_data, trained.checkpoint, *sampling, "--seed", "8")
    assert sorted(first) == list(range(n)) and all(len(set(v)) == len(v) for v in first.values())
    refused = run_generate(demo_data, trained.checkpoint, "--sampling", "--beam", "1", check=False)
    assert refused.returncode != 0 and "--sampling with a CRF model" in refused.stderr

    lines = (demo_data.raw / "test.es").read_text(encoding="utf-8").splitlines()
    inter = run_interactive(
        demo_data, trained.checkpoint, lines, "--buffer-size", "1", "--batch-size", "1", "--iter-decode-with-beam", "2"
    ).stdout
    d_lines = re.findall(r"^D-(\d+)\t\S+\t(.*)$", inter, re.M)
    assert [int(i) for i, _ in d_lines] == list(range(n))
    # the hub reads the same raw lines (fairseq-generate read them binarized, cut at the demo's --max-len)
    hub = BnbModel.from_pretrained(
        str(trained.save_dir), checkpoint_file="checkpoint_last.pt", data_name_or_path=str(demo_data.bin)
    )
    assert [hub.translate(line, iter_decode_with_beam=2) for line in lines] == [t for _, t in d_lines]
    short = [i for i in range(n) if len(hub.encode(lines[i])) < DEMO_MAX_LEN - 2]
    assert short and [
        hub.translate(lines[i], crf_decode="argmax", ctc_blank_penalty=0.5, dedup=True) for i in short
    ] == [argmax[i][0] for i in short]
    torch.manual_seed(3)
    drawn = hub.translate(lines, crf_decode="argmax", sampling=True, sampling_topp=0.9)
    torch.manual_seed(3)
    assert hub.translate(lines, crf_decode="argmax", sampling=True, sampling_topp=0.9) == drawn


@pytest.mark.slow
def test_benchmark_rows_of_a_crf_model(crf_glat, demo_data, tmp_path):
    out = tmp_path / "bench"
    run_cli(
        ["bash", "examples/benchmark.sh", "--fast", "--no-cmlm"],
        env_extra={
            "DATA": str(demo_data.bin),
            "SRC": "es",
            "TGT": "en",
            "REFERENCE": f"{demo_data.raw}/test.en",
            "OUT": str(out),
            "NAR": f"crf={crf_glat.checkpoint}",
            "LENGTH_BEAM": "3",
            "REFINE": "2",
            "CRF_DECODE_BEAM": "8",
            "THREADS": "1",
        },
    )
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["setting"] for r in rows] == [
        "crf BnB length beam 1, CRF Viterbi",
        "crf BnB length beam 1, 2 refinement passes, slot argmax",
        "crf BnB length beam 3, CRF Viterbi",
        "crf BnB length beam 1, CRF Viterbi over 8 candidates",
        "crf BnB length beam 1, slot argmax (CRF unused)",
        "crf model-only floor",
    ]
    assert all(0 <= r["bleu"] <= 100 for r in rows if r["kind"] != "floor")


@pytest.mark.slow
def test_step_cost_compares_variants_on_the_same_batches(demo_data, tiny_bert_dir):
    classify = "--length-control classify --criterion bnb_nat"
    out = run_cli(
        [sys.executable, "-m", "bnb_fairseq.tools.step_cost", str(demo_data.bin), "-s", "es", "-t", "en"]
        + ["--steps", "2", "--warmup", "1", "--variant", f"plain={classify}"]
        + ["--variant", f"crf={classify} --crf-lowrank-approx 4 --glat-ratio 0.5"]
        + ["--", "--user-dir", "bnb_fairseq", "--task", "bnb_seq2seq", "--arch", "bnb_small"]
        + ["--bert-checkpoint", tiny_bert_dir, "--batch-size", "4"]
    ).stdout
    rows = dict(re.findall(r"^\| (plain|crf) \| [\d.]+ \| ([\d.]+) \|$", out, re.M))
    assert rows.keys() == {"plain", "crf"} and rows["plain"] == "1.000" and float(rows["crf"]) > 0, out
    assert "2 steps of forward + backward per variant" in out
