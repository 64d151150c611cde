"""A linear-chain CRF over the slots of a parallel decoder, after NART-DCRF (Sun et al. 2019): the
slots' own log-probabilities are the emission scores, neighbouring tokens a and b add a transition
score E1[a] . E2[b] of rank R, and the partition function and the Viterbi path are computed over the
top-k tokens of each slot only (k x k transitions per step instead of V x V).

Token ids here are vocabulary ids (not output slots), so the transition tables survive a change of
the trimmed output vocabulary. Everything runs in fp32, also under --fp16/--amp. Decoding on the CPU runs
the two recursions in NumPy: a step is a few microseconds there against tens in torch's operator calls.
"""

import numpy as np
import torch
import torch.nn as nn


def at_least_fp32(x):
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


# candidates per slot at decoding unless told otherwise: the Viterbi path rarely leaves a slot's top 16,
# and the top 16 of a few thousand output pieces, and their 16 x 16 transitions per step, cost a fraction
# of the 64 a CRF is usually trained with
DECODING_BEAM = 16


class LowRankCRF(nn.Module):
    def __init__(self, vocab_size, rank, beam):
        super().__init__()
        if rank < 1:
            raise ValueError(f"--crf-lowrank-approx {rank}: give the rank of the transition matrix, at least 1")
        if beam < 2:
            raise ValueError(f"--crf-beam-approx {beam}: give at least 2 tokens per slot")
        self.beam = beam
        self.E1 = nn.Embedding(vocab_size, rank)
        self.E2 = nn.Embedding(vocab_size, rank)
        # E2 = 0: the transitions start at 0, so a fresh CRF scores sequences as the slots alone do
        nn.init.normal_(self.E1.weight, std=0.02)
        nn.init.zeros_(self.E2.weight)

    def transitions(self, prev_ids, next_ids):
        """Scores of every (a, b) with a in ``prev_ids`` (..., k1) and b in ``next_ids`` (..., k2): (..., k1, k2)."""
        with torch.autocast(prev_ids.device.type, enabled=False):
            return at_least_fp32(self.E1(prev_ids)) @ at_least_fp32(self.E2(next_ids)).transpose(-1, -2)

    def candidates(self, emissions, gold=None, beam=None):
        """The ``beam`` best slots of every position (B, T, k) by emission score, and their scores; with
        ``gold`` (B, T) slots, each position's gold slot is forced in, as candidate 0."""
        k = min(beam or self.beam, emissions.size(-1))
        if gold is None:
            return emissions.topk(k, dim=-1)
        forced = emissions.scatter(-1, gold.unsqueeze(-1), float("inf"))
        _, slots = forced.topk(k, dim=-1)
        return emissions.gather(-1, slots), slots

    def _step_transitions(self, ids, mask):
        """(B, T-1, k, k) transition scores between the candidates of slot t-1 and slot t. At a padded slot
        t the step is the identity (0 on the diagonal, -inf elsewhere, with its emissions zeroed by the
        caller), so both recursions carry a sentence's state through its padding without a branch per step."""
        trans = self.transitions(ids[:, :-1], ids[:, 1:])
        k = trans.size(-1)
        identity = torch.full((k, k), float("-inf"), device=trans.device, dtype=trans.dtype).fill_diagonal_(0.0)
        return torch.where(mask[:, 1:, None, None], trans, identity)

    def log_partition(self, scores, ids, mask, trans=None):
        """log Z over the candidates: scores/ids (B, T, k), mask (B, T) True at real slots (a prefix);
        ``trans``: their ``_step_transitions`` when already computed."""
        if trans is None:
            trans = self._step_transitions(ids, mask)
        if not torch.is_grad_enabled():
            emit = scores.masked_fill(~mask.unsqueeze(2), 0.0)
            if emit.device.type == "cpu":
                return torch.from_numpy(log_partition_host(emit.numpy(), trans.numpy()))
            return self._log_partition_scaled(emit, trans)
        # unbound once: indexing trans[:, t] in the loop would make its backward write a full-size zero
        # gradient per step (10x the cost of the whole recursion)
        trans = trans.unbind(1)
        emit = scores.masked_fill(~mask.unsqueeze(2), 0.0).unbind(1)
        alpha = emit[0]
        for t in range(1, len(emit)):
            alpha = torch.logsumexp(alpha.unsqueeze(2) + trans[t - 1], dim=1) + emit[t]
        return torch.logsumexp(alpha, dim=1)

    @staticmethod
    def _log_partition_scaled(emit, trans):
        """log Z by the scaled forward algorithm in probability space (decoding: no gradient): a matrix
        product per step instead of a log-sum-exp, each factor shifted by its maximum so nothing overflows,
        and the forward vector renormalised at every step (the top candidate's probability is at least
        1/V, so it never underflows)."""
        emit_max = emit.amax(-1, keepdim=True)  # (B, T, 1)
        trans_max = trans.amax((-1, -2), keepdim=True)  # (B, T-1, 1, 1)
        emit_p = (emit - emit_max).exp()
        # step t's transitions and its emissions in one matrix: one product per step
        steps = ((trans - trans_max).exp() * emit_p[:, 1:].unsqueeze(2)).unbind(1)
        alpha = emit_p[:, 0].unsqueeze(1)  # (B, 1, k)
        norms = []
        for step in steps:
            alpha = torch.bmm(alpha, step)
            norm = alpha.sum(-1, keepdim=True)
            alpha = alpha / norm
            norms.append(norm)
        log_z = alpha.sum(-1).squeeze(1).log() + emit_max.sum((1, 2)) + trans_max.sum((1, 2, 3))
        if norms:
            log_z = log_z + torch.cat(norms, dim=1).log().sum((1, 2))
        return log_z

    def sequence_score(self, scores, ids, mask):
        """Unnormalised score of given sequences: emission ``scores`` (B, T) of their tokens ``ids`` (B, T)."""
        emit = at_least_fp32(scores).masked_fill(~mask, 0.0).sum(1)
        if ids.size(1) < 2:
            return emit
        trans = self.transitions(ids[:, :-1].unsqueeze(-1), ids[:, 1:].unsqueeze(-1))[..., 0, 0]
        return emit + trans.masked_fill(~mask[:, 1:], 0.0).sum(1)

    def log_likelihood(self, emissions, gold, mask, to_ids):
        """(B,) log-likelihood of the gold slot sequences ``gold`` (B, T) under the CRF, the partition
        function approximated over each position's top-k slots with the gold one forced in.
        ``to_ids`` maps output slots to vocabulary ids (the decoder's ``output_tokens``)."""
        emissions = at_least_fp32(emissions)
        scores, slots = self.candidates(emissions, gold)
        ids = to_ids(slots)
        gold_score = self.sequence_score(scores[..., 0], ids[..., 0], mask)
        return gold_score - self.log_partition(scores, ids, mask)

    def forward(self, emissions, gold, mask, to_ids):
        """The log-likelihood (as fairseq's DynamicCRF), see ``log_likelihood``."""
        return self.log_likelihood(emissions, gold, mask, to_ids)

    def viterbi(self, emissions, mask, to_ids, beam=None):
        """Best slot sequence over the top-k slots of each position: (slots (B, T), its score (B,), log Z (B,)).
        k: ``beam``, by default ``DECODING_BEAM`` or the training beam if smaller. Slots past a sentence's
        length repeat its last slot's choice (mask them out)."""
        emissions = at_least_fp32(emissions)
        beam = beam or min(DECODING_BEAM, self.beam)
        scores, slots = self.candidates(emissions, beam=beam)
        ids = to_ids(slots)
        trans = self._step_transitions(ids, mask)
        emit = scores.masked_fill(~mask.unsqueeze(2), 0.0)
        if emit.device.type == "cpu" and not torch.is_grad_enabled():
            choice, path_score = (torch.from_numpy(x) for x in viterbi_host(emit.numpy(), trans.numpy()))
        else:
            choice, path_score = viterbi_torch(emit, trans)
        best_slots = slots.gather(-1, choice.unsqueeze(-1)).squeeze(-1)
        return best_slots, path_score, self.log_partition(scores, ids, mask, trans)


def viterbi_torch(emit, trans):
    """Best candidate per step (B, T) and its path score (B,), from emissions (B, T, k) and step transitions
    (B, T-1, k, k)."""
    # step t's transitions plus its emissions, for all steps at once: one sum and one max per step
    steps = (trans + emit[:, 1:].unsqueeze(2)).unbind(1)
    delta, back = emit[:, 0], []
    for step in steps:
        delta, arg = (delta.unsqueeze(2) + step).max(dim=1)
        back.append(arg)  # a padded step's arg is the identity: the backtrace passes through unchanged
    path_score, choice = delta.max(dim=1)
    if not back:
        return choice.unsqueeze(1), path_score
    # the backtrace is T small gathers: on the host, as one array, it costs microseconds a step
    back = torch.stack(back, dim=1).cpu()
    rows = torch.arange(back.size(0))
    choices = [choice.cpu()]
    for t in range(back.size(1) - 1, -1, -1):
        choices.append(back[rows, t, choices[-1]])
    return torch.stack(choices[::-1], dim=1).to(emit.device), path_score


def viterbi_host(emit, trans):
    """``viterbi_torch`` on NumPy arrays."""
    batch, length, k = emit.shape
    # (B, T-1, next, previous): both reductions of a step run along the last, contiguous axis
    steps = np.ascontiguousarray((trans + emit[:, 1:, None, :]).transpose(0, 1, 3, 2))
    delta = emit[:, 0, None, :]  # (B, 1, k)
    back = np.empty((batch, max(length - 1, 0), k), dtype=np.int64)
    for t in range(length - 1):
        scores = steps[:, t] + delta
        back[:, t] = scores.argmax(-1)
        delta = scores.max(-1)[:, None, :]
    delta = delta[:, 0]
    choice = np.empty((batch, length), dtype=np.int64)
    choice[:, -1] = delta.argmax(1)
    path_score = delta.max(1)
    rows = np.arange(batch)
    for t in range(length - 2, -1, -1):
        choice[:, t] = back[rows, t, choice[:, t + 1]]
    return choice, path_score


def log_partition_host(emit, trans):
    """log Z by the scaled forward algorithm (as ``LowRankCRF._log_partition_scaled``) on NumPy arrays."""
    emit_max = emit.max(-1, keepdims=True)  # (B, T, 1)
    trans_max = trans.max((-1, -2), keepdims=True)  # (B, T-1, 1, 1)
    steps = np.exp(trans - trans_max) * np.exp(emit[:, 1:] - emit_max[:, 1:])[:, :, None, :]
    alpha = np.exp(emit[:, 0] - emit_max[:, 0])[:, None, :]  # (B, 1, k)
    log_z = emit_max.sum((1, 2)) + trans_max.sum((1, 2, 3))
    for t in range(steps.shape[1]):
        alpha = alpha @ steps[:, t]
        norm = alpha.sum(-1, keepdims=True)
        alpha = alpha / norm
        log_z = log_z + np.log(norm[:, 0, 0])
    return log_z + np.log(alpha.sum(-1)[:, 0])
