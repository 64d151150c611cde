"""Drawing each slot's token from its distribution, as fairseq's ``--sampling``, ``--sampling-topk``,
``--sampling-topp`` and ``--temperature`` do for autoregressive search. Drawn with torch's global
generator, so fairseq-generate's ``--seed`` makes the draws reproducible."""

import torch


def sample_slots(lprobs, temperature=1.0, topk=-1, topp=-1.0):
    """(..., V) log-probabilities -> (...) drawn slot indices.

    ``topk`` keeps each slot's k most probable tokens, ``topp`` the smallest set whose probability
    reaches p (nucleus sampling; the most probable token is always kept); ``temperature`` divides the
    log-probabilities first."""
    logits = lprobs.float() / temperature
    vocab = logits.size(-1)
    if topk > 0 and topk < vocab:
        kth = logits.topk(topk, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0.0 < topp < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass of the tokens ranked above each one
        drop = before >= topp
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
    probs = logits.softmax(-1).reshape(-1, vocab)
    return torch.multinomial(probs, 1).reshape(lprobs.shape[:-1])
