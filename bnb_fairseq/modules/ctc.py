"""CTC decoder lengths and the CTC collapse, vectorised over the batch."""

import torch
import torch.nn.functional as F


def ctc_output_lengths(src_lengths, ratio, min_len, max_len):
    """ceil(ratio x real source length), clamped to [min_len, max_len]."""
    out = torch.ceil(src_lengths.float() * ratio).long()
    return out.clamp(min=min(min_len, max_len), max=max_len)


def ctc_collapse(tokens, scores, padding_mask, blank, drop=()):
    """Merge repeats, then drop blanks (and the ids in ``drop``), keeping order.

    tokens/scores/padding_mask: (B, T). Returns (tokens, scores, lengths) left-aligned,
    with anything past each length undefined. A repeat separated by a blank survives
    ("a _ a" -> "a a"), as CTC requires.
    """
    prev = F.pad(tokens[:, :-1], (1, 0), value=-1)
    keep = tokens.ne(prev) & tokens.ne(blank) & ~padding_mask
    for d in drop:
        keep &= tokens.ne(d)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    return tokens.gather(1, order), scores.gather(1, order), keep.sum(1)
