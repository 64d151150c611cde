"""Label priors for CTC (Huang et al. 2024, "less peaky CTC"): CTC summed over log p - alpha x log prior,
the prior a running mean of the model's own frame posteriors. Blank-heavy alignments lose to ones that
hold words over more frames, which works against CTC's under-generation at training time. The blank
penalty in training does the same for the blank alone, a constant in place of the prior, so that word
frequencies keep their weight. Shared by bnb_ctc (CTC length control) and bnb_nat (``--classify-ctc``
slots)."""

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq.dataclass import FairseqDataclass


@dataclass
class CtcLabelPriorConfig(FairseqDataclass):
    ctc_prior_weight: float = field(
        default=0.0,
        metadata={
            "help": "train CTC on log p - alpha x log prior, the prior a running average of the model's own "
            "frame posteriors (label priors, Huang et al. 2024 'less peaky CTC'): alignments that hold "
            "words over more frames gain on blank-heavy ones, against CTC's under-generation (bnb_ctc, and "
            "bnb_nat for --classify-ctc models); 0: off"
        },
    )
    ctc_prior_momentum: float = field(
        default=0.05, metadata={"help": "weight of each training batch in the running prior (--ctc-prior-weight)"}
    )
    ctc_train_blank_penalty: float = field(
        default=0.0,
        metadata={
            "help": "train CTC on scores where the blank's log-probability is lowered by this many nats: "
            "alignments that hold words over more frames gain on blank-heavy ones, so that the model under-"
            "generates less at decoding without a --ctc-blank-penalty (bnb_ctc, and bnb_nat for "
            "--classify-ctc models; with --ctc-prior-weight, both apply); 0: off"
        },
    )
    ctc_train_blank_penalty_warmup: int = field(
        default=0,
        metadata={
            "help": "--ctc-train-blank-penalty grows linearly from 0 to its value over this many updates (CTC "
            "learns first by leaving blanks where unsure; the full penalty from the first update slows it badly)"
        },
    )


class CtcLabelPrior:
    """The running prior, the blank penalty and the frame scores CTC sums over."""

    def __init__(self, cfg):
        self.weight, self.momentum = cfg.ctc_prior_weight, cfg.ctc_prior_momentum
        self.blank_penalty = cfg.ctc_train_blank_penalty
        self.blank_penalty_warmup = cfg.ctc_train_blank_penalty_warmup
        self.num_updates = 0  # set by the criterion (set_num_updates)
        if self.weight < 0 or not 0 < self.momentum <= 1:
            raise ValueError(
                f"--ctc-prior-weight {self.weight} --ctc-prior-momentum {self.momentum}: give a weight "
                ">= 0 and a momentum in (0, 1]"
            )
        if self.blank_penalty < 0 or self.blank_penalty_warmup < 0:
            raise ValueError(
                f"--ctc-train-blank-penalty {self.blank_penalty} --ctc-train-blank-penalty-warmup "
                f"{self.blank_penalty_warmup}: give a penalty >= 0 (nats taken from the blank) and updates >= 0"
            )
        self.log_prior = None  # (V,) log of the running mean frame posterior, from the first training batch on

    @property
    def enabled(self):
        return self.weight > 0 or self.blank_penalty > 0

    def scores(self, lprobs, padding_mask, update, blank):
        """``lprobs`` less weight x the log prior (updated from this batch's real frames when ``update``) and
        less the blank penalty at ``blank``, or None when neither applies (both off, or only the prior and
        validation before the first training batch)."""
        prior = self._prior_scores(lprobs, padding_mask, update)
        penalty = self.current_blank_penalty()
        if penalty <= 0:
            return prior
        shift = lprobs.new_zeros(lprobs.size(-1))
        shift[blank] = penalty
        return (lprobs if prior is None else prior) - shift

    def current_blank_penalty(self):
        if self.blank_penalty_warmup <= 0:
            return self.blank_penalty
        return self.blank_penalty * min(1.0, self.num_updates / self.blank_penalty_warmup)

    def _prior_scores(self, lprobs, padding_mask, update):
        if self.weight <= 0:
            return None
        if update:
            with torch.no_grad():
                batch = lprobs.detach().exp()[~padding_mask].mean(0)
                if self.log_prior is None or self.log_prior.shape != batch.shape:
                    prior = batch
                else:
                    prior = (1 - self.momentum) * self.log_prior.exp() + self.momentum * batch
                self.log_prior = prior.clamp(min=1e-8).log()
        if self.log_prior is None or self.log_prior.shape[-1] != lprobs.size(-1):
            return None
        return lprobs - self.weight * self.log_prior.to(lprobs.device)


def ctc_fits(input_lengths, targets, target_lengths):
    """(B,) whether each target can be aligned to its frames (CTC needs a frame per token and one more
    between equal neighbours)."""
    repeats = (targets[:, 1:] == targets[:, :-1]) & (
        torch.arange(1, targets.size(1), device=targets.device)[None] < target_lengths[:, None]
    )
    return input_lengths >= target_lengths + repeats.sum(1)


def ctc_loss_per_sentence(lprobs, input_lengths, targets, target_lengths, blank, zero_infinity=True, scores=None):
    """(B,) CTC negative log-likelihood over ``scores`` (default: ``lprobs``) with the true gradient, and
    (B,) whether each target fits its frames.

    torch's CTC backward gives exp(score) - occupancy, the gradient through a log-softmax, which is right
    for log-probabilities only; for other scores a zero-valued term takes exp(score) back out, leaving
    -occupancy (sentences zeroed as unfit get no gradient)."""
    nll = F.ctc_loss(
        (lprobs if scores is None else scores).transpose(0, 1),
        targets,
        input_lengths,
        target_lengths,
        blank=blank,
        reduction="none",
        zero_infinity=zero_infinity,
    )
    fits = ctc_fits(input_lengths, targets, target_lengths)
    if scores is not None:
        frames = torch.arange(scores.size(1), device=scores.device)[None] < input_lengths[:, None]
        counted = (frames & fits[:, None]).unsqueeze(-1)
        surplus = (scores.detach().exp() * scores).masked_fill(~counted, 0.0).sum((1, 2))
        nll = nll - (surplus - surplus.detach())
    return nll, fits
