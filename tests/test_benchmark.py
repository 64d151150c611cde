"""examples/benchmark.sh in its fast mode on tiny models: every setting runs and the table, JSON
and plot are written with consistent numbers."""
import json
import os
import sys

import pytest

from conftest import demo_slice, run_cli

N_TEST = 10


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory, tiny_bert_dir):
    """A tiny bert2bert and a tiny bnb, a few updates each, on the same binarized slice."""
    work = tmp_path_factory.mktemp("bench")
    raw = demo_slice(str(work / "raw"), 32, 8, N_TEST)
    run_cli([sys.executable, "preprocess/binarize.py", "--bert", tiny_bert_dir, "-s", "es", "-t", "en",
             "--trainpref", f"{raw}/train", "--validpref", f"{raw}/valid", "--testpref", f"{raw}/test",
             "--destdir", str(work / "bin"), "--max-len", "48", "--quiet"])
    common = ["fairseq-train", str(work / "bin"), "--user-dir", "bnb_fairseq", "--task", "bnb_seq2seq",
              "-s", "es", "-t", "en", "--bert-checkpoint", tiny_bert_dir, "--optimizer", "adam", "--lr", "1e-3",
              "--batch-size", "8", "--max-update", "3", "--no-epoch-checkpoints", "--disable-validation",
              "--num-workers", "0", "--seed", "1"]
    run_cli(common + ["--arch", "bert2bert_small", "--criterion", "label_smoothed_cross_entropy",
                      "--save-dir", str(work / "ar")])
    run_cli(common + ["--arch", "bnb_small", "--criterion", "bnb_ctc", "--save-dir", str(work / "nar")])
    run_cli(common + ["--arch", "bnb_small", "--length-control", "classify", "--criterion", "bnb_nat",
                      "--save-dir", str(work / "classify")])
    return work, raw


def test_fast_benchmark_writes_table_json_and_plot(tiny_pair):
    work, raw = tiny_pair
    out = work / "result"
    proc = run_cli(["bash", "examples/benchmark.sh", "--fast"], env_extra={
        "DATA": str(work / "bin"), "SRC": "es", "TGT": "en", "REFERENCE": f"{raw}/test.en", "OUT": str(out),
        "AR": f"b2b={work}/ar/checkpoint_last.pt", "NAR": f"bnb={work}/nar/checkpoint_last.pt",
        "BLANK_PENALTY": "1", "CTC_BEAM": "3", "THREADS": "1"})
    result = json.loads((out / "results.json").read_text())
    kinds = [r["kind"] for r in result["rows"]]
    assert kinds == ["ar-beam1", "ar-beam4", "bnb-ctc-greedy", "bnb-ctc-greedy-penalty", "bnb-ctc-beam", "floor", "cmlm"]
    assert result["baseline"] == "b2b AR beam 4"
    for r in result["rows"]:
        assert r["sentences"] == 8 and r["latency_sentences"] == 3
        assert 0 < r["latency_ms_p50"] <= r["latency_ms_p90"] * 1.0001
        assert r["sentences_per_s"] > 0
        if r["kind"] in ("floor", "cmlm"):
            assert "bleu" not in r
        else:
            assert 0 <= r["bleu"] <= 100 and r["ref_words"] > 0
    base = next(r for r in result["rows"] if r["kind"] == "ar-beam4")
    assert base["speedup_batch1"] == pytest.approx(1.0) and base["speedup_batched"] == pytest.approx(1.0)
    table = (out / "results.md").read_text()
    assert table in proc.stdout
    assert "generator overhead" in table and "threads" in table
    assert (out / "speedup.png").stat().st_size > 1000


def test_wrong_kind_of_checkpoint_is_refused(tiny_pair, tmp_path):
    work, _ = tiny_pair
    proc = run_cli([sys.executable, "-m", "bnb_fairseq.tools.benchmark", "--data", str(work / "bin"), "-s", "es",
                    "-t", "en", "--ar", f"{work}/nar/checkpoint_last.pt", "--out", str(tmp_path), "--fast"],
                   check=False)
    assert proc.returncode != 0
    assert "not an autoregressive model" in proc.stderr


def test_classify_model_rows(tiny_pair):
    """A --length-control classify model gets length-beam and refinement rows instead of CTC ones."""
    work, raw = tiny_pair
    out = work / "result-classify"
    run_cli(["bash", "examples/benchmark.sh", "--fast", "--no-cmlm"], env_extra={
        "DATA": str(work / "bin"), "SRC": "es", "TGT": "en", "REFERENCE": f"{raw}/test.en", "OUT": str(out),
        "AR": f"b2b={work}/ar/checkpoint_last.pt", "NAR": f"cls={work}/classify/checkpoint_last.pt",
        "LENGTH_BEAM": "3", "REFINE": "2", "THREADS": "1"})
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["setting"] for r in rows] == [
        "b2b AR greedy", "b2b AR beam 4", "cls BnB length beam 1", "cls BnB length beam 1, 2 refinement passes",
        "cls BnB length beam 3", "cls model-only floor"]
    assert all(0 <= r["bleu"] <= 100 for r in rows if r["kind"] != "floor")
