"""examples/benchmark.sh in its fast mode on tiny models: every setting runs and the table, JSON
and plot are written with consistent numbers."""

import argparse
import json
import sys

import pytest
import torch
from conftest import run_cli

pytestmark = pytest.mark.slow  # every test here runs the command lines on trained models


@pytest.fixture(scope="module")
def tiny_pair(demo_data, tiny_b2b, tiny_ctc, tiny_classify):
    """A tiny bert2bert, a tiny CTC bnb and a tiny classify bnb (the session's), on the same binarized slice."""
    return demo_data, {"ar": tiny_b2b.checkpoint, "nar": tiny_ctc.checkpoint, "classify": tiny_classify.checkpoint}


def test_fast_benchmark_writes_table_json_and_plot(tiny_pair, tmp_path):
    data, ckpt = tiny_pair
    out = tmp_path / "result"
    proc = run_cli(
        ["bash", "examples/benchmark.sh", "--fast"],
        env_extra={
            "DATA": str(data.bin),
            "SRC": "es",
            "TGT": "en",
            "REFERENCE": f"{data.raw}/test.en",
            "OUT": str(out),
            "AR": f"b2b={ckpt['ar']}",
            "NAR": f"bnb={ckpt['nar']}",
            "BLANK_PENALTY": "1",
            "CTC_BEAM": "3",
            "THREADS": "1",
        },
    )
    result = json.loads((out / "results.json").read_text())
    kinds = [r["kind"] for r in result["rows"]]
    assert kinds == [
        "ar-beam1",
        "ar-beam4",
        "bnb-ctc-greedy",
        "bnb-ctc-greedy-penalty",
        "bnb-ctc-beam",
        "floor",
        "cmlm",
    ]
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
    data, ckpt = tiny_pair
    proc = run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.benchmark",
            "--data",
            str(data.bin),
            "-s",
            "es",
            "-t",
            "en",
            "--ar",
            str(ckpt["nar"]),
            "--out",
            str(tmp_path),
            "--fast",
        ],
        check=False,
    )
    assert proc.returncode != 0
    assert "not an autoregressive model" in proc.stderr


def test_classify_model_rows(tiny_pair, tmp_path):
    """A --length-control classify model gets length-beam and refinement rows instead of CTC ones."""
    data, ckpt = tiny_pair
    out = tmp_path / "result-classify"
    run_cli(
        ["bash", "examples/benchmark.sh", "--fast", "--no-cmlm"],
        env_extra={
            "DATA": str(data.bin),
            "SRC": "es",
            "TGT": "en",
            "REFERENCE": f"{data.raw}/test.en",
            "OUT": str(out),
            "AR": f"b2b={ckpt['ar']}",
            "NAR": f"cls={ckpt['classify']}",
            "LENGTH_BEAM": "3",
            "REFINE": "2",
            "THREADS": "1",
        },
    )
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["setting"] for r in rows] == [
        "b2b AR greedy",
        "b2b AR beam 4",
        "cls BnB length beam 1",
        "cls BnB length beam 1, 2 refinement passes",
        "cls BnB length beam 3",
        "cls model-only floor",
    ]
    assert all(0 <= r["bleu"] <= 100 for r in rows if r["kind"] != "floor")


def test_settings_are_timed_in_turn_in_rounds():
    """Each round times every setting on its share: a slow spell of the machine reaches all settings alike;
    every sentence is timed once and every batch decoded once per setting."""
    from bnb_fairseq.tools.benchmark import Setting, in_rounds, run_settings

    assert in_rounds(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    calls = []

    def decoder(name):
        def decode(sample):
            calls.append((name, int(sample["id"][0])))
            return [torch.tensor([5, 6]) for _ in sample["id"]]

        return decode

    def sample(*ids):
        return {"id": torch.tensor(ids)}

    warm, single = [sample(99)], [sample(i) for i in range(4)]
    batched = [sample(10, 11), sample(12, 13)]
    settings = [Setting("a", "nar", decoder("a")), Setting("b", "nar", decoder("b"))]
    dictionary = argparse.Namespace(bos=lambda: 0, eos=lambda: 2, pad=lambda: 1)
    rows = run_settings(settings, warm, single, batched, "cpu", dictionary, rounds=2)
    timed = [c for c in calls[4:] if c[1] != 99]  # after each setting's warm-up (a sentence and a batch)
    assert timed == [("a", 0), ("a", 1), ("a", 10), ("b", 0), ("b", 1), ("b", 10)] + [
        ("a", 2),
        ("a", 3),
        ("a", 12),
        ("b", 2),
        ("b", 3),
        ("b", 12),
    ]
    for row, hyps in rows:
        assert row["latency_sentences"] == 4 and row["sentences"] == 4 and sorted(hyps) == [10, 11, 12, 13]
