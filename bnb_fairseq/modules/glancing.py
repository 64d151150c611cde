"""Glancing training (GLAT, Qian et al. 2021): a first decoder pass without gradients, then a second
pass that reads some reference words at their slots, as many as ``ratio`` x the first pass's errors;
the fewer errors the model makes, the less it is shown, so it learns to produce whole sentences in
one pass in stages."""

from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.dataclass import FairseqDataclass


@dataclass
class GlancingConfig(FairseqDataclass):
    glat_ratio: float = field(
        default=0.0,
        metadata={
            "help": "glancing training: the second pass reads this fraction of the first pass's wrong slots' "
            "reference words (random slots; GLAT's 0.5); 0: off"
        },
    )
    glat_ratio_final: Optional[float] = field(
        default=None,
        metadata={"help": "glancing: anneal the ratio linearly to this value (GLAT: 0.5 -> 0.3); default: constant"},
    )
    glat_anneal_updates: int = field(
        default=0, metadata={"help": "glancing: updates over which the ratio goes from --glat-ratio to its final value"}
    )


class Glancing:
    """The glancing schedule and the choice of glanced slots, shared by bnb_nat and bnb_ctc."""

    def __init__(self, cfg):
        self.start = cfg.glat_ratio
        self.final = cfg.glat_ratio if cfg.glat_ratio_final is None else cfg.glat_ratio_final
        self.anneal = cfg.glat_anneal_updates
        for name, value in (("--glat-ratio", self.start), ("--glat-ratio-final", self.final)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} {value}: give a fraction in [0, 1]")
        if self.final != self.start and self.anneal <= 0:
            raise ValueError("--glat-ratio-final needs --glat-anneal-updates N > 0 (the updates to anneal over)")
        self.num_updates = 0

    @property
    def enabled(self):
        return self.start > 0 or self.final > 0

    def ratio(self, num_updates=None):
        n = self.num_updates if num_updates is None else num_updates
        if self.anneal <= 0:
            return self.start
        progress = min(max(n, 0) / self.anneal, 1.0)
        return self.start + (self.final - self.start) * progress

    def choose(self, predicted, reference, real, can_glance=None):
        """(B, T) slots to glance at: ``floor(ratio x wrong slots)`` random real slots of each row, among
        ``can_glance`` (default: all real slots); ``predicted``/``reference`` are compared where ``real``."""
        wrong = (predicted.ne(reference) & real).sum(1)
        count = (wrong.float() * self.ratio()).long()
        allowed = real if can_glance is None else real & can_glance
        noise = torch.rand(real.shape, device=real.device).masked_fill(~allowed, 2.0)
        rank = noise.argsort(1).argsort(1)
        return (rank < count[:, None]) & allowed
