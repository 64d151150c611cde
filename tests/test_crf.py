"""The low-rank CRF and the CTC Viterbi alignment against brute-force enumeration."""

import itertools
import math

import torch

import bnb_fairseq.modules.crf as crf_module
from bnb_fairseq.modules.crf import LowRankCRF, log_partition_host, viterbi_host, viterbi_torch
from bnb_fairseq.modules.ctc import ctc_best_alignment, ctc_collapse


def random_crf(vocab=4, rank=2, beam=4, seed=0):
    torch.manual_seed(seed)
    crf = LowRankCRF(vocab, rank, beam).double()
    with torch.no_grad():  # non-zero transitions (a fresh CRF starts at 0)
        crf.E1.weight.normal_()
        crf.E2.weight.normal_()
    return crf


def brute_force(crf, emissions, length):
    """Every sequence of ``length`` tokens: {sequence: unnormalised score}."""
    vocab = emissions.size(-1)
    full = crf.transitions(torch.arange(vocab), torch.arange(vocab))
    out = {}
    for seq in itertools.product(range(vocab), repeat=length):
        s = sum(emissions[t, y] for t, y in enumerate(seq))
        s = s + sum(full[a, b] for a, b in zip(seq, seq[1:]))
        out[seq] = float(s.detach()) if torch.is_tensor(s) else float(s)
    return out


def same_ids(slots):
    return slots


@torch.no_grad()
def test_partition_likelihoods_and_viterbi_equal_brute_force():
    crf = random_crf()
    torch.manual_seed(1)
    lengths = torch.tensor([4, 3, 1, 2])
    emissions = torch.randn(4, 4, 4, dtype=torch.double)
    mask = torch.arange(4)[None] < lengths[:, None]
    log_z = crf.log_partition(*crf.candidates(emissions), mask)  # without gradients: the scaled forward pass
    with torch.enable_grad():  # in training: the log-space recursion
        assert torch.allclose(crf.log_partition(*crf.candidates(emissions), mask), log_z, rtol=1e-12)
    slots, best, log_z2 = crf.viterbi(emissions, mask, same_ids)
    for b, n in enumerate(lengths.tolist()):
        table = brute_force(crf, emissions[b], n)
        expected_z = torch.logsumexp(torch.tensor(list(table.values()), dtype=torch.double), 0)
        assert math.isclose(float(log_z[b]), float(expected_z), rel_tol=1e-9)
        assert math.isclose(float(log_z2[b]), float(expected_z), rel_tol=1e-9)
        argmax = max(table, key=table.get)
        assert tuple(slots[b, :n].tolist()) == argmax
        assert math.isclose(float(best[b]), table[argmax], rel_tol=1e-9)
        # the likelihoods of all sequences of this length sum to one
        total = 0.0
        for seq in table:
            gold = torch.tensor(list(seq) + [0] * (4 - n))[None]
            total += math.exp(float(crf.log_likelihood(emissions[b : b + 1], gold, mask[b : b + 1], same_ids)[0]))
        assert math.isclose(total, 1.0, rel_tol=1e-9)
    # far-off scales (log-probabilities near -80, strong transitions): the scaled pass neither under- nor
    # overflows in fp32
    far = (emissions * 20 - 60).float()
    crf = crf.float()
    crf.E1.weight.mul_(6.0)  # transitions of tens
    with torch.enable_grad():
        reference = crf.log_partition(*crf.candidates(far), mask)
    assert torch.allclose(crf.log_partition(*crf.candidates(far), mask), reference, rtol=1e-5)


def test_beam_approximation_is_a_lower_bound_that_keeps_the_gold():
    crf = random_crf(vocab=6, beam=2)
    torch.manual_seed(2)
    emissions = torch.randn(1, 3, 6, dtype=torch.double)
    mask = torch.ones(1, 3, dtype=torch.bool)
    gold = emissions.argmin(-1)  # the least likely slots: never in a top-2 by themselves
    exact = torch.logsumexp(torch.tensor(list(brute_force(crf, emissions[0], 3).values())), 0)
    scores, slots = crf.candidates(emissions, gold)
    assert torch.equal(slots[..., 0], gold)
    approx = crf.log_partition(scores, slots, mask)
    assert float(approx[0]) < float(exact)
    assert float(crf.log_likelihood(emissions, gold, mask, same_ids)[0]) <= 0.0


def test_gradcheck():
    crf = random_crf(vocab=4, rank=2, beam=3)
    emissions = torch.randn(2, 3, 4, dtype=torch.double, requires_grad=True)
    gold = torch.tensor([[1, 2, 3], [0, 0, 0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert torch.autograd.gradcheck(lambda e: crf.log_likelihood(e, gold, mask, same_ids), (emissions,))
    # and through the transition tables
    tables = (crf.E1.weight.detach().clone().requires_grad_(True), crf.E2.weight.detach().clone().requires_grad_(True))

    def with_tables(w1, w2):
        params = {"E1.weight": w1, "E2.weight": w2}
        return torch.func.functional_call(crf, params, (emissions.detach(), gold, mask, same_ids))

    assert torch.autograd.gradcheck(with_tables, tables)


def test_ctc_best_alignment_equals_brute_force():
    torch.manual_seed(3)
    vocab, blank = 4, 0
    lprobs = torch.randn(3, 5, vocab, dtype=torch.double).log_softmax(-1)
    targets = torch.tensor([[1, 1, 0], [2, 3, 1], [3, 0, 0]])
    target_lengths = torch.tensor([2, 3, 1])
    input_lengths = torch.tensor([5, 4, 3])
    aligned, score = ctc_best_alignment(lprobs, targets, input_lengths, target_lengths, blank)
    for b in range(3):
        frames, want = int(input_lengths[b]), targets[b, : target_lengths[b]].tolist()
        best, best_path = -math.inf, None
        for path in itertools.product(range(vocab), repeat=frames):
            t = torch.tensor(path)[None]
            out, _, n = ctc_collapse(t, t.double(), torch.zeros_like(t, dtype=torch.bool), blank)
            if out[0, : n[0]].tolist() != want:
                continue
            s = float(sum(lprobs[b, i, y] for i, y in enumerate(path)))
            if s > best:
                best, best_path = s, path
        assert math.isclose(float(score[b]), best, rel_tol=1e-9)
        assert tuple(aligned[b, :frames].tolist()) == best_path
        assert aligned[b, frames:].eq(blank).all()


def test_ctc_best_alignment_of_a_target_that_cannot_fit_is_minus_infinity():
    lprobs = torch.randn(1, 3, 4).log_softmax(-1)
    _, score = ctc_best_alignment(lprobs, torch.tensor([[1, 1, 2]]), torch.tensor([3]), torch.tensor([3]), 0)
    assert score[0] == float("-inf")


def test_fp32_under_autocast_and_half_weights():
    crf = random_crf(vocab=6, beam=3).float()
    emissions = torch.randn(2, 4, 6).log_softmax(-1)
    gold = torch.randint(0, 6, (2, 4))
    mask = torch.ones(2, 4, dtype=torch.bool)
    reference = crf.log_likelihood(emissions, gold, mask, same_ids)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = crf.log_likelihood(emissions, gold, mask, same_ids)
    assert under_autocast.dtype == torch.float32 and torch.allclose(under_autocast, reference)
    halved = random_crf(vocab=6, beam=3).half()  # --fp16 converts the model's weights
    out = halved.log_likelihood(emissions.half(), gold, mask, same_ids)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


@torch.no_grad()
def test_host_recursions_equal_the_torch_ones(monkeypatch):
    """CPU decoding runs Viterbi and log Z in NumPy; GPU decoding in torch: the same paths, scores and log Z,
    with padding (identity steps) and a one-slot sentence."""
    crf = random_crf(vocab=40, rank=3, beam=6, seed=3).float()
    crf.E1.weight.mul_(3.0)  # transitions strong enough to move the path off each slot's argmax
    torch.manual_seed(4)
    lengths = torch.tensor([7, 5, 1, 3])
    emissions = torch.randn(4, 7, 40).log_softmax(-1)
    mask = torch.arange(7)[None] < lengths[:, None]
    scores, slots = crf.candidates(emissions)
    trans = crf._step_transitions(slots, mask)
    emit = scores.masked_fill(~mask.unsqueeze(2), 0.0)
    choice, path = viterbi_torch(emit, trans)
    host_choice, host_path = viterbi_host(emit.numpy(), trans.numpy())
    assert torch.equal(choice, torch.from_numpy(host_choice))
    assert torch.allclose(path, torch.from_numpy(host_path), atol=1e-5)
    assert not torch.equal(choice[0], torch.zeros_like(choice[0]))  # the CRF moved some slot off its argmax
    log_z = crf._log_partition_scaled(emit, trans)
    assert torch.allclose(log_z, torch.from_numpy(log_partition_host(emit.numpy(), trans.numpy())), atol=1e-4)
    # the decoder's entry point takes the host path on the CPU
    calls = []
    for name in ("viterbi_host", "log_partition_host"):
        original = getattr(crf_module, name)
        monkeypatch.setattr(crf_module, name, lambda *a, f=original, n=name: calls.append(n) or f(*a))
    best, best_path, best_z = crf.viterbi(emissions, mask, same_ids)
    assert calls == ["viterbi_host", "log_partition_host"]
    assert torch.equal(best, slots.gather(-1, choice.unsqueeze(-1)).squeeze(-1))
    assert torch.allclose(best_z, log_z, atol=1e-4) and torch.allclose(best_path, path, atol=1e-5)
