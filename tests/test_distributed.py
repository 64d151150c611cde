"""Data-parallel training through fairseq's own distributed trainer (gloo, 2 CPU processes) is the
same optimisation as one process accumulating the same two batches with --update-freq 2, and all
ranks end with the same parameters.

On CPU fairseq 0.12 cannot take its ranks from torchrun (it divides by the number of GPUs), so the
two processes are started the way fairseq's multi-node instructions do: one command per process with
--distributed-init-method tcp://..., its own --distributed-rank and --distributed-no-spawn.
"""

import json
import os
import socket
import subprocess

import pytest
import torch
from conftest import ROOT, run_cli

N_UPDATES = 6  # 64 sentences, 2 x 8 a step: 4 updates an epoch, so the run crosses an epoch boundary
# Logged losses are rounded to 3 decimals; the two runs differ only in the order in which the two
# micro-batch gradients are summed (on one process, or by gloo's all-reduce), a rounding-level
# difference, so the logged values must agree to that rounding and the parameters to 1e-5.
LOSS_TOL = 1e-3
PARAM_TOL = 1e-5

# A --user-dir that adds to bnb_seq2seq one thing: at validation, which fairseq runs on every rank
# after the last update, each rank writes a hash of its parameters. Only fairseq's task hooks are used.
RANK_HASH_PLUGIN = """
import hashlib, os
from dataclasses import dataclass
import torch
import bnb_fairseq  # noqa: F401
from fairseq.tasks import register_task
from bnb_fairseq.tasks.bnb_seq2seq import BnbSeq2SeqConfig, BnbSeq2SeqTask

@dataclass
class RankHashConfig(BnbSeq2SeqConfig):
    pass

@register_task("bnb_seq2seq_rank_hash", dataclass=RankHashConfig)
class RankHashTask(BnbSeq2SeqTask):
    def begin_valid_epoch(self, epoch, model):
        super().begin_valid_epoch(epoch, model)
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().numpy().tobytes())
        with open(os.path.join(os.environ["RANK_HASH_DIR"], f"rank{rank}.txt"), "w") as f:
            f.write(digest.hexdigest())
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory, demo_data, tiny_bert_dir):
    """This module's folder (with the plugin) and the shared binarized demo slice (64 training sentences)."""
    work = tmp_path_factory.mktemp("ddp")
    plugin = work / "rank_hash_plugin"
    plugin.mkdir()
    (plugin / "__init__.py").write_text(RANK_HASH_PLUGIN)
    return work, demo_data.bin, tiny_bert_dir


def train_args(work, data_bin, bert, save_dir):
    return [
        "fairseq-train",
        str(data_bin),
        "--user-dir",
        str(work / "rank_hash_plugin"),
        "--task",
        "bnb_seq2seq_rank_hash",
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
        "1e-3",
        "--batch-size",
        "8",
        "--max-update",
        str(N_UPDATES),
        "--dropout",
        "0",
        "--attention-dropout",
        "0",
        "--latent-dropout",
        "0",
        "--memory-dropout",
        "0",
        "--seed",
        "3",
        "--cpu",
        "--num-workers",
        "0",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        "--save-dir",
        str(save_dir),
        "--no-epoch-checkpoints",
        "--validate-interval",
        "100",
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def losses(log):
    """{num_updates: loss} from fairseq's json train_inner lines."""
    out = {}
    for line in log.splitlines():
        if "| train_inner |" in line:
            stats = json.loads(line.split("| train_inner | ", 1)[1])
            out[int(stats["num_updates"])] = (float(stats["loss"]), int(stats["bsz"]))
    return out


def valid_loss(log):
    line = [x for x in log.splitlines() if "| valid |" in x][-1]
    return float(json.loads(line.split("| valid | ", 1)[1])["valid_loss"])


@pytest.mark.slow
def test_two_processes_match_update_freq_2(setup):
    work, data_bin, bert = setup
    env = dict(os.environ, PYTHONPATH=ROOT, TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")

    ddp_hashes = work / "ddp_hashes"
    ddp_hashes.mkdir()
    port = free_port()
    procs = [
        subprocess.Popen(
            train_args(work, data_bin, bert, work / "ddp")
            + [
                "--distributed-world-size",
                "2",
                "--distributed-rank",
                str(rank),
                "--distributed-backend",
                "gloo",
                "--distributed-init-method",
                f"tcp://localhost:{port}",
                "--distributed-no-spawn",
                "--ddp-backend",
                "legacy_ddp",
            ],  # torch's DDP wrapper wants a GPU device id
            cwd=ROOT,
            env=dict(env, RANK_HASH_DIR=str(ddp_hashes)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    assert "distributed init (rank 1)" in logs[1], logs[1][-3000:]

    single_hashes = work / "single_hashes"
    single_hashes.mkdir()
    single = run_cli(
        train_args(work, data_bin, bert, work / "single") + ["--update-freq", "2"],
        env_extra={"RANK_HASH_DIR": str(single_hashes), "OMP_NUM_THREADS": "1"},
    )

    ddp, one = losses(logs[0]), losses(single.stdout + single.stderr)
    assert sorted(ddp) == sorted(one) == list(range(1, N_UPDATES + 1)), (ddp, one)
    for n in ddp:
        assert ddp[n][1] == one[n][1] == 16, "each update must see 2 x 8 sentences"
        assert abs(ddp[n][0] - one[n][0]) <= LOSS_TOL, (n, ddp[n], one[n])
    assert abs(valid_loss(logs[0]) - valid_loss(single.stdout + single.stderr)) <= LOSS_TOL

    # every rank ends with the same parameters (validation runs once, after the last update)
    rank0, rank1 = ((ddp_hashes / f"rank{r}.txt").read_text() for r in (0, 1))
    assert len(rank0) == 64 and rank0 == rank1

    # and with the parameters of the single process
    a = torch.load(work / "ddp" / "checkpoint_last.pt", map_location="cpu")
    b = torch.load(work / "single" / "checkpoint_last.pt", map_location="cpu")
    assert a["optimizer_history"][-1]["num_updates"] == b["optimizer_history"][-1]["num_updates"] == N_UPDATES
    diff = max((a["model"][k].float() - b["model"][k].float()).abs().max().item() for k in b["model"])
    assert diff <= PARAM_TOL, diff
    print(
        f"DDP vs --update-freq 2 over {N_UPDATES} updates: max |logged loss diff| "
        f"{max(abs(ddp[n][0] - one[n][0]) for n in ddp):.4f}, max |parameter diff| {diff:.3g}"
    )


@pytest.mark.slow
def test_torchrun_without_world_size_is_refused(setup, monkeypatch):
    """Under torchrun fairseq joins the processes only when --distributed-world-size > 1; its default
    is the number of GPUs, so on a 1-GPU (or CPU) node each process would silently train alone."""
    from conftest import train_cfg
    from fairseq import tasks

    from bnb_fairseq.checkpoint_compat import check_launch

    work, data_bin, bert = setup
    cfg = train_cfg(
        [
            str(data_bin),
            "--user-dir",
            os.path.join(ROOT, "bnb_fairseq"),
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--arch",
            "bnb_small",
            "--criterion",
            "bnb_ctc",
            "--save-dir",
            str(work / "none"),
        ]
    )
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="WORLD_SIZE=2.*Pass --distributed-world-size 2"):
        tasks.setup_task(cfg.task)
    check_launch(cfg.task, from_checkpoint=True)  # a config read from a checkpoint is not a launch
    monkeypatch.setenv("WORLD_SIZE", "1")
    tasks.setup_task(cfg.task)
