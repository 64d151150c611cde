"""Half precision: the network runs in fp16/bf16, but the output log-softmax and the CTC loss stay in
fp32 (a 30k-way log-softmax and CTC's sums over alignments lose too much in 16 bits), and CPU
training through fairseq's own trainer and its FP16Optimizer runs without NaN and learns.

fairseq 0.12's argparse front end turns --bf16 into --tpu. Without a TPU, bf16 needs fairseq's
config with common.tpu off (as fairseq-hydra-train leaves it): ``run_trainer`` parses the command
line with fairseq's own parser and starts fairseq's own training loop with that config.
"""

import argparse
import json
import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import CLS, NO_DROPOUT, PAD, SEP, right_pad, run_cli

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.criterions.bnb_ctc import BnbCtcConfig, BnbCtcCriterion
from bnb_fairseq.criterions.bnb_nat import BnbNatConfig, BnbNatCriterion
from bnb_fairseq.models.bnb import BnbModel, bnb_small

N_UPDATES = 32

RUN_TRAINER = """
import sys
from fairseq import distributed_utils, options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq_cli import train

cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), sys.argv[1:]))
cfg.common.tpu = False  # argparse sets it with --bf16; there is no TPU here
distributed_utils.call_main(cfg, train.main)
"""


def build(bert_dir, **overrides):
    torch.manual_seed(0)
    cfg = argparse.Namespace(bert_checkpoint=bert_dir, **{**NO_DROPOUT, "output_vocab": "full", **overrides})
    bnb_small(cfg)
    d = BertDictionary.load(bert_dir)
    task = argparse.Namespace(source_dictionary=d, target_dictionary=d)
    return BnbModel.build_model(cfg, task), task


def sample():
    src = right_pad([[CLS, 7592, 2088, 2003, 2204, SEP], [CLS, 2129, 2024, 2017, SEP]])
    tgt = right_pad([[CLS, 2023, 2003, 1037, 3231, SEP], [CLS, 2748, 2748, SEP]])
    return {
        "id": torch.arange(2),
        "nsentences": 2,
        "ntokens": int(tgt.ne(PAD).sum()),
        "target": tgt,
        "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)},
    }


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_log_softmax_and_ctc_in_fp32(tiny_bert_dir, dtype, monkeypatch):
    model, task = build(tiny_bert_dir)
    model.to(dtype).train()
    batch = sample()
    logits, extra = model(**batch["net_input"])
    assert logits.dtype == dtype  # the network itself runs in half precision
    lprobs = model.get_normalized_probs((logits, extra), log_probs=True)
    assert lprobs.dtype == torch.float32
    # computed from the half logits in fp32, not rounded to 16 bits afterwards
    assert torch.allclose(lprobs, F.log_softmax(logits.float(), dim=-1), atol=1e-6)
    assert not torch.allclose(lprobs, F.log_softmax(logits, dim=-1).float(), atol=1e-6)

    ctc_inputs = []
    ctc_loss = F.ctc_loss

    def spy(log_probs, *args, **kwargs):
        ctc_inputs.append(log_probs.dtype)
        return ctc_loss(log_probs, *args, **kwargs)

    monkeypatch.setattr(F, "ctc_loss", spy)
    loss, _, log = BnbCtcCriterion(BnbCtcConfig(), task)(model, batch)
    assert ctc_inputs == [torch.float32]
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == dtype and torch.isfinite(g).all() for g in grads)


def test_classify_losses_in_fp32(tiny_bert_dir):
    model, task = build(tiny_bert_dir, length_control="classify", length_classes=16)
    model.to(torch.bfloat16).train()
    loss, _, log = BnbNatCriterion(BnbNatConfig(), task)(model, sample())
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert log["nll_loss"].dtype == log["length"].dtype == torch.float32


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """This module's folder, with the trainer script (the runs train on the shared binarized demo slice)."""
    work = tmp_path_factory.mktemp("mixed")
    (work / "run_trainer.py").write_text(RUN_TRAINER)
    return work


def train_args(data_bin, bert, save_dir):
    return [
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
        "--batch-size",
        "8",
        "--max-update",
        str(N_UPDATES),
        "--cpu",
        "--num-workers",
        "0",
        "--seed",
        "1",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        "--disable-validation",
        "--no-epoch-checkpoints",
        "--save-dir",
        str(save_dir),
    ]


def train_losses(log):
    lines = [x for x in log.splitlines() if "train_inner" in x and "{" in x]
    return [json.loads(x[x.index("{") :]) for x in lines]


@pytest.mark.slow
def test_cpu_bf16_training(data, demo_data, tiny_bert_dir):
    """N_UPDATES of fairseq's trainer in bf16 (its FP16Optimizer keeps fp32 master weights; bf16 needs no
    loss scaling). CPU --fp16 is not tested: fairseq's overflow handling calls .cuda()."""
    save_dir = data / "bf16"
    out = run_cli(
        [sys.executable, str(data / "run_trainer.py"), *train_args(demo_data.bin, tiny_bert_dir, save_dir), "--bf16"],
        env_extra={"OMP_NUM_THREADS": "1"},
    )
    stats = train_losses(out.stdout + out.stderr)
    assert [int(s["num_updates"]) for s in stats] == list(range(1, N_UPDATES + 1))
    losses = [float(s["loss"]) for s in stats]
    assert all(loss == loss and loss < float("inf") for loss in losses), losses  # no NaN, no inf
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.95 * first, (first, last)
    # fairseq saves the weights as fp32: those of a network trained in bf16 are exactly representable
    # in bf16, which the weights of an fp32 run are not
    state = torch.load(save_dir / "checkpoint_last.pt", map_location="cpu")
    weights = [t for t in state["model"].values() if t.is_floating_point()]
    assert all(torch.isfinite(t).all() for t in weights)
    assert all(torch.equal(t.to(torch.bfloat16).float(), t) for t in weights)
    print(f"bf16 CPU training: mean loss of updates 1-4 {first:.3f}, of updates {N_UPDATES - 3}-{N_UPDATES} {last:.3f}")
