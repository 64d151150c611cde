"""JANUS training of a ``--janus`` BnB model: its parallel loss (bnb_ctc's or bnb_nat's, by the model's
length control) + the autoregressive view's label-smoothed cross-entropy + a symmetric KL between the two
views' output distributions at aligned positions, so that one set of weights learns both manners and
each learns from the other (Liang et al., EMNLP 2022)."""

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import ChoiceEnum

from bnb_fairseq.criterions.bnb_ctc import BnbCtcConfig, BnbCtcCriterion
from bnb_fairseq.criterions.bnb_nat import BnbNatConfig, BnbNatCriterion, label_smoothed_token_loss
from bnb_fairseq.models.janus import has_autoregressive_view
from bnb_fairseq.models.parallel_decoder import is_parallel


@dataclass
class BnbJanusConfig(BnbCtcConfig, BnbNatConfig):
    """bnb_ctc's and bnb_nat's options (each used by the models of its length control) and the JANUS weights;
    --label-smoothing also smooths the autoregressive loss."""

    janus_ar_weight: float = field(
        default=1.0, metadata={"help": "weight of the autoregressive view's cross-entropy (per token); 0: AR loss off"}
    )
    janus_kl_weight: float = field(
        default=1.0,
        metadata={
            "help": "weight of the symmetric KL between the AR and the NAR distributions at aligned positions "
            "(classify: slot j and AR step j - 1 predict target token j; CTC: the frames of target token k in "
            "the best CTC alignment and AR step k - 1), per position; 0: auxiliary loss off"
        },
    )
    janus_kl_into: ChoiceEnum(["both", "nar", "ar"]) = field(
        default="both",
        metadata={
            "help": "which view the KL's gradients reach: both (JANUS's mutual learning), nar (the AR "
            "distribution is a fixed teacher: online distillation into the one-pass view) or ar (the "
            "reverse)"
        },
    )


def symmetric_kl(a, b):
    """(KL(a || b) + KL(b || a)) / 2 of rows of log-probabilities, per row; gradients reach both sides
    (detach one side to make it a fixed teacher)."""
    return 0.5 * ((a.exp() * (a - b)).sum(-1) + (b.exp() * (b - a)).sum(-1))


@register_criterion("bnb_janus", dataclass=BnbJanusConfig)
class BnbJanusCriterion(FairseqCriterion):
    def __init__(self, cfg, task):
        super().__init__(task)
        for name in ("janus_ar_weight", "janus_kl_weight"):
            if getattr(cfg, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be 0 or more")
        self.ar_weight, self.kl_weight = cfg.janus_ar_weight, cfg.janus_kl_weight
        self.kl_into = getattr(cfg, "janus_kl_into", "both")
        self.eps = cfg.label_smoothing
        self.ctc, self.nat = BnbCtcCriterion(cfg, task), BnbNatCriterion(cfg, task)

    def set_num_updates(self, num_updates):
        self.ctc.set_num_updates(num_updates)
        self.nat.set_num_updates(num_updates)

    def forward(self, model, sample, reduce=True):
        if not has_autoregressive_view(model):
            raise ValueError(
                f"--criterion bnb_janus trains BnB models built with --janus (the decoder's autoregressive view); "
                f"{type(model).__name__} {'has no --janus' if is_parallel(model) else 'is not a BnB model'}"
                ": add --janus, or train with --criterion bnb_ctc / bnb_nat"
            )
        parallel = self.nat if model.decoder.predicts_length else self.ctc
        joint = self.ar_weight > 0 or self.kl_weight > 0
        loss, sample_size, log, parts = parallel.compute(model, sample, align=self.kl_weight > 0, autoregressive=joint)
        log = dict(log, nar_loss=log["loss"])
        if not joint:
            return loss, sample_size, log
        target = sample["target"][:, 1:]  # the view reads [CLS] y and predicts y [SEP]
        extra = parts["net_output"][1]
        ar_lprobs = F.log_softmax(extra["ar_logits"], dim=-1, dtype=torch.float32)
        ar_slots = model.decoder.output_index(target)
        real = target.ne(self.padding_idx)
        ar_loss, nll = label_smoothed_token_loss(ar_lprobs, ar_slots, real, self.eps)
        ar_loss = ar_loss.sum()
        total = loss + self.ar_weight * ar_loss
        log.update(ar_loss=ar_loss.data, ar_nll=nll.sum().data, ar_tokens=int(real.sum()))
        if self.kl_weight > 0:
            steps = parts["aligned_steps"]
            rows, slots = (steps >= 0).nonzero(as_tuple=True)
            nar_side, ar_side = parts["lprobs"][rows, slots], ar_lprobs[rows, steps[rows, slots]]
            if self.kl_into == "nar":
                ar_side = ar_side.detach()
            elif self.kl_into == "ar":
                nar_side = nar_side.detach()
            kl = symmetric_kl(nar_side, ar_side).sum()
            total = total + self.kl_weight * kl
            log.update(janus_kl=kl.data, kl_positions=len(rows))
        log["loss"] = total.data
        return total, sample_size, log

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        if any("ctc_loss" in log for log in logging_outputs):
            BnbCtcCriterion.reduce_metrics(logging_outputs)
        else:
            BnbNatCriterion.reduce_metrics(logging_outputs)

        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        sample_size = total("sample_size")
        # the parallel loss alone, beside the joint "loss" (bits per target token)
        metrics.log_scalar("nar_loss", total("nar_loss") / max(sample_size, 1) / math.log(2), sample_size, round=3)
        ar_tokens = total("ar_tokens")
        if ar_tokens:
            metrics.log_scalar("ar_loss", total("ar_loss") / ar_tokens / math.log(2), ar_tokens, round=3)
            metrics.log_scalar("ar_nll", total("ar_nll") / ar_tokens / math.log(2), ar_tokens, round=3)
        positions = total("kl_positions")
        if any("janus_kl" in log for log in logging_outputs):  # nats per aligned position
            metrics.log_scalar("janus_kl", total("janus_kl") / max(positions, 1), positions, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
