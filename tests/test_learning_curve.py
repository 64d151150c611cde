"""The learning-curve tool's fast mode: a copy task from a text file, a tiny BERT, a few updates."""

import csv
import json
import os
import sys

import pytest
import torch
from conftest import ROOT, run_cli, starts_early, write_lines

DEMO_EN = os.path.join(ROOT, "examples", "demo", "data", "train.en")


@starts_early("copy_curve")
def run_copy_curve(tmp_path_factory, tiny_bert_dir):
    tmp_path = tmp_path_factory.mktemp("copy_curve")
    with open(DEMO_EN, encoding="utf-8") as f:
        lines = [next(f).rstrip("\n") for _ in range(60)]
    text = tmp_path / "text.en"
    write_lines(text, lines)
    work = tmp_path / "curve"
    proc = run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.learning_curve",
            "run",
            "--copy-text",
            str(text),
            "--bert",
            tiny_bert_dir,
            "--work",
            str(work),
            "--eval-updates",
            "2,6,8",
            "--valid-lines",
            "6",
            "--test-lines",
            "9",
            "--label",
            "tiny-copy",
            "--keep-checkpoints",
            "--average-last",
            "2",
            "--average-every",
            "1",
            "--",
            "--arch",
            "bnb_small",
            "--bert-checkpoint",
            tiny_bert_dir,
            "--output-vocab",
            "train",
            "--criterion",
            "bnb_ctc",
            "--optimizer",
            "adam",
            "--lr",
            "1e-3",
            "--batch-size",
            "8",
            "--num-workers",
            "0",
            "--seed",
            "1",
        ]
    )
    return lines, work, proc


@pytest.fixture(scope="module")
def copy_curve(background, request):
    return background.result(run_copy_curve, request)


@pytest.mark.slow
def test_copy_curve_end_to_end(copy_curve, tmp_path):
    lines, work, proc = copy_curve
    assert "learning_curve: 8 updates" in proc.stdout
    with open(work / "curve.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["updates"]) for r in rows] == [2, 6, 8]
    for r in rows:
        assert r["label"] == "tiny-copy"
        assert int(r["sentences"]) == 9  # every test line decoded
        assert 0 <= float(r["bleu"]) <= 100 and float(r["length_ratio"]) >= 0
        assert int(r["ref_len"]) > 0 and float(r["train_seconds"]) > 0
    assert float(rows[1]["train_seconds"]) >= float(rows[0]["train_seconds"])  # tiny updates: equal once rounded
    with open(work / "curve.json", encoding="utf-8") as f:
        curve = json.load(f)
    assert curve["rows"][1]["updates"] == 6 and "--output-vocab" in curve["train_args"]
    assert (work / "curve.png").stat().st_size > 10_000
    kept = sorted(p.name for p in (work / "checkpoints").glob("checkpoint_*_*.pt"))
    assert [n.rsplit("_", 1)[1] for n in kept] == [f"{u}.pt" for u in range(1, 9)]  # every update: --average-every 1
    # update 6 ends the first epoch (45 training lines, 8 a batch), where fairseq writes only checkpoint_last.pt:
    # the tool kept a copy, so that row 6 scores the weights of update 6, not those of the final update
    assert "checkpoint_last.pt (epoch 1 @ 6 updates" in (work / "train.log").read_text(encoding="utf-8")
    epoch_end = torch.load(work / "checkpoints" / "checkpoint_1_6.pt", map_location="cpu", weights_only=True)
    assert epoch_end["optimizer_history"][-1]["num_updates"] == 6

    # --average-last 2: each row also scores the mean of its update's save and the one before
    assert [r["averaged_updates"] for r in rows] == ["1 2", "5 6", "7 8"]
    for r in rows:
        assert 0 <= float(r["averaged_bleu"]) <= 100 and float(r["averaged_length_ratio"]) >= 0
    assert "learning_curve: 8 updates, the mean of the saves at 7 8: BLEU" in proc.stdout
    mean = torch.load(work / "averaged" / "checkpoint_mean_8.pt", map_location="cpu", weights_only=True)["model"]
    saves = [
        torch.load(work / "checkpoints" / name, map_location="cpu", weights_only=True)["model"] for name in kept[-2:]
    ]
    moved = [n for n, v in mean.items() if v.is_floating_point() and not torch.equal(saves[0][n], saves[1][n])]
    assert moved  # training changed the weights between the two saves
    for n in moved:
        assert torch.allclose(mean[n], (saves[0][n] + saves[1][n]) / 2, atol=1e-6), n

    # the blank penalty is chosen on valid; the last stdout line is the value alone
    tune = [
        sys.executable,
        "-m",
        "bnb_fairseq.tools.tune_blank_penalty",
        str(work / "checkpoints" / kept[-1]),
        str(work / "data-bin"),
        "--reference",
        str(work / "raw" / "valid.tgt"),
        "--candidates",
        "0,3",
    ]
    proc = run_cli(tune)
    assert proc.stdout.strip().splitlines()[-1] in ("0", "3")
    assert "blank penalty 3: valid BLEU" in proc.stderr
    refused = run_cli(tune + ["--subset", "test"], check=False)
    assert refused.returncode != 0 and "choose decoding settings on a held-out split" in refused.stderr
    with open(work / "raw" / "test.src", encoding="utf-8") as f:
        assert f.read().splitlines() == lines[-9:]  # copy mode: last lines held out, src = tgt

    both = tmp_path / "both.png"
    run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.learning_curve",
            "plot",
            str(work / "curve.json"),
            str(work / "curve.json"),
            "--out",
            str(both),
        ]
    )
    assert both.stat().st_size > 10_000


def test_bad_eval_updates_is_one_clear_error(tmp_path):
    proc = run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.learning_curve",
            "run",
            "--work",
            str(tmp_path),
            "--eval-updates",
            "100,abc",
        ],
        check=False,
    )
    assert proc.returncode != 0
    assert "--eval-updates '100,abc': give comma-separated integers" in proc.stderr
