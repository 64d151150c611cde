"""JANUS (--janus, bnb_janus, --decode-mode, self-reranking): the autoregressive view shares the BnB
decoder's weights, its cache equals the full pass, the joint loss aligns the two views correctly, and one
tiny checkpoint decodes both ways and reranks itself through the CLIs and the Python API."""

import os
import re

import pytest
import torch
from conftest import (
    PAD,
    detokenized_outputs,
    run_cli,
    run_demo_script,
    run_generate,
    run_interactive,
    starts_early,
    train_tiny,
)
from test_length_classify import build, make_sample

from bnb_fairseq.criterions.bnb_ctc import BnbCtcConfig, BnbCtcCriterion
from bnb_fairseq.criterions.bnb_janus import BnbJanusConfig, BnbJanusCriterion, symmetric_kl
from bnb_fairseq.generation.decoding import parse_penalties
from bnb_fairseq.models.bnb import BnbModel
from bnb_fairseq.models.janus import JanusArModel, shares_every_parameter
from bnb_fairseq.modules import ctc_best_alignment


def with_prev_output_tokens(sample):
    """fairseq's collater's decoder input: the target with its [SEP] moved to the front."""
    target = sample["target"]
    lengths = target.ne(PAD).sum(1)
    prev = torch.full_like(target, PAD)
    for b, n in enumerate(lengths.tolist()):
        prev[b, 0] = target[b, n - 1]
        prev[b, 1:n] = target[b, : n - 1]
    sample["net_input"]["prev_output_tokens"] = prev
    return sample


def janus_model(bert_dir, control, **options):
    model, task = build(bert_dir, length_control=control, ctc_ratio=3.0, janus=True, **options)
    return model, task


@pytest.mark.parametrize("control", ["ctc", "classify"])
def test_the_autoregressive_view_shares_every_weight(tiny_bert_dir, control):
    model, _ = janus_model(tiny_bert_dir, control)
    plain, _ = build(tiny_bert_dir, length_control=control, ctc_ratio=3.0)
    assert shares_every_parameter(model)
    assert model.state_dict().keys() == plain.state_dict().keys()  # no parameter added, none saved twice
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in plain.parameters())
    view = model.autoregressive_view()
    assert view.decoder.encoder is model.decoder.encoder and view.decoder.lm_head is model.decoder.lm_head
    assert view.decoder.embeddings.word_embeddings.weight is model.decoder.embeddings.word_embeddings.weight
    with pytest.raises(ValueError, match="trained with --janus"):
        plain.autoregressive_view()


@pytest.mark.parametrize("segment", [False, True])
def test_cached_incremental_decoding_equals_the_full_pass(tiny_bert_dir, segment):
    model, _ = janus_model(tiny_bert_dir, "ctc", janus_ar_segment=segment)
    view = JanusArModel(model).eval()
    sample = with_prev_output_tokens(make_sample())
    net_input = sample["net_input"]
    tokens = net_input["prev_output_tokens"][:, 1:]  # [CLS] y
    enc = view.encoder(net_input["src_tokens"], src_lengths=net_input["src_lengths"])
    with torch.no_grad():
        full, _ = view.decoder(tokens, encoder_out=enc)
        state, steps = {}, []
        for t in range(tokens.size(1)):
            step, _ = view.decoder(tokens[:, : t + 1], encoder_out=enc, incremental_state=state)
            steps.append(step)
    cached = torch.cat(steps, dim=1)
    real = tokens.ne(PAD)
    kept = model.decoder.output_ids
    # the full vocabulary: the trimmed output's logits at its ids, -inf at every piece it never outputs
    assert full.size(-1) == len(model.decoder.dictionary)
    assert torch.isinf(full[..., 1:5]).all() and torch.isfinite(full[..., kept]).all()  # [unused0-3]
    torch.testing.assert_close(cached[real][:, kept], full[real][:, kept], atol=1e-5, rtol=1e-5)


def test_the_ar_segment_marks_only_the_autoregressive_view(tiny_bert_dir):
    torch.manual_seed(0)
    plain, _ = janus_model(tiny_bert_dir, "ctc")
    torch.manual_seed(0)
    marked, _ = janus_model(tiny_bert_dir, "ctc", janus_ar_segment=True)
    assert marked.state_dict().keys() == plain.state_dict().keys()  # no new parameter
    marked.load_state_dict(plain.state_dict())
    segments = marked.decoder.embeddings.token_type_embeddings.weight
    assert not torch.equal(segments[0], segments[1])
    sample = with_prev_output_tokens(make_sample())
    with torch.no_grad():
        ours = marked.eval()(**sample["net_input"], autoregressive=True)
        theirs = plain.eval()(**sample["net_input"], autoregressive=True)
    torch.testing.assert_close(ours[0], theirs[0])  # the one pass reads segment 0 in both
    assert not torch.allclose(ours[1]["ar_logits"], theirs[1]["ar_logits"])  # the AR view reads segment 1
    with pytest.raises(ValueError, match="needs --janus"):
        build(tiny_bert_dir, length_control="ctc", ctc_ratio=3.0, janus_ar_segment=True)


def test_janus_loss_aligns_ctc_frames_and_classify_slots_with_ar_steps(tiny_bert_dir):
    # CTC: a frame aligned to target token k (best alignment) is compared with the AR step predicting it
    model, task = janus_model(tiny_bert_dir, "ctc")
    sample = with_prev_output_tokens(make_sample())
    crit = BnbJanusCriterion(BnbJanusConfig(), task)
    _, _, log, parts = crit.ctc.compute(model, sample, align=True, autoregressive=True)
    steps, target = parts["aligned_steps"], sample["target"]
    dec = model.decoder
    frames = (~parts["net_output"][1]["padding_mask"]).sum(1)
    aligned, _ = ctc_best_alignment(
        parts["lprobs"], dec.output_index(target), frames, target.ne(PAD).sum(1), dec.blank_slot
    )
    rows, cols = (steps >= 0).nonzero(as_tuple=True)
    assert len(rows) > 0
    assert torch.equal(aligned[rows, cols], dec.output_index(target[rows, steps[rows, cols] + 1]))
    assert (aligned[steps < 0] == dec.blank_slot).sum() > 0  # blank frames are not compared
    assert parts["net_output"][1]["ar_logits"].shape[:2] == (target.size(0), target.size(1) - 1)

    # classify: slot j with AR step j - 1, every real slot but [CLS]
    model, task = janus_model(tiny_bert_dir, "classify")
    crit = BnbJanusCriterion(BnbJanusConfig(), task)
    _, _, _, parts = crit.nat.compute(model, sample, align=True, autoregressive=True)
    real = target.ne(PAD)
    expected = torch.where(real, torch.arange(target.size(1)) - 1, torch.full_like(target, -1))
    assert torch.equal(parts["aligned_steps"], expected.clamp(min=-1))


def test_janus_loss_is_the_sum_of_its_terms(tiny_bert_dir):
    model, task = janus_model(tiny_bert_dir, "ctc")
    sample = with_prev_output_tokens(make_sample())
    alone, _, _ = BnbCtcCriterion(BnbCtcConfig(), task)(model, sample)
    off, _, log_off = BnbJanusCriterion(BnbJanusConfig(janus_ar_weight=0, janus_kl_weight=0), task)(model, sample)
    torch.testing.assert_close(off, alone)  # both weights 0: the parallel loss, no AR pass
    assert "ar_loss" not in log_off
    loss, _, log = BnbJanusCriterion(BnbJanusConfig(janus_ar_weight=1.0, janus_kl_weight=0.5), task)(model, sample)
    torch.testing.assert_close(
        float(loss), float(alone.detach() + log["ar_loss"] + 0.5 * log["janus_kl"]), rtol=1e-5, atol=1e-4
    )
    # the AR term is the label-smoothed NLL of y [SEP] given [CLS] y, as the full-vocabulary view scores it
    view = JanusArModel(model)
    net_input = sample["net_input"]
    enc = view.encoder(net_input["src_tokens"], src_lengths=net_input["src_lengths"])
    lprobs = view.get_normalized_probs(view.decoder(net_input["prev_output_tokens"][:, 1:], encoder_out=enc), True)
    target = sample["target"][:, 1:]
    nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)[target.ne(PAD)].sum()
    torch.testing.assert_close(float(log["ar_nll"]), float(nll), rtol=1e-5, atol=1e-4)
    assert log["kl_positions"] > 0 and float(log["janus_kl"]) > 0
    loss.backward()
    assert model.decoder.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0


def test_janus_kl_into_picks_the_view_its_gradients_reach(tiny_bert_dir):
    """--janus-kl-into nar|ar detaches the other view: same loss; the two one-sided gradients add up to the
    mutual one (as the parallel loss's gradient, counted in each, is added once more)."""
    model, task = janus_model(tiny_bert_dir, "ctc")
    sample = with_prev_output_tokens(make_sample())
    param = model.decoder.encoder.layer[0].attention.self.query.weight

    def loss_and_grad(**options):
        model.zero_grad()
        loss, _, _ = BnbJanusCriterion(BnbJanusConfig(janus_ar_weight=0, **options), task)(model, sample)
        loss.backward()
        return float(loss), param.grad.clone()

    plain, g_plain = loss_and_grad(janus_kl_weight=0)
    both, g_both = loss_and_grad(janus_kl_weight=1.0)
    nar, g_nar = loss_and_grad(janus_kl_weight=1.0, janus_kl_into="nar")
    ar, g_ar = loss_and_grad(janus_kl_weight=1.0, janus_kl_into="ar")
    assert both == nar == ar and both > plain
    assert not torch.allclose(g_nar, g_ar, atol=1e-7) and not torch.allclose(g_nar, g_both, atol=1e-7)
    torch.testing.assert_close(g_nar + g_ar - g_both, g_plain, rtol=1e-4, atol=1e-6)


def test_symmetric_kl():
    a = torch.log_softmax(torch.randn(3, 7), -1)
    b = torch.log_softmax(torch.randn(3, 7), -1)
    kl_ab = torch.nn.functional.kl_div(b, a, log_target=True, reduction="none").sum(-1)  # KL(a || b)
    kl_ba = torch.nn.functional.kl_div(a, b, log_target=True, reduction="none").sum(-1)
    torch.testing.assert_close(symmetric_kl(a, b), (kl_ab + kl_ba) / 2)
    assert torch.allclose(symmetric_kl(a, a), torch.zeros(3), atol=1e-6)


def test_bnb_janus_refuses_a_model_without_the_view(tiny_bert_dir):
    model, task = build(tiny_bert_dir, length_control="ctc", ctc_ratio=3.0)
    with pytest.raises(ValueError, match="--janus"):
        BnbJanusCriterion(BnbJanusConfig(), task)(model, with_prev_output_tokens(make_sample()))


def test_blank_penalty_pool_gives_the_reranker_the_outputs_of_every_penalty(tiny_bert_dir):
    from bnb_fairseq.generation.parallel_generator import ParallelGenerator

    model, task = janus_model(tiny_bert_dir, "ctc")
    d, sample = task.target_dictionary, make_sample()
    net = sample["net_input"]
    lprobs, extra, _ = ParallelGenerator(d)._log_probs([model], net["src_tokens"], net["src_lengths"])

    def candidates_of(beam, **options):
        gen = ParallelGenerator(d, ctc_beam=beam, reranking=True, **options)
        hypos = gen._beam_search(lprobs, extra["padding_mask"], model.decoder, None)
        return [[tuple(h["tokens"].tolist()) for h in c] for c in hypos]

    def candidates(**options):
        return candidates_of(2, **options)

    alone = [candidates(blank_penalty=p) for p in (0.0, 6.0)]
    pooled = candidates(blank_penalties=(0.0, 6.0))
    for b, got in enumerate(pooled):
        assert got == list(dict.fromkeys(alone[0][b] + alone[1][b]))  # each output once, in penalty order
    assert any(set(a) != set(c) for a, c in zip(*alone))  # the two penalties give different outputs here
    # generate: the reranker chooses among the pooled outputs
    gen = ParallelGenerator(d, ctc_beam=2, nbest=2, reranking=True, blank_penalties=(0, 6))
    for b, nbest in enumerate(gen.generate([model], sample)):
        assert len(nbest) == 2 and all(tuple(h["tokens"].tolist()) in pooled[b] for h in nbest)
    # --nbest up to --ctc-beam per pooled penalty
    wide = ParallelGenerator(d, ctc_beam=2, nbest=4, reranking=True, blank_penalties=(0, 6)).generate([model], sample)
    assert all(
        len(c) == min(4, len(p)) and {tuple(h["tokens"].tolist()) for h in c} <= set(p) for c, p in zip(wide, pooled)
    )
    with pytest.raises(ValueError, match="--nbest 5"):
        ParallelGenerator(d, ctc_beam=2, nbest=5, reranking=True, blank_penalties=(0, 6))
    # a beam of one per penalty: each penalty's best output, pooled (not greedy decoding at penalty 0 alone)
    best = [[c[0] for c in candidates_of(1, blank_penalty=p)] for p in (0.0, 6.0)]
    one_each = ParallelGenerator(d, nbest=2, reranking=True, blank_penalties=(0, 6)).generate([model], sample)
    for b, nbest in enumerate(one_each):
        assert {tuple(h["tokens"].tolist()) for h in nbest} == {best[0][b], best[1][b]}
    assert any(x != y for x, y in zip(*best))
    with pytest.raises(ValueError, match="--iter-decode-with-external-reranker"):
        ParallelGenerator(d, ctc_beam=2, blank_penalties=(0, 1))
    classify, _ = janus_model(tiny_bert_dir, "classify")
    with pytest.raises(ValueError, match="--length-control classify"):
        ParallelGenerator(d, reranking=True, blank_penalties=(0, 1)).check_models([classify])
    with pytest.raises(ValueError, match="comma-separated"):
        parse_penalties("0,one")
    assert parse_penalties("0, 1.5,0") == (0.0, 1.5) and parse_penalties([2, 3]) == (2.0, 3.0)


@starts_early("tiny_janus")
def train_tiny_janus(tmp_path_factory, demo_data, tiny_bert_dir):
    return train_tiny(
        tmp_path_factory,
        "tiny_janus",
        demo_data,
        tiny_bert_dir,
        "--arch",
        "bnb_small",
        "--janus",
        "--criterion",
        "bnb_janus",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--batch-size",
        "8",
        "--max-update",
        "4",
        "--disable-validation",
        "--log-format",
        "simple",
        "--log-interval",
        "2",
    )


@pytest.fixture(scope="module")
def tiny_janus(background, request):
    """A tiny CTC BnB with --janus, 4 updates of bnb_janus (started early)."""
    return background.result(train_tiny_janus, request)


@pytest.mark.slow
def test_one_checkpoint_decodes_both_ways_and_reranks_itself(tiny_janus, demo_data, tiny_ctc):
    assert "ar_nll" in tiny_janus.log and "janus_kl" in tiny_janus.log and "nar_loss" in tiny_janus.log
    n_test = sum(1 for _ in open(demo_data.raw / "test.es", encoding="utf-8"))

    def hypotheses(out):
        return sorted(line for line in out.splitlines() if line.startswith("H-"))

    ar = run_generate(demo_data, tiny_janus.checkpoint, "--decode-mode", "ar", "--beam", "2", "--max-len-b", "5")
    assert len(hypotheses(ar.stdout)) == n_test  # every test line answered
    rerank = run_generate(
        demo_data,
        tiny_janus.checkpoint,
        "--ctc-beam",
        "3",
        "--nbest",
        "2",
        "--iter-decode-with-external-reranker",
        "--ctc-beam-blank-penalties",
        "0,2",
    )
    assert len(hypotheses(rerank.stdout)) == 2 * n_test
    # interactive, self-reranking, with an empty line
    inter = run_interactive(
        demo_data,
        tiny_janus.checkpoint,
        ["hola mundo", "", "en el principio"],
        "--ctc-beam",
        "2",
        "--iter-decode-with-external-reranker",
    )
    assert len([line for line in inter.stdout.splitlines() if line.startswith("H-")]) == 3
    # a checkpoint without the view: one message
    refused = run_generate(demo_data, tiny_ctc.checkpoint, "--decode-mode", "ar", check=False)
    assert refused.returncode != 0 and "trained with --janus" in refused.stderr

    hub = BnbModel.from_pretrained(
        str(tiny_janus.checkpoint.parent),
        checkpoint_file=tiny_janus.checkpoint.name,
        data_name_or_path=str(demo_data.bin),
    )
    lines = ["hola mundo", "en el principio creó dios los cielos"]
    nar = hub.translate(lines)
    ar_out = hub.translate(lines, beam=2, decode_mode="ar", max_len_b=5)
    reranked = hub.translate(lines, ctc_beam=3, iter_decode_with_external_reranker=True, ctc_beam_blank_penalties="0,1")
    assert len(nar) == len(ar_out) == len(reranked) == 2
    # the AR view's greedy output is the argmax of its teacher-forced pass over that output
    hypo = hub.generate(hub.encode(lines[0]), beam=1, decode_mode="ar", max_len_b=5)[0]
    model = hub.models[0]
    view = model.autoregressive_view()
    src = hub.encode(lines[0])
    if src[0] != hub.src_dict.bos():
        src = torch.cat([src.new_tensor([hub.src_dict.bos()]), src])
    enc = view.encoder(src[None], src_lengths=torch.tensor([len(src)]))
    tokens = torch.cat([torch.tensor([[hub.tgt_dict.bos()]]), hypo["tokens"][None, :-1]], dim=1)
    with torch.no_grad():
        lprobs = view.get_normalized_probs(view.decoder(tokens, encoder_out=enc), log_probs=True)[0]
    lprobs[:, hub.tgt_dict.pad()] = float("-inf")  # fairseq's beam search never outputs padding
    # every word but the closing [SEP] (forced at --max-len-b) is the view's argmax given the words before
    assert torch.equal(lprobs[:-1].argmax(-1), hypo["tokens"][:-1])
    # the reranker's scores, normalised over the output slots only, equal the full-vocabulary ones
    assert model.decoder.output_ids is not None  # a trimmed output vocabulary (--output-vocab train)
    with torch.no_grad():
        scored = view.decoder.target_log_probs(tokens, hypo["tokens"][None], enc)[0]
    torch.testing.assert_close(scored, lprobs.gather(-1, hypo["tokens"][:, None])[:, 0], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_benchmark_rows_of_a_janus_model(tiny_janus, demo_data, tmp_path):
    import json

    from bnb_fairseq.tools import benchmark

    out = tmp_path / "bench"
    benchmark.main(
        ["--data", str(demo_data.bin), "-s", "es", "-t", "en", "--nar", f"janus={tiny_janus.checkpoint}"]
        + ["--ctc-beam", "2", "--ar-beams", "4", "--max-len-b", "4", "--no-cmlm", "--fast", "--out", str(out)]
        + ["--rerank-blank-penalties", "0,2"]
    )
    result = json.loads((out / "results.json").read_text())
    kinds = {row["kind"]: row for row in result["rows"]}
    assert {"bnb-ctc-greedy", "bnb-ctc-beam", "janus-ar-beam4", "janus-rerank"} <= set(kinds)
    # without a bert2bert, speed-ups are against the model's own AR view with beam 4
    assert result["baseline"] == "janus JANUS AR view beam 4"
    assert [row["setting"] for row in result["rows"] if row["kind"] == "janus-rerank"] == [
        "janus JANUS CTC beam 2 + own AR view reranking",
        "janus JANUS CTC beam 2 at blank penalties 0,2 + own AR view reranking",
    ]
    assert all(row["sentences"] == 8 for row in result["rows"])  # every row decoded every sentence


@starts_early("demo_janus_run")
def run_demo_janus(tmp_path_factory, tiny_bert_dir):
    """`JANUS=1 make demo`'s script on a small demo slice with the tiny BERT: (work, raw data, its output)."""
    settings = dict(MAX_UPDATE="6", AVERAGE_LAST="1", BLANK_PENALTY="0", JANUS="1")
    return run_demo_script(tmp_path_factory, "demo_janus_run", tiny_bert_dir, (32, 4, 5), **settings)


@pytest.fixture(scope="module")
def demo_janus_run(background, request):
    return background.result(run_demo_janus, request)


@pytest.mark.slow
def test_the_demo_trains_janus_and_decodes_three_ways(demo_janus_run):
    """JANUS=1: the demo's checkpoint is a JANUS model (its cross-attention copied, the default with --janus),
    and its three test outputs (one pass, AR view beam 4, self-reranked) are the Python API's for the same
    options, each scored, one line per input."""
    work, raw, demo = demo_janus_run
    out = demo.stdout + demo.stderr
    assert "nar_loss" in out and "ar_nll" in out  # bnb_janus trained it
    assert len(re.findall(r"^BLEU = [\d.]+", demo.stdout, re.M)) == 3, demo.stdout[-3000:]
    checkpoint = work / "checkpoints" / "checkpoint_last.pt"
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)["cfg"]["model"]
    assert saved["janus"] and saved["janus_ar_segment"] and saved["cross_attention_init"] == "self"
    with open(os.path.join(raw, "test.es"), encoding="utf-8") as f:
        sources = [line.rstrip("\n") for line in f]
    hub = BnbModel.from_pretrained(
        str(checkpoint.parent), checkpoint_file=checkpoint.name, data_name_or_path=str(work / "data-bin")
    )
    expected = {
        "": hub.translate(sources, ctc_blank_penalty=0.0),
        ".ar": hub.translate(sources, decode_mode="ar", beam=4, max_len_a=1.2, max_len_b=10),
        ".rerank": hub.translate(sources, ctc_beam=4, iter_decode_with_external_reranker=True, ctc_blank_penalty=0.0),
    }
    for way, lines in expected.items():
        generated = (work / f"generate-test{way}.txt").read_text(encoding="utf-8")
        d_lines = detokenized_outputs(generated)
        assert [d_lines[i] for i in range(len(sources))] == lines, way
    assert expected[".ar"] != expected[""]  # the AR view decodes differently from the one pass
    refused = run_cli(["bash", "examples/demo/run_demo.sh"], check=False, env_extra={"JANUS": "yes"})
    assert refused.returncode != 0 and "JANUS=yes: give 1" in refused.stderr
