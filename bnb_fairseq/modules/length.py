"""Length classification for BnB (``--length-control classify``): the offset classes, the classifier
that predicts them, the candidate lengths of a length beam and the Gaussian length converter."""

import math

import torch
import torch.nn as nn


def length_offset_classes(src_lengths, tgt_lengths, num_classes):
    """Class of ``target_len - source_len``, shifted by K//2 so that "same length" is the middle class;
    offsets outside the K classes are clamped to the first or last one."""
    return (tgt_lengths - src_lengths + num_classes // 2).clamp(0, num_classes - 1)


def class_lengths(classes, src_lengths, num_classes, max_len, min_len=2):
    """Decoder lengths of offset classes (B, ...): ``class - K//2 + source_len``, clamped to
    [min_len, max_len] (room for ``[CLS] [SEP]``, at most the decoder's positions)."""
    shape = (-1,) + (1,) * (classes.dim() - 1)
    return (classes - num_classes // 2 + src_lengths.view(shape)).clamp(min(min_len, max_len), max_len)


def length_candidates(length_lprobs, src_lengths, k, max_len, min_len=2):
    """The k most probable decoder lengths of each sentence, best first, and their log-probabilities.

    length_lprobs: (B, K) log-probabilities of the offset classes. A class whose length would be below
    ``min_len`` is dropped rather than clamped: no target is that short (each holds [CLS] and [SEP]), so
    such a class is never a training label, and pooling the many of them of a long source at length 2
    made a barely trained model emit empty outputs. Classes beyond ``max_len`` pool their probability
    there, as the last class pools all longer offsets in training. The k candidates are distinct
    lengths (k is capped at the number of possible lengths); where nothing is dropped or pooled they
    are simply the top-k classes.
    """
    num_classes = length_lprobs.size(1)
    classes = torch.arange(num_classes, device=length_lprobs.device).expand_as(length_lprobs)
    lengths = class_lengths(classes, src_lengths, num_classes, max_len, min_len=0)
    mass = length_lprobs.new_zeros(length_lprobs.size(0), max_len + 1, dtype=torch.float32)
    mass.scatter_add_(1, lengths, length_lprobs.float().exp())
    low = min(min_len, max_len)
    mass[:, :low] = -1.0  # never a candidate (a possible length that no class reaches stays at 0)
    k = min(k, max_len + 1 - low)
    top, cand = mass.topk(k, dim=1)
    return cand, top.clamp(min=0).log()


class LengthClassifier(nn.Module):
    """Linear(d -> K) on the mean encoder state over real source tokens.

    The pool takes the encoder states h only, not h + W' z: z = W h + b is linear in h, so the mean of
    a linear map of z is a linear map of mean(h) and adds nothing a linear head could use, only the
    latent's dropout noise and a second gradient path into the latent.
    """

    def __init__(self, dim, num_classes, stop_gradient=False):
        super().__init__()
        self.num_classes = num_classes
        self.stop_gradient = stop_gradient
        self.proj = nn.Linear(dim, num_classes)

    def forward(self, h, padding_mask):
        """h: (B, S, d) encoder states, padding_mask: (B, S) True at padding. Returns (B, K) logits."""
        real = (~padding_mask).unsqueeze(-1).to(h.dtype)
        pooled = (h * real).sum(1) / real.sum(1).clamp(min=1)
        if self.stop_gradient:  # --sg-length-pred: the length loss does not shape the encoder
            pooled = pooled.detach()
        return self.proj(pooled)


class GaussianLengthConverter(nn.Module):
    """Slot j of T reads sum_i w_ji v_i over the real source positions i, with
    w_ji = softmax_i(-(i - mu_j)^2 / (2 sigma^2)) and mu_j = j * S / T.

    sigma is learnt, stored as log sigma so it stays positive. Unlike nearest or linear resampling every
    slot mixes a neighbourhood of source positions, and sigma decides how wide it is.
    """

    def __init__(self, init_sigma=1.0):
        super().__init__()
        self.log_sigma = nn.Parameter(torch.tensor(math.log(init_sigma)))

    def weights(self, pos, src_lengths, src_len):
        """(B, T, src_len) float32 weights for fractional slot positions ``pos`` (B, T), zero at
        padding source positions (i >= src_lengths)."""
        i = torch.arange(src_len, device=pos.device, dtype=torch.float32)
        sigma = self.log_sigma.float().exp()
        logits = -((i[None, None, :] - pos.float()[:, :, None]) ** 2) / (2 * sigma**2)
        padding = i[None, :] >= src_lengths[:, None]
        logits = logits.masked_fill(padding[:, None, :], float("-inf"))
        return torch.softmax(logits, dim=-1)

    def forward(self, x, weights):
        """x: (B, S, C) source rows, weights from ``weights``; returns (B, T, C)."""
        return torch.bmm(weights.to(x.dtype), x)
