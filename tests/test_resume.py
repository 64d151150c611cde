"""A training killed with SIGKILL mid-epoch and started again with the same command continues from
its last checkpoint with the update count, the learning-rate schedule and the data order intact; a
checkpoint cut short or damaged is one error naming it and the intact checkpoint to use instead."""

import json
import os
import re
import signal
import subprocess

import pytest
import torch
from conftest import ROOT, run_cli, starts_early

MAX_UPDATE = 12
SAVE_EVERY = 3
KILL_AFTER = 6  # of 16 updates an epoch (64 sentences, 4 a batch): mid-epoch


def train_cmd(data_bin, bert, save_dir):
    return [
        "fairseq-train",
        str(data_bin),
        "--user-dir",
        "bnb_fairseq",
        "--task",
        "bnb_seq2seq",
        "-s",
        "es",
        "-t",
        "en",
        "--arch",
        "bnb_small",
        "--bert-checkpoint",
        bert,
        "--criterion",
        "bnb_ctc",
        "--optimizer",
        "adam",
        "--lr",
        "2e-3",
        "--lr-scheduler",
        "inverse_sqrt",
        "--warmup-updates",
        "4",
        "--warmup-init-lr",
        "1e-4",
        "--batch-size",
        "4",
        "--max-update",
        str(MAX_UPDATE),
        "--save-interval-updates",
        str(SAVE_EVERY),
        "--no-epoch-checkpoints",
        "--disable-validation",
        "--dropout",
        "0",
        "--attention-dropout",
        "0",
        "--latent-dropout",
        "0",
        "--memory-dropout",
        "0",
        "--seed",
        "2",
        "--cpu",
        "--num-workers",
        "0",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        "--save-dir",
        str(save_dir),
    ]


def updates(log):
    """{num_updates: (lr, loss)} from fairseq's json train_inner lines."""
    out = {}
    for line in log.splitlines():
        if "| train_inner |" in line:
            stats = json.loads(line.split("| train_inner | ", 1)[1])
            out[int(stats["num_updates"])] = (stats["lr"], float(stats["loss"]))
    return out


def env():
    return dict(os.environ, PYTHONPATH=ROOT, TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")


@starts_early("runs")
def kill_and_resume(tmp_path_factory, demo_data, tiny_bert_dir):
    """The uninterrupted reference run, and a run SIGKILLed once its update-6 checkpoint is on disk,
    then started again with the same command (on the shared binarized demo slice, 64 sentences)."""
    work = tmp_path_factory.mktemp("resume")
    # one thread in every run: a different thread count sums in another order (1e-5 differences)
    reference = run_cli(train_cmd(demo_data.bin, tiny_bert_dir, work / "reference"), env_extra={"OMP_NUM_THREADS": "1"})
    cmd = train_cmd(demo_data.bin, tiny_bert_dir, work / "killed")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = []
    for line in proc.stdout:
        first.append(line)
        if "Saved checkpoint" in line and f"@ {KILL_AFTER} updates" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.stdout.close()
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(first)[-3000:]
    resumed = run_cli(cmd, env_extra={"OMP_NUM_THREADS": "1"})
    return work, (reference.stdout + reference.stderr, "".join(first), resumed.stdout + resumed.stderr)


@pytest.fixture(scope="module")
def runs(background, request):
    return background.result(kill_and_resume, request)


@pytest.fixture(scope="module")
def data(runs):
    """This module's folder: the runs' save directories."""
    return runs[0]


@pytest.fixture(scope="module")
def killed_and_resumed(runs):
    """The logs of the reference run, of the run killed, and of its restart."""
    return runs[1]


@pytest.mark.slow
def test_resume_continues_update_count_and_lr_schedule(killed_and_resumed, data):
    reference, first, resumed = killed_and_resumed
    ref, before, after = updates(reference), updates(first), updates(resumed)
    assert sorted(ref) == list(range(1, MAX_UPDATE + 1))
    assert max(before) < MAX_UPDATE, "the first run must have been killed before the end"
    assert re.search(rf"Loaded checkpoint \S+checkpoint_last\.pt \(epoch 1 @ {KILL_AFTER} updates\)", resumed), resumed[
        -3000:
    ]
    # the count goes on from the checkpoint, and every update has the reference's lr (warm-up then
    # inverse square root) and, with the same batches in the same order, the reference's loss
    assert sorted(after) == list(range(KILL_AFTER + 1, MAX_UPDATE + 1)), sorted(after)
    for n in after:
        assert after[n][0] == ref[n][0], (n, after[n], ref[n])
        assert abs(after[n][1] - ref[n][1]) <= 1e-3, (n, after[n], ref[n])
    assert len({ref[n][0] for n in ref}) > 4, "the schedule must change the lr during the run"
    a = torch.load(data / "killed" / "checkpoint_last.pt", map_location="cpu")
    b = torch.load(data / "reference" / "checkpoint_last.pt", map_location="cpu")
    assert a["optimizer_history"][-1]["num_updates"] == MAX_UPDATE
    assert a["extra_state"]["train_iterator"] == b["extra_state"]["train_iterator"]
    diff = max((a["model"][k].float() - b["model"][k].float()).abs().max().item() for k in b["model"])
    assert diff <= 1e-5, diff
    print(
        f"killed by SIGKILL at update {max(before)} (checkpoint at {KILL_AFTER}); restarted: updates "
        f"{min(after)}-{max(after)}, lr {[after[n][0] for n in sorted(after)]} (uninterrupted run: "
        f"{[ref[n][0] for n in sorted(after)]}), max |loss diff| "
        f"{max(abs(after[n][1] - ref[n][1]) for n in after):.4f}, max |parameter diff| at the end {diff:.3g}"
    )


@pytest.mark.slow
def test_truncated_last_checkpoint_names_file_and_intact_one(killed_and_resumed, data, demo_data, tiny_bert_dir):
    save_dir = data / "killed"
    last = save_dir / "checkpoint_last.pt"
    good = save_dir / f"checkpoint_1_{MAX_UPDATE}.pt"
    assert good.exists()
    # what a kill during fairseq's (non-atomic) copy to checkpoint_last.pt leaves behind
    with open(last, "r+b") as f:
        f.truncate(os.path.getsize(last) // 2)
    out = run_cli(train_cmd(demo_data.bin, tiny_bert_dir, save_dir), check=False)
    assert out.returncode != 0
    errors = [line for line in (out.stdout + out.stderr).splitlines() if "CheckpointFileError:" in line]
    assert len(errors) == 1, out.stderr[-3000:]
    assert f"checkpoint {last} is incomplete" in errors[0]
    assert f"the newest intact checkpoint beside it is {good}" in errors[0]
    assert f"cp {good} {last}" in errors[0]
    assert "PytorchStreamReader" not in out.stdout + out.stderr

    # following the advice resumes
    os.replace(good, last)
    again = run_cli(train_cmd(demo_data.bin, tiny_bert_dir, save_dir) + ["--max-update", str(MAX_UPDATE + 1)])
    assert f"@ {MAX_UPDATE} updates)" in again.stdout + again.stderr
    assert sorted(updates(again.stdout + again.stderr)) == [MAX_UPDATE + 1]


@pytest.mark.slow
def test_damaged_checkpoint_at_generation(killed_and_resumed, data, demo_data):
    save_dir = data / "killed"
    path = save_dir / f"checkpoint_1_{KILL_AFTER}.pt"
    with open(path, "r+b") as f:  # flip bytes inside the weights: the size and zip directory stay intact
        f.seek(os.path.getsize(path) // 2)
        chunk = f.read(64)
        f.seek(-64, os.SEEK_CUR)
        f.write(bytes(b ^ 0xFF for b in chunk))
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
            str(path),
            "--gen-subset",
            "test",
            "--batch-size",
            "4",
            "--num-workers",
            "0",
        ],
        check=False,
    )
    assert out.returncode != 0
    assert re.search(rf"CheckpointFileError: checkpoint {re.escape(str(path))} is damaged \(Bad CRC-32", out.stderr)
    good = re.search(r"the newest intact checkpoint beside it is (\S+): pass --path (\S+)", out.stderr)
    assert good and good.group(1) == good.group(2) and good.group(1) != str(path)


def test_checkpoint_problem_kinds(tmp_path):
    from bnb_fairseq.checkpoint_compat import checkpoint_problem, newest_intact_checkpoint

    ok = tmp_path / "ok.pt"
    torch.save({"model": {"w": torch.arange(1000.0)}}, ok)
    assert checkpoint_problem(ok) is None
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert checkpoint_problem(empty) == "is empty (0 bytes)"
    cut = tmp_path / "cut.pt"
    cut.write_bytes(ok.read_bytes()[:-200])
    assert checkpoint_problem(cut).startswith("is incomplete")
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(3)}, legacy, _use_new_zipfile_serialization=False)
    assert checkpoint_problem(legacy) is None
    torch.serialization.set_crc32_options(False)
    try:
        no_crc = tmp_path / "no_crc.pt"
        torch.save({"w": torch.ones(3)}, no_crc)
    finally:
        torch.serialization.set_crc32_options(True)
    assert checkpoint_problem(no_crc) is None
    for path, mtime in ((cut, 1e9 + 20), (ok, 1e9 + 10), (legacy, 1e9), (no_crc, 1e9 - 10)):
        os.utime(path, (mtime, mtime))
    assert newest_intact_checkpoint(empty) == str(ok)  # the newest, cut, is damaged
