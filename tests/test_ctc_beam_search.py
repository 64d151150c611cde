"""CTC prefix beam search: checked against brute-force enumeration of all frame paths, in both of its
implementations (batched tensor ops; per sentence on the host)."""

import functools
import itertools
import math

import pytest
import torch

from bnb_fairseq.modules import ctc_beam_search as search_module

BLANK = 0
ctc_prefix_beam_search = search_module.ctc_prefix_beam_search  # set per test to one implementation


@pytest.fixture(autouse=True, params=["tensor", "host"])
def implementation(request, monkeypatch):
    """Every test here runs once per implementation."""
    search = functools.partial(search_module.ctc_prefix_beam_search, implementation=request.param)
    monkeypatch.setitem(globals(), "ctc_prefix_beam_search", search)
    return request.param


def brute_force(lp, blank=BLANK):
    """{collapsed output tuple: log of the summed probability of all its paths} for lp: (T, V)."""
    T, V = lp.shape
    lp = lp.double().tolist()
    acc = {}
    for path in itertools.product(range(V), repeat=T):
        out = tuple(a for a, _ in itertools.groupby(path) if a != blank)
        acc.setdefault(out, []).append(sum(lp[t][a] for t, a in enumerate(path)))
    return {out: torch.logsumexp(torch.tensor(v, dtype=torch.float64), 0).item() for out, v in acc.items()}


def random_batch(seed, B, T, V, lengths):
    g = torch.Generator().manual_seed(seed)
    lp = (torch.randn(B, T, V, generator=g) * 1.5).log_softmax(-1)
    return lp, torch.tensor(lengths)


def greedy(lp, length, blank=BLANK):
    path = lp[:length].argmax(-1).tolist()
    return [a for a, _ in itertools.groupby(path) if a != blank]


def as_list(hyps):
    return [(tuple(h["tokens"].tolist()), h["score"], h["log_prob"]) for h in hyps]


@pytest.mark.parametrize("seed,T,V", [(0, 4, 4), (1, 5, 3), (2, 6, 3), (3, 5, 4)])
def test_exhaustive_beam_matches_brute_force(seed, T, V):
    """A beam wide enough to hold every prefix returns every output with its exact total."""
    lengths = [T, T - 1, max(1, T - 3)]
    lp, lens = random_batch(seed, 3, T, V, lengths)
    res = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=400, prune_top_k=V)
    for b in range(3):
        ref = brute_force(lp[b, : lengths[b]])
        got = {toks: lprob for toks, _, lprob in as_list(res[b])}
        assert set(got) == set(ref)
        for toks, v in ref.items():
            assert got[toks] == pytest.approx(v, abs=1e-5)
        scores = [h["score"] for h in res[b]]
        assert scores == sorted(scores, reverse=True)
        best = max(ref, key=ref.get)
        assert tuple(res[b][0]["tokens"].tolist()) == best
        assert res[b][0]["log_prob"] == pytest.approx(ref[best], abs=1e-5)
        assert all(h["tokens"].dtype == torch.long and BLANK not in h["tokens"].tolist() for h in res[b])


def reference_beam_search(lp, K, blank=BLANK):
    """Plain per-sentence prefix beam search with dicts (all labels, exact merging): {prefix: total}."""

    def lse(*xs):
        return torch.logsumexp(torch.tensor(xs, dtype=torch.float64), 0).item()

    ninf = float("-inf")
    beams = {(): (0.0, ninf)}
    for row in lp.double().tolist():
        nxt = {}

        def add(prefix, b=ninf, nb=ninf, nxt=nxt):
            ob, onb = nxt.get(prefix, (ninf, ninf))
            nxt[prefix] = (lse(ob, b), lse(onb, nb))

        for prefix, (b, nb) in beams.items():
            tot = lse(b, nb)
            add(prefix, b=tot + row[blank])
            if prefix:
                add(prefix, nb=nb + row[prefix[-1]])
            for c in range(len(row)):
                if c != blank:
                    add(prefix + (c,), nb=(b if prefix and c == prefix[-1] else tot) + row[c])
        beams = dict(sorted(nxt.items(), key=lambda kv: -lse(*kv[1]))[:K])
    return {p: lse(*v) for p, v in beams.items() if lse(*v) > ninf}


@pytest.mark.parametrize("seed,beam", [(0, 1), (1, 2), (2, 3), (3, 8)])
def test_pruned_beam_matches_reference_and_bounds_brute_force(seed, beam):
    """A narrow beam equals a plain dict-based prefix beam search; its totals are lower bounds."""
    T, V, lengths = 6, 4, [6, 4, 5]
    lp, lens = random_batch(10 + seed, 3, T, V, lengths)
    res = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=beam, prune_top_k=V)
    for b in range(3):
        hyps = as_list(res[b])
        want = reference_beam_search(lp[b, : lengths[b]], beam)
        assert [h[0] for h in hyps] == sorted(want, key=lambda p: -want[p])
        assert [h[2] for h in hyps] == pytest.approx([want[h[0]] for h in hyps], abs=1e-5)
        assert [h[1] for h in hyps] == sorted((h[1] for h in hyps), reverse=True)
        ref = brute_force(lp[b, : lengths[b]])
        assert all(lprob <= ref[toks] + 1e-5 for toks, _, lprob in hyps)


def test_hash_collisions_never_merge_different_prefixes(monkeypatch):
    """With every prefix hashed alike, the exact token check still refuses wrong merges."""
    monkeypatch.setattr(search_module, "_hash_push", lambda key, label: torch.zeros_like(key))
    lp, lens = random_batch(21, 3, 6, 4, [6, 5, 6])
    res = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=16, prune_top_k=4)
    for b in range(3):
        ref = brute_force(lp[b, : lens[b]])
        assert all(h["log_prob"] <= ref[tuple(h["tokens"].tolist())] + 1e-5 for h in res[b])


@pytest.mark.parametrize("beam", [1, 2, 3])
def test_default_pruning_is_lossless(beam):
    """top-(beam + 1) labels per frame give the same beams as trying every label."""
    lp, lens = random_batch(7, 3, 8, 7, [8, 5, 7])
    full = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=beam, prune_top_k=7)
    pruned = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=beam)
    for f, p in zip(full, pruned):
        assert [h[0] for h in as_list(f)] == [h[0] for h in as_list(p)]
        assert [h[2] for h in as_list(f)] == pytest.approx([h[2] for h in as_list(p)], abs=1e-6)


def test_padding_frames_are_ignored():
    lp, lens = random_batch(3, 3, 6, 4, [6, 2, 4])
    noisy = lp.clone()
    g = torch.Generator().manual_seed(9)
    for b, n in enumerate(lens.tolist()):
        noisy[b, n:] = torch.randn(6 - n, 4, generator=g).mul(4).log_softmax(-1)
    a = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=5)
    c = ctc_prefix_beam_search(noisy, lens, BLANK, beam_size=5)
    assert [as_list(x) for x in a] == [as_list(x) for x in c]
    # and a sentence alone, cut to its length, gives the same beam
    alone = ctc_prefix_beam_search(lp[1:2, :2], torch.tensor([2]), BLANK, beam_size=5)
    assert [h[0] for h in as_list(alone[0])] == [h[0] for h in as_list(a[1])]
    assert [h[2] for h in as_list(alone[0])] == pytest.approx([h[2] for h in as_list(a[1])], abs=1e-6)


def test_zero_length_gives_empty_hypothesis():
    lp, _ = random_batch(4, 2, 3, 4, [3, 0])
    res = ctc_prefix_beam_search(lp, torch.tensor([3, 0]), BLANK, beam_size=3)
    assert len(res[1]) == 1 and res[1][0]["tokens"].numel() == 0 and res[1][0]["log_prob"] == 0.0


def test_beam_one_equals_greedy_on_peaked_distributions():
    g = torch.Generator().manual_seed(5)
    B, T, V = 6, 12, 5
    path = torch.randint(0, V, (B, T), generator=g)
    path[0, :6] = torch.tensor([1, 1, 0, 1, 2, 2])  # make sure repeats with and without blank occur
    probs = torch.full((B, T, V), 0.1 / (V - 1)).scatter_(2, path[..., None], 0.9)
    lp = probs.log()
    lens = torch.tensor([12, 9, 12, 5, 7, 1])
    res = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=1)
    for b in range(B):
        assert len(res[b]) == 1
        assert res[b][0]["tokens"].tolist() == greedy(lp[b], lens[b].item())


def peaked(rows, V=3, p=0.98):
    """(1, T, V) log-probs putting p on each frame's label."""
    probs = torch.full((len(rows), V), (1 - p) / (V - 1))
    probs[torch.arange(len(rows)), torch.tensor(rows)] = p
    return probs.log()[None]


def test_repeat_through_blank_keeps_two_tokens_and_adjacent_repeat_collapses():
    a = 1
    for beam in (1, 4):
        sep = ctc_prefix_beam_search(peaked([a, BLANK, a]), torch.tensor([3]), BLANK, beam)
        assert sep[0][0]["tokens"].tolist() == [a, a]
        merged = ctc_prefix_beam_search(peaked([a, a]), torch.tensor([2]), BLANK, beam)
        assert merged[0][0]["tokens"].tolist() == [a]
        # "a" gets the paths aa, a_, _a (and their probabilities add up)
        if beam == 4:
            want = math.log(0.98 * 0.98 + 2 * 0.98 * 0.01)
            assert merged[0][0]["log_prob"] == pytest.approx(want, abs=1e-5)


def test_length_normalize_changes_ranking():
    # frame 1: surely "a"; frame 2: blank .45, a .10, b .45
    # P("a") = .55 > P("a b") = .45, but per token: log(.55) = -.60 < log(.45) / 2 = -.40
    eps = 1e-6
    lp = torch.tensor([[[eps, 1 - 2 * eps, eps], [0.45, 0.10, 0.45]]]).log()
    lens = torch.tensor([2])
    plain = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=3)
    norm = ctc_prefix_beam_search(lp, lens, BLANK, beam_size=3, length_normalize=True)
    assert plain[0][0]["tokens"].tolist() == [1] and norm[0][0]["tokens"].tolist() == [1, 2]
    ab = next(h for h in norm[0] if h["tokens"].tolist() == [1, 2])
    assert ab["score"] == pytest.approx(ab["log_prob"] / 2)
    assert ab["log_prob"] == pytest.approx(math.log(0.45), abs=1e-4)
    assert [h["score"] for h in norm[0]] == sorted((h["score"] for h in norm[0]), reverse=True)


def test_nonzero_blank_index_and_float64():
    lp, lens = random_batch(8, 2, 4, 3, [4, 3])
    lp = lp.double()
    res = ctc_prefix_beam_search(lp, lens, blank=2, beam_size=64, prune_top_k=3)
    for b in range(2):
        ref = brute_force(lp[b, : lens[b]], blank=2)
        got = {toks: lprob for toks, _, lprob in as_list(res[b])}
        assert set(got) == set(ref)
        assert all(got[t] == pytest.approx(v, abs=1e-9) for t, v in ref.items())


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])  # every device this machine has


@pytest.mark.parametrize("device", DEVICES)
def test_device_and_precision_agree(device):
    """float32 on each available device gives the float64 CPU result (same prefixes, same order)."""
    lp, lens = random_batch(6, 3, 7, 5, [7, 3, 6])
    reference = ctc_prefix_beam_search(lp.double(), lens, BLANK, beam_size=4)
    got = ctc_prefix_beam_search(lp.float().to(device), lens.to(device), BLANK, beam_size=4)
    assert [[h[0] for h in as_list(x)] for x in got] == [[h[0] for h in as_list(x)] for x in reference]


def test_implementations_agree_on_a_realistic_batch():
    """Host and tensor search give the same beams on model-like frames (peaked, blank-heavy, padded)."""
    g = torch.Generator().manual_seed(11)
    lp = (torch.randn(5, 24, 300, generator=g) * 3).log_softmax(-1)
    lp[..., BLANK] += 2.0
    lens = torch.tensor([24, 20, 7, 1, 0])
    for beam in (1, 4, 8):
        a = search_module.ctc_prefix_beam_search(lp, lens, BLANK, beam, implementation="tensor")
        b = search_module.ctc_prefix_beam_search(lp, lens, BLANK, beam, implementation="host")
        assert [[h[0] for h in as_list(x)] for x in a] == [[h[0] for h in as_list(x)] for x in b]
        assert [h[2] for x in a for h in as_list(x)] == pytest.approx([h[2] for x in b for h in as_list(x)], abs=1e-4)
    with pytest.raises(ValueError, match="implementation"):
        search_module.ctc_prefix_beam_search(lp, lens, BLANK, 4, implementation="gpu")
