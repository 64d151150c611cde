"""The BnB latent bottleneck and the source positions each decoder slot reads."""

import torch
import torch.nn as nn


class LatentBottleneck(nn.Module):
    """z_i = W h_i + b, a small per-token code (BnB's 8 dimensions)."""

    def __init__(self, in_dim, latent_dim, dropout):
        super().__init__()
        self.proj = nn.Linear(in_dim, latent_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h):
        return self.dropout(self.proj(h))


def source_positions(src_lengths, out_lengths):
    """Fractional source position j * S_b / T_b that decoder slot j reads, and the slot padding mask.

    Returns (B, max T_b) float positions and the (B, max T_b) bool mask, True at padding slots.
    """
    # the slot count stays a tensor, so that an exported graph (tools/export_onnx.py) keeps it dynamic
    j = torch.arange(out_lengths.max(), device=src_lengths.device).to(torch.float32)[None, :]
    pos = j * src_lengths.to(torch.float32)[:, None] / out_lengths.to(torch.float32)[:, None]
    return pos, j >= out_lengths[:, None]


def gather_rows(x, pos, last, mode="nearest"):
    """Rows of ``x`` (B, S, C) (or of a shared table (S, C)) at fractional positions ``pos`` (B, T).

    nearest: the floored position; linear: interpolated between its two neighbours. Positions are
    clamped to ``last`` (B, 1), each sentence's last real row.
    """
    lo = torch.minimum(pos.floor().long(), last)
    if x.dim() == 2:
        take = lambda idx: x[idx]  # noqa: E731
    else:
        take = lambda idx: x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.size(-1)))  # noqa: E731
    if mode == "nearest":
        return take(lo)
    if mode == "linear":
        hi = torch.minimum(lo + 1, last)
        w = (pos - lo.to(pos.dtype)).clamp(0, 1).unsqueeze(-1).to(x.dtype)
        return take(lo) * (1 - w) + take(hi) * w
    raise ValueError(f"unknown resampling mode {mode!r}")
