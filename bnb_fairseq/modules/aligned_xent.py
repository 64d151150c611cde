"""Aligned cross-entropy (AXE, Ghazvininejad et al. 2020) for models that classify their length.

Plain cross-entropy scores slot j against target token j, so a prediction shifted by one slot costs as
much as a wrong one; the model hedges by spreading neighbouring words over neighbouring slots, which
shows as repeated tokens. AXE scores the best monotonic alignment of the target to the slots instead:
a target token is aligned to one slot (its log-probability there), a slot may be skipped (it must then
predict the blank, which decoding drops), and a target token may share the previous token's slot
(costing ``skip_target_weight`` x its log-probability there).
"""

import torch

# larger than any path cost, small enough that differences of it stay finite
_UNREACHABLE = 1e9


def aligned_slot_targets(lprobs, target_slots, target_lengths, slot_lengths, blank_slot, skip_target_weight=1.0):
    """The AXE alignment of each sentence, found without gradient.

    lprobs (B, M, V) log-probabilities of the slots; target_slots (B, N) output slots of the target,
    valid before ``target_lengths``; slot_lengths (B,) slots per sentence. Returns

    - ``slot_target`` (B, M): the target slot aligned to each slot (the first of them where several
      share a slot), ``blank_slot`` at skipped slots, 0 past ``slot_lengths``;
    - ``shared`` (B, N) bool: target tokens that share the previous token's slot (skip target);
    - ``slot_of`` (B, N): the slot each target token is aligned to (0 past ``target_lengths``).

    The dynamic programme runs one target row at a time; within a row, "skip the slot" chains are a
    running minimum (torch.cummin), so the loop is over target positions only.
    """
    bsz, num_slots, _ = lprobs.shape
    num_targets = target_slots.size(1)
    device = lprobs.device
    with torch.no_grad():
        lp = lprobs.detach().float()
        # cost[b, i, j]: -log P_j(y_i); skip[b, j]: -log P_j(blank); slots past the length are unusable
        cost = -lp.gather(2, target_slots[:, None, :].expand(bsz, num_slots, num_targets)).transpose(1, 2)
        slot_pos = torch.arange(num_slots, device=device)
        real_slot = slot_pos[None] < slot_lengths[:, None]
        skip = (-lp[..., blank_slot]).masked_fill(~real_slot, _UNREACHABLE)
        # column 0 is "no slot yet"; skip_cum[j] = cost of skipping slots 1..j
        skip_cum = torch.cat([skip.new_zeros(bsz, 1), skip.cumsum(1)], 1)  # (B, M + 1)
        prev_row = skip_cum.clone()  # row 0: every slot so far skipped
        unreachable = skip.new_full((bsz, num_slots + 1), _UNREACHABLE)
        prev_arrive = unreachable  # no token has landed anywhere before the first
        starts, from_diagonal = [], []
        for i in range(num_targets):
            c = torch.cat([unreachable[:, :1], cost[:, i]], 1)  # (B, M + 1), column 0 unusable
            # arrive at slot j: a slot of its own after the previous token's path up to j - 1, or the slot
            # the previous token landed on
            diagonal = torch.cat([unreachable[:, :1], prev_row[:, :-1]], 1) + c
            shared = prev_arrive + skip_target_weight * c
            arrive = torch.minimum(diagonal, shared).clamp(max=_UNREACHABLE)
            best, start = torch.cummin(arrive - skip_cum, dim=1)  # then skip the slots after it
            prev_row = (best + skip_cum).clamp(max=_UNREACHABLE)
            prev_arrive = arrive
            starts.append(start)
            from_diagonal.append(diagonal <= shared)
        # backtrack every sentence at once, from (its last target, its last slot)
        slot_target = torch.full((bsz, num_slots + 1), blank_slot, dtype=torch.long, device=device)
        slot_target[:, 1:].masked_fill_(~real_slot, 0)
        slot_of = torch.zeros(bsz, num_targets, dtype=torch.long, device=device)
        shared_out = torch.zeros(bsz, num_targets, dtype=torch.bool, device=device)
        rows = torch.arange(bsz, device=device)
        col = slot_lengths.clone()
        landed = torch.zeros(bsz, dtype=torch.bool, device=device)  # the next token shares this one's slot
        for i in range(num_targets - 1, -1, -1):
            active = i < target_lengths
            start = torch.where(landed, col, starts[i][rows, col])
            diag = from_diagonal[i][rows, start]
            slot_target[rows, start] = torch.where(active, target_slots[:, i], slot_target[rows, start])
            slot_of[:, i] = torch.where(active, start - 1, 0)
            shared_out[:, i] = active & ~diag
            col = torch.where(active, torch.where(diag, start - 1, start), col)
            landed = active & ~diag
        return slot_target[:, 1:], shared_out, slot_of


def aligned_cross_entropy(lprobs, target_slots, target_lengths, slot_lengths, blank_slot, skip_target_weight=1.0):
    """(B,) AXE loss of each sentence (the cost of its best alignment, differentiable in ``lprobs``), and
    the alignment's ``slot_target`` and ``slot_of`` (see aligned_slot_targets)."""
    slot_target, shared, slot_of = aligned_slot_targets(
        lprobs, target_slots, target_lengths, slot_lengths, blank_slot, skip_target_weight
    )
    real_slot = torch.arange(lprobs.size(1), device=lprobs.device)[None] < slot_lengths[:, None]
    real_target = torch.arange(target_slots.size(1), device=lprobs.device)[None] < target_lengths[:, None]
    # skipped slots pay for the blank, aligned ones for their first target
    slot_nll = -lprobs.gather(-1, slot_target.unsqueeze(-1)).squeeze(-1).masked_fill(~real_slot, 0.0)
    # target tokens sharing a slot pay skip_target_weight x their log-probability there
    rows = torch.arange(lprobs.size(0), device=lprobs.device)[:, None]
    shared_nll = (-lprobs[rows, slot_of, target_slots]).masked_fill(~(shared & real_target), 0.0)
    return slot_nll.sum(1) + skip_target_weight * shared_nll.sum(1), slot_target, slot_of
