"""CTC prefix beam search in plain PyTorch, batched over sentences and beams.

State per sentence: ``beam_size`` prefix slots, each holding a padded token row (B, K, T), its
length, its last label, two log scores (all paths of the prefix that end in blank / in a
non-blank) and a 62-bit rolling hash of the prefix and of its parent (the prefix minus its last
label). Only the loop over frames is in Python; every frame is a fixed set of tensor ops over
(B, K, K + K * k) candidates, with no host sync, so it runs unchanged on CPU and CUDA.

Per frame, with K beam slots and k labels considered:

* "stay" candidates (one per slot, same prefix): blank-ending score
  ``total + lp[blank]``; non-blank score ``nb + lp[last]`` (the last label repeated, "a a" -> "a")
  plus the extension from the prefix's parent if the parent is in the beam too (see below).
* "extend" candidates (slot i, label c) for the top-k non-blank labels of the frame:
  non-blank score ``(b_i if c == last_i else total_i) + lp[c]`` - a repeated label can only
  extend a prefix through a blank.

Merging. Two prefixes can only be reached by different paths when an extension of slot i
equals a prefix j already in the beam (slots hold distinct prefixes, and distinct (parent,
label) pairs give distinct prefixes). For each slot j its parent slot is found by comparing
j's parent hash with every slot's hash (K x K, plus equal lengths), then *checked exactly* by
comparing the tokens of that one candidate parent with j's tokens minus the last one (K x T),
so a hash collision can never merge different prefixes. The parent's extension by j's last
label is added into j's stay candidate with logaddexp (always, whether or not that label is in
the frame's top-k, so merges do not depend on pruning), and the now redundant extend candidate
(i, last_j) is masked out. The K best candidates by total score (logsumexp of both scores) form
the next beam.

Cost per frame: O(B V) for the top-k of the frame, O(B K^2) for the hash comparison,
O(B K k) for the candidates and O(B K T) to gather/verify the token rows.

On the CPU the same search runs on the host instead (``_host_search``): prefixes as tuples in a
dict, which merges them by itself. About forty tensor ops a frame cost more there than the K + K k
candidates of a sentence cost in plain Python (at batch 1 it is several times faster; see
``implementation``).
"""

import heapq
import math

import torch

_P1, _P2 = 2147483647, 2147483629  # primes < 2**31: (h * base + x) stays inside int64
_B1, _B2 = 1000003, 998244353
_MASK31 = (1 << 31) - 1


def _hash_push(key, label):
    """Hash of prefix + label from the hash of the prefix (two 31-bit polynomial hashes in one int64)."""
    h1 = (key >> 31) * _B1 + label + 1
    h2 = (key & _MASK31) * _B2 + label + 1
    return ((h1 % _P1) << 31) | (h2 % _P2)


def ctc_prefix_beam_search(
    log_probs, lengths, blank, beam_size, length_normalize=False, prune_top_k=None, implementation="auto"
):
    """CTC prefix beam search over a batch.

    log_probs: (B, T, V) log-probabilities (already log-softmaxed); lengths: (B,) valid frames
    per sentence (frames past a sentence's length are ignored); blank: index of the blank label.
    prune_top_k: number of non-blank labels per frame considered as extensions (blank is always
    considered). Default ``beam_size + 1`` (capped at V - 1): this is lossless, i.e. it gives the
    same beams as trying all labels (up to exact ties) - a label outside the frame's top
    ``beam_size + 1`` extends a prefix i with at most ``total_i + lp[c]``, and at least
    ``beam_size`` other labels (those of the top ``beam_size + 1`` that differ from i's last label)
    give distinct prefixes scoring at least that much. Any value >= V - 1 means all labels.

    Returns a list (one per sentence) of up to ``beam_size`` hypotheses, best first (by 'score'),
    each a dict with 'tokens' (LongTensor on CPU, collapsed, no blanks), 'score' (float: total log
    probability of the prefix, divided by max(1, len(tokens)) when length_normalize) and
    'log_prob' (the unnormalized total). Prefixes with zero probability are not returned.

    implementation: "tensor" (batched tensor ops, any device), "host" (per sentence in Python, sums in
    float64) or "auto": host for CPU tensors, tensor otherwise. Both give the same beams (up to exact
    ties and float rounding).
    """
    if log_probs.dim() != 3:
        raise ValueError("log_probs must be (B, T, V)")
    if beam_size < 1:
        raise ValueError("beam_size must be >= 1")
    B, T, V = log_probs.shape
    dev = log_probs.device
    dtype = torch.promote_types(log_probs.dtype, torch.float32)
    K = int(beam_size)
    k = max(0, min(V - 1, K + 1 if prune_top_k is None else int(prune_top_k)))
    lengths = torch.as_tensor(lengths, device=dev).long().clamp(0, T)
    if implementation not in ("auto", "host", "tensor"):
        raise ValueError(f"implementation must be auto, host or tensor, not {implementation!r}")
    if implementation == "host" or (implementation == "auto" and dev.type == "cpu"):
        return _host_search(log_probs, lengths, blank, K, k, length_normalize)
    n_frames = int(lengths.max()) if B > 0 else 0  # the one host sync, before the frame loop

    ninf = float("-inf")
    tokens = torch.full((B, K, T), -1, dtype=torch.long, device=dev)  # -1 past each length
    plen = torch.zeros(B, K, dtype=torch.long, device=dev)
    last = torch.full((B, K), -1, dtype=torch.long, device=dev)  # -1: empty prefix
    key = torch.zeros(B, K, dtype=torch.long, device=dev)
    pkey = torch.zeros(B, K, dtype=torch.long, device=dev)
    lp_b = torch.full((B, K), ninf, dtype=dtype, device=dev)
    lp_b[:, 0] = 0.0  # the empty prefix, in slot 0; other slots start empty (-inf)
    lp_nb = torch.full((B, K), ninf, dtype=dtype, device=dev)

    for t in range(n_frames):
        lp = log_probs[:, t].to(dtype)  # (B, V)
        total = torch.logaddexp(lp_b, lp_nb)
        valid = total > ninf

        # --- parent of each slot j inside the beam: hash match, then exact token check ---
        match = (
            (pkey[:, :, None] == key[:, None, :])
            & (plen[:, :, None] == plen[:, None, :] + 1)
            & valid[:, :, None]
            & valid[:, None, :]
        )  # (B, K_j, K_i)
        parent = match.to(torch.uint8).argmax(-1)  # (B, K)
        seen = tokens[:, :, :t]  # prefixes hold at most t labels before frame t
        par_tok = seen.gather(1, parent[:, :, None].expand(-1, -1, t))
        pos = torch.arange(t, device=dev)
        own = torch.where(pos == (plen - 1)[:, :, None], -1, seen)  # j minus its last label
        has_parent = match.any(-1) & (par_tok == own).all(-1)

        # --- stay candidates ---
        lp_last = torch.where(last >= 0, lp.gather(1, last.clamp(min=0)), ninf)  # (B, K)
        par_b = lp_b.gather(1, parent)
        par_total = total.gather(1, parent)
        par_last = last.gather(1, parent)
        from_parent = torch.where(par_last == last, par_b, par_total) + lp_last
        from_parent = torch.where(has_parent, from_parent, ninf)
        stay_b = total + lp[:, blank : blank + 1]
        stay_nb = torch.logaddexp(lp_nb + lp_last, from_parent)

        # --- extension candidates (slot i, top-k non-blank label) ---
        if k > 0:
            lp_nob = lp.clone()
            lp_nob[:, blank] = ninf
            c_lp, c = lp_nob.topk(k, dim=1)  # (B, k)
        else:  # blank-only vocabulary: one dummy label that can never be chosen
            c_lp = lp.new_full((B, 1), ninf)
            c = torch.full((B, 1), -2, dtype=torch.long, device=dev)
        kc = c.size(1)
        ext = torch.where(c[:, None, :] == last[:, :, None], lp_b[:, :, None], total[:, :, None]) + c_lp[:, None, :]
        # mask (parent_j, last_j): that prefix is slot j, already merged above
        hit = c[:, None, :] == last[:, :, None]  # (B, K_j, k)
        found = hit.any(-1) & has_parent
        flat = torch.where(found, parent * kc + hit.to(torch.uint8).argmax(-1), K * kc)
        dup = torch.zeros(B, K * kc + 1, dtype=torch.bool, device=dev)
        dup.scatter_(1, flat, True)
        ext = ext.reshape(B, K * kc).masked_fill(dup[:, : K * kc], ninf)

        # --- keep the K best candidates ---
        cand = torch.cat([torch.logaddexp(stay_b, stay_nb), ext], dim=1)  # (B, K + K k)
        _, sel = cand.topk(K, dim=1)
        is_ext = sel >= K
        e = (sel - K).clamp(min=0)
        src = torch.where(is_ext, e // kc, sel)
        label = torch.where(is_ext, c.gather(1, e % kc), -1)
        new_b = torch.where(is_ext, ninf, stay_b.gather(1, src))
        new_nb = torch.where(is_ext, ext.gather(1, e), stay_nb.gather(1, src))
        src_plen = plen.gather(1, src)
        new_tokens = tokens.gather(1, src[:, :, None].expand(-1, -1, T))
        new_tokens.scatter_(2, src_plen.clamp(max=T - 1)[:, :, None], torch.where(is_ext, label, -1)[:, :, None])
        src_key = key.gather(1, src)
        new_key = torch.where(is_ext, _hash_push(src_key, label.clamp(min=0)), src_key)
        new_pkey = torch.where(is_ext, src_key, pkey.gather(1, src))
        new_plen = src_plen + is_ext.long()
        new_last = torch.where(is_ext, label, last.gather(1, src))

        # sentences already past their length keep their beam
        act = (t < lengths)[:, None]
        tokens = torch.where(act[:, :, None], new_tokens, tokens)
        plen = torch.where(act, new_plen, plen)
        last = torch.where(act, new_last, last)
        key = torch.where(act, new_key, key)
        pkey = torch.where(act, new_pkey, pkey)
        lp_b = torch.where(act, new_b, lp_b)
        lp_nb = torch.where(act, new_nb, lp_nb)

    total = torch.logaddexp(lp_b, lp_nb)
    score = total / plen.clamp(min=1).to(dtype) if length_normalize else total
    score = score.masked_fill(~(total > ninf), ninf)
    order = score.argsort(dim=1, descending=True, stable=True)
    tokens = tokens.gather(1, order[:, :, None].expand(-1, -1, T)).cpu()
    plen = plen.gather(1, order).cpu().tolist()
    total = total.gather(1, order).cpu().tolist()
    score = score.gather(1, order).cpu().tolist()
    out = []
    for b in range(B):
        hyps = []
        for j in range(K):
            if score[b][j] == ninf:
                break
            hyps.append({"tokens": tokens[b, j, : plen[b][j]].clone(), "score": score[b][j], "log_prob": total[b][j]})
        out.append(hyps)
    return out


def _logaddexp(a, b):
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


def _add(table, prefix, lp_blank_end, lp_label_end):
    """Paths into ``prefix`` added to those already in ``table``."""
    old = table.get(prefix)
    if old is None:
        table[prefix] = (lp_blank_end, lp_label_end)
    else:
        table[prefix] = (_logaddexp(old[0], lp_blank_end), _logaddexp(old[1], lp_label_end))


def _host_search(log_probs, lengths, blank, K, k, length_normalize):
    """The same search per sentence in Python: same candidates (stay; top-k extensions; a beam prefix's
    extension from its parent in the beam, whatever its label), K best kept by total."""
    ninf = -math.inf
    lp = log_probs.detach().cpu()
    if lp.dtype not in (torch.float32, torch.float64):
        lp = lp.float()
    if k > 0:  # the top k + 1 labels of each frame, the blank dropped from them (or the last one)
        top_lp, top_label = (x.tolist() for x in lp.topk(min(k + 1, lp.size(-1)), dim=-1))
    frames = lp.numpy()
    out = []
    for b, n in enumerate(lengths.tolist()):
        beam = {(): (0.0, ninf)}  # prefix: (log P(ends in blank), log P(ends in a label))
        for t in range(n):
            row = frames[b, t]
            lp_blank = float(row[blank])
            labels, label_lps = [], []
            if k > 0:
                for c, c_lp in zip(top_label[b][t], top_lp[b][t]):
                    if c != blank and len(labels) < k:
                        labels.append(c)
                        label_lps.append(c_lp)
            nxt = {}
            totals = {p: _logaddexp(pb, pnb) for p, (pb, pnb) in beam.items()}
            for prefix, (pb, pnb) in beam.items():
                total, last = totals[prefix], (prefix[-1] if prefix else None)
                _add(nxt, prefix, total + lp_blank, pnb + float(row[last]) if prefix else ninf)
                for c, c_lp in zip(labels, label_lps):
                    _add(nxt, prefix + (c,), ninf, (pb if c == last else total) + c_lp)
            in_top = set(labels)
            for prefix in beam:  # a beam prefix reached from its parent by a label outside the top-k
                if prefix and prefix[-1] not in in_top and prefix[:-1] in beam:
                    parent, c = prefix[:-1], prefix[-1]
                    pb = beam[parent][0]
                    src = pb if parent and parent[-1] == c else totals[parent]
                    _add(nxt, prefix, ninf, src + float(row[c]))
            beam = dict(heapq.nlargest(K, nxt.items(), key=lambda kv: _logaddexp(*kv[1])))
        hyps = []
        for prefix, (pb, pnb) in beam.items():
            total = _logaddexp(pb, pnb)
            if total == ninf:
                continue
            score = total / max(1, len(prefix)) if length_normalize else total
            hyps.append({"tokens": torch.tensor(prefix, dtype=torch.long), "score": score, "log_prob": total})
        hyps.sort(key=lambda h: -h["score"])
        out.append(hyps)
    return out
