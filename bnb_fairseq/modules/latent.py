"""The BnB latent bottleneck and its resampling to the decoder length."""
import torch
import torch.nn as nn


class LatentBottleneck(nn.Module):
    """z_i = W h_i + b, a small per-token code; the decoder sees the source only through z
    (and cross-attention)."""

    def __init__(self, in_dim, latent_dim, dropout):
        super().__init__()
        self.proj = nn.Linear(in_dim, latent_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h):
        return self.dropout(self.proj(h))


def resample_positions(x, src_lengths, out_lengths, mode="nearest"):
    """Stretch each sentence's (S_b, C) rows of ``x`` (B, S, C) to out_lengths[b] rows.

    Output slot j reads source position j * S_b / T_b (nearest: floored; linear: interpolated
    between its two neighbours). Returns (B, max T_b, C) and the (B, max T_b) padding mask.
    """
    t_max = int(out_lengths.max())
    j = torch.arange(t_max, device=x.device, dtype=torch.float32)[None, :]
    src = src_lengths.to(torch.float32)[:, None]
    pos = j * src / out_lengths.to(torch.float32)[:, None]
    last = (src_lengths - 1)[:, None]
    lo = torch.minimum(pos.floor().long(), last)
    gather = lambda idx: x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.size(-1)))  # noqa: E731
    if mode == "nearest":
        out = gather(lo)
    elif mode == "linear":
        hi = torch.minimum(lo + 1, last)
        w = (pos - lo.to(pos.dtype)).clamp(0, 1).unsqueeze(-1).to(x.dtype)
        out = gather(lo) * (1 - w) + gather(hi) * w
    else:
        raise ValueError(f"unknown resampling mode {mode!r}")
    padding_mask = j >= out_lengths[:, None]
    return out, padding_mask
