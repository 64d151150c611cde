"""--inference-precision: bf16, int8 and int4 models decode close to fp32 (log-probability tolerances
below), keep the tied and trimmed output layer, answer every line through the CLIs, the Python API and
the benchmark, and refuse what they cannot do with one clear message."""

import copy
import json
import re
import sys

import onnx
import pytest
import torch
from conftest import run_cli, run_generate, run_interactive
from test_length_classify import build as build_classify
from test_mixed_precision import build as build_ctc
from test_mixed_precision import sample

from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.generation.precision import apply_inference_precision
from bnb_fairseq.models.onnx_runner import export_one_pass, use_onnx_runtime
from bnb_fairseq.modules.bert_layers import BertAttention
from bnb_fairseq.modules.quantized import DynamicInt8Linear, Int4WeightOnlyLinear, QuantizedEmbedding, model_bytes

# largest |log p(fp32) - log p(precision)| over every slot and output piece, tiny untrained models
# (measured: bf16 0.005, int8 0.011, int4 0.067)
TOLERANCE = {"bf16": 0.05, "int8": 0.05, "int4": 0.25}


def relative_error(y, ref):
    return float((y - ref).norm() / ref.norm())


def test_low_bit_layers_match_float():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 37)  # 37 rows: int4 packing pads to a multiple of 16 and cuts back
    x = torch.randn(3, 5, 64)
    with torch.no_grad():
        ref = linear(x)
        int8 = DynamicInt8Linear.from_linear(linear)(x)
        int4 = Int4WeightOnlyLinear.from_linear(linear, group_size=32)(x)
    assert int8.shape == int4.shape == ref.shape and int8.dtype == int4.dtype == torch.float32
    assert relative_error(int8, ref) < 0.02
    assert relative_error(int4, ref) < 0.12

    table = torch.nn.Embedding(50, 64, padding_idx=0)
    ids = torch.tensor([[1, 7, 49], [0, 3, 3]])
    for bits, bound in ((8, 0.01), (4, 0.12)):
        q = QuantizedEmbedding(table.weight, table.padding_idx, bits=bits, group_size=32)
        rows = q(ids)
        assert rows.shape == (2, 3, 64) and q.padding_idx == 0
        assert relative_error(rows, table(ids).detach()) < bound
    assert QuantizedEmbedding(table.weight, bits=4).codes.numel() == 50 * 32  # two codes per byte


@pytest.mark.parametrize("precision", ["bf16", "int8", "int4"])
@pytest.mark.parametrize("control", ["ctc", "classify"])
def test_converted_model_decodes_close_to_fp32(tiny_bert_dir, precision, control):
    if control == "ctc":
        model, _ = build_ctc(tiny_bert_dir)
        model.set_output_vocab(list(range(1000, 1100)))  # a trimmed output layer
        model.eval()
    else:
        model, _ = build_classify(tiny_bert_dir, crf_lowrank_approx=4)
    s = sample()
    with torch.no_grad():
        ref = model.get_normalized_probs(model(**s["net_input"]), log_probs=True)
        low = apply_inference_precision(copy.deepcopy(model), precision)
        logits, extra = low(**s["net_input"])
        out = low.get_normalized_probs((logits, extra), log_probs=True)
    assert out.dtype == torch.float32 and out.shape == ref.shape  # the trimmed vocabulary is kept
    assert (out - ref).abs().max() <= TOLERANCE[precision]
    assert model_bytes(low) < 0.6 * model_bytes(model)
    assert low.inference_precision == precision
    if precision != "bf16":  # the tied output matrix is frozen apart from the (quantized) embedding table
        assert low.decoder.lm_head.output_projection is not None
        assert isinstance(low.encoder.embeddings.word_embeddings, QuantizedEmbedding)


def test_precision_is_applied_once(tiny_bert_dir):
    model, _ = build_ctc(tiny_bert_dir)
    model.eval()
    apply_inference_precision(model, "int8")
    assert apply_inference_precision(model, "int8") is model and apply_inference_precision(model, "fp32") is model
    with pytest.raises(ValueError, match="already converted to int8 for inference; load the checkpoint again"):
        apply_inference_precision(model, "int4")
    with pytest.raises(ValueError, match="choose one of fp32, bf16, int8, int4, onnx, onnx-int8"):
        apply_inference_precision(model, "int2")
    half, _ = build_ctc(tiny_bert_dir)
    with pytest.raises(ValueError, match="already in torch.float16"):
        apply_inference_precision(half.half(), "int8")


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_generate_answers_every_line(demo_data, tiny_ctc, tiny_b2b, precision):
    n = sum(1 for _ in open(f"{demo_data.raw}/test.en"))
    for checkpoint, extra in ((tiny_ctc.checkpoint, ()), (tiny_b2b.checkpoint, ("--beam", "2"))):
        out = run_generate(demo_data, checkpoint, "--inference-precision", precision, *extra)
        assert sorted(int(i) for i in re.findall(r"^H-(\d+)\t", out.stdout, re.M)) == list(range(n))
        assert f"inference precision {precision}:" in out.stderr


@pytest.mark.slow
def test_interactive_and_python_api_in_int8(demo_data, tiny_ctc):
    lines = ["uno dos", "", "tres"]
    proc = run_interactive(demo_data, tiny_ctc.checkpoint, lines, "--inference-precision", "int8")
    assert re.findall(r"^H-(\d+)\t", proc.stdout, re.M) == ["0", "1", "2"]

    from bnb_fairseq.models.bnb import BnbModel

    hub = BnbModel.from_pretrained(
        str(tiny_ctc.checkpoint.parent),
        checkpoint_file=tiny_ctc.checkpoint.name,
        data_name_or_path=str(demo_data.bin),
        bpe="bert_wordpiece",
        inference_precision="int8",
    )
    assert len(hub.translate(lines)) == 3
    assert hub.models[0].inference_precision == "int8"


@pytest.mark.slow
def test_benchmark_compares_precisions(demo_data, tiny_ctc, tiny_b2b, tmp_path):
    out = tmp_path / "bench"
    run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.benchmark",
            "--data",
            str(demo_data.bin),
            "-s",
            "es",
            "-t",
            "en",
            "--ar",
            f"b2b={tiny_b2b.checkpoint}",
            "--nar",
            f"bnb={tiny_ctc.checkpoint}",
            "--precision",
            "fp32,int8,onnx-int8",
            "--ar-beams",
            "1",
            "--no-cmlm",
            "--fast",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    rows = {r["setting"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert set(rows) == {
        "b2b AR greedy",
        "b2b [int8] AR greedy",
        "bnb BnB CTC greedy",
        "bnb model-only floor",
        "bnb [int8] BnB CTC greedy",
        "bnb [int8] model-only floor",
        "bnb [onnx-int8] BnB CTC greedy",
        "bnb [onnx-int8] model-only floor",
    }
    for name in ("b2b [int8] AR greedy", "bnb [int8] BnB CTC greedy"):
        row, fp32 = rows[name], rows[name.replace(" [int8]", "")]
        assert row["precision"] == "int8" and row["fp32_setting"] == fp32["setting"]
        assert row["speedup_vs_fp32_batch1"] == pytest.approx(fp32["latency_ms_mean"] / row["latency_ms_mean"])
        assert row["model_mib"] < 0.5 * fp32["model_mib"]
        assert row["bleu_vs_fp32"] == pytest.approx(row["bleu"] - fp32["bleu"])
    assert "MiB in memory" in (out / "results.md").read_text()


def padded_batch(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = [[101] + torch.randint(1000, 5000, (n - 2,), generator=g).tolist() + [102] for n in lengths]
    width = max(lengths)
    return torch.tensor([r + [0] * (width - len(r)) for r in rows])


def test_onnx_graph_matches_pytorch_with_padding(tiny_bert_dir, tmp_path):
    """Exported on its own 2 x 5 example, run on other batch sizes and lengths, padding included."""
    model, task = build_ctc(tiny_bert_dir)
    model.set_output_vocab(list(range(1000, 1100)))
    model.eval()
    runner = use_onnx_runtime(copy.deepcopy(model), str(tmp_path / "one_pass.onnx"))
    # every attention layer (encoder self, decoder self and cross) is one fused operator in the graph
    nodes = [n.op_type for n in onnx.load(str(tmp_path / "one_pass.onnx")).graph.node]
    layers = sum(isinstance(m, BertAttention) for m in model.modules())
    assert layers >= 3 and nodes.count("MultiHeadAttention") == layers and "Softmax" not in nodes
    generator = ParallelGenerator(task.target_dictionary)
    for lengths in ([3], [9, 4, 6], [17, 17]):
        src = padded_batch(lengths)
        with torch.no_grad():
            net_output = model(src, src.ne(0).sum(1))
            ours = model.get_normalized_probs(net_output, log_probs=True)
            theirs, extra = runner.decoder(None, encoder_out=runner.encoder(src))
        assert torch.equal(extra["padding_mask"], net_output[1]["padding_mask"])
        real = ~extra["padding_mask"]
        assert (ours - theirs).abs()[real].max() < 1e-4
        sample = {"net_input": {"src_tokens": src, "src_lengths": src.ne(0).sum(1)}}
        a, b = generator.generate([model], sample), generator.generate([runner], sample)
        assert [h[0]["tokens"].tolist() for h in a] == [h[0]["tokens"].tolist() for h in b]


def test_onnx_generation_keeps_torch_on_one_thread(tiny_bert_dir, tmp_path):
    """ONNX Runtime's threads spin-wait between operators: while the generator runs the graph, torch's own
    work around it runs on one thread, and torch gets its threads back afterwards (even after an error)."""
    model, task = build_ctc(tiny_bert_dir)
    runner = use_onnx_runtime(model.eval(), str(tmp_path / "one_pass.onnx"), threads=2)
    session, seen = runner.decoder.session, []

    class Recording:
        def run(self, *args):
            seen.append(torch.get_num_threads())
            return session.run(*args)

    runner.decoder.session = Recording()
    generator = ParallelGenerator(task.target_dictionary)
    src = padded_batch([9, 4])
    sample = {"net_input": {"src_tokens": src, "src_lengths": src.ne(0).sum(1)}}
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        hypos = generator.generate([runner], sample)
        assert seen == [1] and torch.get_num_threads() == 2 and len(hypos) == 2

        class Failing:
            def run(self, *args):
                raise RuntimeError("graph failed")

        runner.decoder.session = Failing()
        with pytest.raises(RuntimeError, match="graph failed"):
            generator.generate([runner], sample)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_portable_export_has_standard_operators_only(tiny_bert_dir, tmp_path):
    model, _ = build_ctc(tiny_bert_dir)
    model.eval()
    path = str(tmp_path / "portable.onnx")
    export_one_pass(model, path, portable=True)
    graph = onnx.load(path)
    assert {n.domain for n in graph.graph.node} <= {"", "ai.onnx"} and "Softmax" in [
        n.op_type for n in graph.graph.node
    ]
    runner = use_onnx_runtime(copy.deepcopy(model), path, export=False)
    src = padded_batch([9, 4])
    with torch.no_grad():
        net_output = model(src, src.ne(0).sum(1))
        ours = model.get_normalized_probs(net_output, log_probs=True)
        theirs, extra = runner.decoder(None, encoder_out=runner.encoder(src))
    assert (ours - theirs).abs()[~extra["padding_mask"]].max() < 1e-4
    export_one_pass(model, path)  # the default again: the fused operator
    assert "MultiHeadAttention" in [n.op_type for n in onnx.load(path).graph.node]


CLASSIFY_VARIANTS = {
    "classify": {},
    "classify-ctc + CRF": {
        "classify_ctc": True,
        "length_slot_ratio": 2.0,
        "crf_lowrank_approx": 4,
        "crf_beam_approx": 3,
    },
}


@pytest.mark.parametrize("variant", list(CLASSIFY_VARIANTS))
def test_onnx_classify_graphs_match_pytorch_with_padding(tiny_bert_dir, tmp_path, variant):
    """A classify model's two graphs: the length log-probabilities, the slots at given lengths (and, for a
    model with one token per slot, over words read back), and the generator's length beam (CRF, CTC
    collapse, refinement) through them equal PyTorch's."""
    model, task = build_classify(tiny_bert_dir, **CLASSIFY_VARIANTS[variant])
    if model.decoder.has_crf:
        torch.nn.init.normal_(model.decoder.crf.E2.weight, std=0.5)  # transitions that change the path
    runner = use_onnx_runtime(copy.deepcopy(model), str(tmp_path / "m.onnx"))
    assert (tmp_path / "m.onnx").exists() and (tmp_path / "m.slots.onnx").exists()
    assert runner.decoder.onnx_file_bytes == sum((tmp_path / f).stat().st_size for f in ("m.onnx", "m.slots.onnx"))
    refine = {"max_iter": 2} if model.decoder.supports_refinement else {}
    generator = ParallelGenerator(task.target_dictionary, length_beam=3, **refine)
    for lengths in ([3], [9, 4, 6], [17, 17]):
        src = padded_batch(lengths)
        out_lengths = torch.tensor([7, 2, 5][: len(lengths)])
        words = torch.full((len(lengths), 7), 0).masked_fill(torch.arange(7) % 3 == 1, 2023)
        with torch.no_grad():
            enc, theirs_enc = model.encoder(src, src_lengths=src.ne(0).sum(1)), runner.encoder(src)
            length_lprobs = torch.log_softmax(model.decoder.length_logits(enc), -1)
            assert (runner.decoder.length_logits(theirs_enc) - length_lprobs).abs().max() < 1e-4
            for given in (None, words) if refine else (None,):
                net_output = model.decoder(None, encoder_out=enc, out_lengths=out_lengths, prev_tokens=given)
                ours = model.get_normalized_probs(net_output, log_probs=True)
                theirs, extra = runner.decoder(None, encoder_out=theirs_enc, out_lengths=out_lengths, prev_tokens=given)
                assert torch.equal(extra["padding_mask"], net_output[1]["padding_mask"])
                assert (ours - theirs).abs()[~extra["padding_mask"]].max() < 1e-4
        sample = {"net_input": {"src_tokens": src, "src_lengths": src.ne(0).sum(1)}}
        a, b = generator.generate([model], sample), generator.generate([runner], sample)
        assert [h[0]["tokens"].tolist() for h in a] == [h[0]["tokens"].tolist() for h in b]


def test_onnx_refuses_what_the_graph_cannot_do(tiny_bert_dir, tmp_path):
    model, _ = build_ctc(tiny_bert_dir)
    runner = use_onnx_runtime(model.eval(), str(tmp_path / "m.onnx"), quantize=True)
    assert (tmp_path / "m.onnx").exists() and not (tmp_path / "m.onnx.fp32.onnx").exists()
    src = padded_batch([5])
    with pytest.raises(ValueError, match="given lengths and words"):
        runner.decoder(None, encoder_out=runner.encoder(src), out_lengths=torch.tensor([4]))


def assert_same_hypotheses(ours, theirs, tolerance=1e-4):
    """The same words on every H- line of two fairseq-generate outputs, scores within ``tolerance`` (the
    graph's fused attention sums in another order than PyTorch); returns the number of lines."""
    read = lambda text: sorted(re.findall(r"^H-(\d+)\t(\S+)\t(.*)$", text, re.M))  # noqa: E731
    a, b = read(ours), read(theirs)
    assert [(i, words) for i, _, words in a] == [(i, words) for i, _, words in b]
    assert all(abs(float(x) - float(y)) < tolerance for (_, x, _), (_, y, _) in zip(a, b))
    return len(a)


@pytest.mark.slow
def test_onnx_through_generate_interactive_and_export_tool(demo_data, tiny_ctc, tiny_classify, tiny_b2b, tmp_path):
    n = sum(1 for _ in open(f"{demo_data.raw}/test.en"))
    refused = run_generate(demo_data, tiny_b2b.checkpoint, "--inference-precision", "onnx", check=False)
    assert refused.returncode != 0
    assert "the ONNX export covers one-pass (BnB) models; decode an autoregressive model" in refused.stderr
    out = run_generate(demo_data, tiny_ctc.checkpoint, "--inference-precision", "onnx")
    assert sorted(int(i) for i in re.findall(r"^H-(\d+)\t", out.stdout, re.M)) == list(range(n))
    assert "run by ONNX Runtime" in out.stderr
    plain = run_generate(demo_data, tiny_ctc.checkpoint)
    assert_same_hypotheses(out.stdout, plain.stdout)

    # a classify model through its two graphs: length beam and mask-predict refinement as in PyTorch
    beam = ("--iter-decode-with-beam", "2", "--iter-decode-max-iter", "2")
    out = run_generate(demo_data, tiny_classify.checkpoint, "--inference-precision", "onnx", *beam)
    assert assert_same_hypotheses(out.stdout, run_generate(demo_data, tiny_classify.checkpoint, *beam).stdout) == n

    proc = run_interactive(
        demo_data, tiny_ctc.checkpoint, ["uno dos", "", "tres"], "--inference-precision", "onnx-int8"
    )
    assert re.findall(r"^H-(\d+)\t", proc.stdout, re.M) == ["0", "1", "2"]

    report = run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.export_onnx",
            str(tiny_ctc.checkpoint),
            "--data",
            str(demo_data.bin),
            "--out",
            str(tmp_path / "model.onnx"),
            "--subset",
            "test",
        ]
    ).stdout
    result = json.loads(report[report.index("{") :])
    assert result["sentences"] == n and result["identical_lines"] == 1.0
    assert result["max_abs_logprob_difference"] < 1e-3 and result["bleu_onnx"] == result["bleu_pytorch"]
    assert (tmp_path / "model.onnx").stat().st_size > 0


def test_fake_quantization_and_layer_groups(tiny_bert_dir):
    from bnb_fairseq.tools.quant_study import GROUPS, fake_quantize, quantize_group

    torch.manual_seed(0)
    w = torch.randn(6, 64)
    assert relative_error(fake_quantize(w, 8, 32), w) < 0.01
    assert relative_error(fake_quantize(w, 8, 32), w) < relative_error(fake_quantize(w, 3, 32), w) < 0.5
    binary = fake_quantize(w, 1, 32)
    assert torch.allclose(binary, torch.sign(w) * w.abs().mean(1, keepdim=True))

    model, _ = build_ctc(tiny_bert_dir)
    named = {g: set(quantize_group(copy.deepcopy(model), g, 8, 32)) for g in GROUPS}
    everything = set(quantize_group(copy.deepcopy(model), "all", 8, 32))
    assert everything == set().union(*named.values()) and sum(map(len, named.values())) == len(everything)
    assert "decoder.embeddings.word_embeddings.weight" in named["output"]
    assert "encoder.embeddings.word_embeddings.weight" in named["embeddings"]
    assert any("crossattention.self.key" in n for n in named["attention"])
    assert any("intermediate.dense" in n for n in named["ffn"])
    assert not any("latent" in n or "LayerNorm" in n for n in everything)


def test_int4_state_round_trip(tiny_bert_dir):
    from bnb_fairseq.modules.quantized import pack_state_int4, unpack_state_int4

    model, _ = build_ctc(tiny_bert_dir)
    state = model.state_dict()
    packed = pack_state_int4(state)
    size = lambda sd: sum(t.numel() * t.element_size() for t in sd.values())  # noqa: E731
    assert size(packed) < 0.3 * size(state)
    assert "encoder.embeddings.word_embeddings.weight.int4_codes" in packed
    restored = unpack_state_int4(dict(packed))
    assert restored.keys() == state.keys()
    for name, t in state.items():
        if t.is_floating_point() and t.dim() == 2 and t.numel() >= 4096:
            assert relative_error(restored[name], t) < 0.12
        else:
            assert torch.equal(restored[name], t)


@pytest.mark.slow
def test_packaged_int4_model_and_quant_study(demo_data, tiny_ctc, tmp_path):
    out = tmp_path / "int4"
    run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.package",
            str(tiny_ctc.checkpoint),
            str(demo_data.bin),
            str(out),
            "--precision",
            "int4",
        ]
    )
    assert (out / "model.pt").stat().st_size < 0.3 * tiny_ctc.checkpoint.stat().st_size
    assert "--inference-precision int4" in (out / "README.md").read_text()
    n = sum(1 for _ in open(f"{demo_data.raw}/test.en"))
    hypos = run_generate(demo_data, out / "model.pt", "--inference-precision", "int4").stdout
    assert sorted(int(i) for i in re.findall(r"^H-(\d+)\t", hypos, re.M)) == list(range(n))

    study = tmp_path / "study"
    run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.quant_study",
            str(tiny_ctc.checkpoint),
            "--data",
            str(demo_data.bin),
            "--subset",
            "test",
            "--bits",
            "8,1",
            "--groups",
            "ffn,all",
            "--out",
            str(study),
        ]
    )
    result = json.loads((study / "results.json").read_text())
    assert [(r["group"], r["bits"]) for r in result["rows"]] == [("ffn", 8), ("ffn", 1), ("all", 8), ("all", 1)]
    for r in result["rows"]:
        assert r["delta"] == pytest.approx(r["bleu"] - result["fp32_bleu"], abs=0.011) and r["weights"] > 0
    assert "1 bit (binary)" in (study / "results.md").read_text()
