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


def ctc_best_alignment(lprobs, targets, input_lengths, target_lengths, blank, with_states=False):
    """The most probable CTC alignment (Viterbi) of each target: (B, T) output slot per frame, blanks
    included, and (B,) its log-probability (-inf where the target cannot fit its frames).

    lprobs (B, T, V) log-probabilities over output slots; targets (B, L) slots, padded past
    ``target_lengths``. Frames past ``input_lengths`` get the blank. Glancing training of CTC models
    (bnb_ctc --glat-ratio) reads the target word each frame is aligned to. ``with_states``: also the
    (B, T) alignment state of each frame (2k + 1: target token k; even: a blank), frames past
    ``input_lengths`` at state 0.
    """
    bsz, frames, _ = lprobs.shape
    device = lprobs.device
    max_len = targets.size(1)
    states = 2 * max_len + 1  # blank, y1, blank, y2, ..., yL, blank
    labels = torch.full((bsz, states), blank, dtype=torch.long, device=device)
    labels[:, 1::2] = targets
    # a skip from s-2 to s: into a label that differs from the label two states back
    skip = torch.zeros((bsz, states), dtype=torch.bool, device=device)
    skip[:, 3::2] = targets[:, 1:] != targets[:, :-1]
    state_ids = torch.arange(states, device=device)
    last_state = 2 * target_lengths  # the final blank
    valid = state_ids[None] <= last_state[:, None]
    lprobs = lprobs if lprobs.dtype in (torch.float32, torch.float64) else lprobs.float()
    neg = torch.tensor(float("-inf"), device=device, dtype=lprobs.dtype)
    emit = lprobs.gather(2, labels[:, None, :].expand(bsz, frames, states))  # (B, T, S)
    delta = torch.full((bsz, states), float("-inf"), device=device, dtype=lprobs.dtype)
    delta[:, 0] = emit[:, 0, 0]
    delta[:, 1] = torch.where(target_lengths > 0, emit[:, 0, 1], neg)
    delta = delta.masked_fill(~valid, float("-inf"))
    back = []
    for t in range(1, frames):
        stay = delta
        step = F.pad(delta[:, :-1], (1, 0), value=float("-inf"))
        jump = F.pad(delta[:, :-2], (2, 0), value=float("-inf")).masked_fill(~skip, float("-inf"))
        best, arg = torch.stack([stay, step, jump], dim=2).max(dim=2)  # arg: how many states back
        nxt = (best + emit[:, t]).masked_fill(~valid, float("-inf"))
        active = (t < input_lengths)[:, None]
        delta = torch.where(active, nxt, delta)
        back.append(torch.where(active, arg, torch.zeros_like(arg)))
    rows = torch.arange(bsz, device=device)
    end_blank = delta[rows, last_state]
    end_label = torch.where(target_lengths > 0, delta[rows, (last_state - 1).clamp(min=0)], neg)
    score = torch.maximum(end_blank, end_label)
    state = torch.where(end_label > end_blank, last_state - 1, last_state)
    path = [state]
    for arg in reversed(back):
        state = state - arg.gather(1, state.unsqueeze(1)).squeeze(1)
        path.append(state)
    path = torch.stack(path[::-1], dim=1)  # (B, T) state per frame
    aligned = labels.gather(1, path)
    frame_ids = torch.arange(frames, device=device)
    past_end = frame_ids[None] >= input_lengths[:, None]
    aligned = aligned.masked_fill(past_end, blank)
    if with_states:
        return aligned, score, path.masked_fill(past_end, 0)
    return aligned, score


def ctc_aligned_steps(states, score, padding_mask):
    """(B, T) for each frame of a best CTC alignment (``ctc_best_alignment(..., with_states=True)``'s states
    and scores), the autoregressive step that predicts the target token it holds (target position - 1); -1
    for blank frames, the [CLS] (position 0), padding and targets that cannot fit (JANUS's aligned KL)."""
    position = (states - 1).div(2, rounding_mode="floor")  # the target token of a label state
    labelled = (states % 2 == 1) & (position >= 1) & torch.isfinite(score)[:, None] & ~padding_mask
    return torch.where(labelled, position - 1, torch.full_like(position, -1))


def ctc_best_path_nll(lprobs, targets, input_lengths, target_lengths, blank, scores=None, alignment=None):
    """(B,) negative log-likelihood of each frame's label on the best CTC alignment (under ``scores``,
    default ``lprobs``; found without gradient), summed over the frames, 0 where the target cannot fit.
    ``alignment``: that alignment's (slots, score) from ``ctc_best_alignment``, if the caller has it.

    CTC spreads a word's mass over the frames it may occupy; where no frame holds it above the blank or its
    neighbour, greedy decoding drops it. Cross-entropy on one alignment makes each word's frame certain.
    """
    if alignment is None:
        with torch.no_grad():
            alignment = ctc_best_alignment(
                (lprobs if scores is None else scores).detach(), targets, input_lengths, target_lengths, blank
            )
    aligned, score = alignment
    real = torch.arange(lprobs.size(1), device=lprobs.device)[None] < input_lengths[:, None]
    real &= torch.isfinite(score)[:, None]
    nll = -lprobs.gather(2, aligned.unsqueeze(2)).squeeze(2)
    return nll.masked_fill(~real, 0.0).sum(1)
