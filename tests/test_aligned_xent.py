"""Aligned cross-entropy (bnb_nat --axe): the dynamic programme against brute-force enumeration of
alignments, the alignment it returns, and the criterion built on it."""

import functools
import math

import pytest
import torch
from conftest import PAD
from test_length_classify import build, make_sample

from bnb_fairseq.criterions.bnb_nat import BnbNatConfig, BnbNatCriterion
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.modules.aligned_xent import aligned_cross_entropy

BLANK = 0


def brute_force_cost(lprobs, targets, num_targets, num_slots, skip_target_weight):
    """Cheapest alignment by plain recursion over (token, slot, did the last token land on this slot)."""
    lp = lprobs.double()

    @functools.lru_cache(maxsize=None)
    def rest(i, j, landed):
        if i == num_targets and j == num_slots:
            return 0.0
        options = []
        if j < num_slots:  # skip slot j + 1: it predicts the blank
            options.append(-float(lp[j, BLANK]) + rest(i, j + 1, False))
        if i < num_targets and j < num_slots:  # token i + 1 on slot j + 1
            options.append(-float(lp[j, targets[i]]) + rest(i + 1, j + 1, True))
        if 0 < i < num_targets and landed:  # token i + 1 shares slot j with token i
            options.append(-skip_target_weight * float(lp[j - 1, targets[i]]) + rest(i + 1, j, True))
        return min(options, default=math.inf)

    return rest(0, 0, False)


def test_cost_equals_brute_force_over_all_alignments():
    torch.manual_seed(0)
    for trial in range(60):
        bsz, vocab, slots = 3, 5, int(torch.randint(1, 7, ()))
        lprobs = torch.randn(bsz, slots + 1, vocab).log_softmax(-1)  # one padding slot
        slot_lengths = torch.randint(1, slots + 1, (bsz,))
        target_lengths = torch.stack([torch.randint(1, int(n) + 1, ()) for n in slot_lengths])
        targets = torch.randint(1, vocab, (bsz, int(target_lengths.max())))
        weight = float(torch.rand(())) * 2
        loss, slot_target, _ = aligned_cross_entropy(lprobs, targets, target_lengths, slot_lengths, BLANK, weight)
        for b in range(bsz):
            expected = brute_force_cost(
                lprobs[b], tuple(targets[b].tolist()), int(target_lengths[b]), int(slot_lengths[b]), weight
            )
            assert math.isclose(float(loss[b]), expected, rel_tol=1e-5, abs_tol=1e-5), (trial, b)
            assert (slot_target[b, int(slot_lengths[b]) :] == 0).all()


def confident(rows, vocab=6):
    """log-probabilities that put 0.9 on the given token of each slot."""
    probs = torch.full((len(rows), vocab), 0.1 / (vocab - 1))
    probs[torch.arange(len(rows)), torch.tensor(rows)] = 0.9
    return probs.log()[None]


def test_alignment_follows_the_predictions():
    # the model already predicts the target in order: the alignment is slot j <- token j, the plain loss
    lp = confident([1, 2, 3, 4])
    targets = torch.tensor([[1, 2, 3, 4]])
    n = torch.tensor([4])
    loss, slot_target, slot_of = aligned_cross_entropy(lp, targets, n, n, BLANK)
    assert slot_target.tolist() == [[1, 2, 3, 4]] and slot_of.tolist() == [[0, 1, 2, 3]]
    assert torch.allclose(loss, -lp[0, torch.arange(4), targets[0]].sum(0, keepdim=True))
    # predictions shifted right by one (blank first): the first slot is skipped, the last two tokens share
    lp = confident([BLANK, 1, 2, 3])
    loss, slot_target, slot_of = aligned_cross_entropy(lp, targets, n, n, BLANK)
    assert slot_target.tolist() == [[BLANK, 1, 2, 3]] and slot_of.tolist() == [[1, 2, 3, 3]]
    # cheaper than scoring slot j against token j, which charges every slot a wrong token
    plain = -lp[0, torch.arange(4), targets[0]].sum()
    assert float(loss[0]) < float(plain) - 5


def test_gradient_reaches_only_the_aligned_entries():
    lp = confident([BLANK, 1, 2, 3]).requires_grad_(True)
    targets, n = torch.tensor([[1, 2, 3, 4]]), torch.tensor([4])
    loss, _, _ = aligned_cross_entropy(lp, targets, n, n, BLANK, skip_target_weight=0.5)
    loss.sum().backward()
    expected = torch.zeros_like(lp)
    expected[0, 0, BLANK] = -1  # slot 1 skipped
    expected[0, 1, 1] = expected[0, 2, 2] = expected[0, 3, 3] = -1
    expected[0, 3, 4] = -0.5  # token 4 shares slot 4, at half weight
    assert torch.equal(lp.grad, expected)


def test_bnb_nat_axe_loss(tiny_bert_dir):
    model, task = build(tiny_bert_dir)
    sample = make_sample()
    plain = BnbNatCriterion(BnbNatConfig(label_smoothing=0.0), task)
    axe = BnbNatCriterion(BnbNatConfig(label_smoothing=0.0, axe=True), task)
    with torch.no_grad():
        (l_plain, n_plain, log_plain), (l_axe, n_axe, log_axe) = plain(model, sample), axe(model, sample)
    # slot j <- token j is one of the alignments AXE chooses from: its cost is never higher
    assert n_axe == n_plain == int(sample["target"].ne(PAD).sum())
    assert float(log_axe["nll_loss"]) <= float(log_plain["nll_loss"]) + 1e-4
    assert torch.allclose(l_axe - log_axe["nll_loss"], l_plain - log_plain["nll_loss"], atol=1e-4)  # same length loss
    # it trains the decoder, and with a CRF the CRF scores the aligned slots
    model.train()
    axe(model, sample)[0].backward()
    assert model.decoder.lm_head.bias.grad.abs().sum() > 0
    crf_model, _ = build(tiny_bert_dir, crf_lowrank_approx=4, crf_beam_approx=3)
    loss, _, log = BnbNatCriterion(BnbNatConfig(axe=True), task)(crf_model.train(), sample)
    assert math.isfinite(float(loss.detach())) and float(log["crf"]) > 0


def test_axe_aligned_steps_for_janus(tiny_bert_dir):
    model, task = build(tiny_bert_dir)
    sample = make_sample()
    with torch.no_grad():
        _, _, _, parts = BnbNatCriterion(BnbNatConfig(axe=True), task).compute(model, sample, align=True)
    steps = parts["aligned_steps"]
    lengths = sample["target"].ne(PAD).sum(1)
    for b, n in enumerate(lengths.tolist()):
        own = [s for s in steps[b].tolist() if s >= 0]
        # every autoregressive step predicts a token on its own slot at most once, in order
        assert own == sorted(set(own)) and all(0 <= s < n - 1 for s in own)


def test_axe_refuses_refinement_training(tiny_bert_dir):
    _, task = build(tiny_bert_dir)
    with pytest.raises(ValueError, match="--axe with --refinement-training"):
        BnbNatCriterion(BnbNatConfig(axe=True, refinement_training=0.5), task)


def glancing_passes(model, criterion, sample):
    """The criterion's result on ``model`` in training, and the word inputs of each decoder pass it ran."""
    decoder, seen = model.decoder, []
    forward = decoder.forward

    def recording(*args, **kwargs):
        seen.append(kwargs.get("prev_tokens"))
        return forward(*args, **kwargs)

    decoder.forward = recording
    try:
        return criterion(model.train(), sample), seen
    finally:
        del decoder.forward


def test_axe_glances_along_the_alignment(tiny_bert_dir):
    model, task = build(tiny_bert_dir, length_slot_ratio=1.5)
    sample = make_sample()
    (loss, n, log), seen = glancing_passes(model, BnbNatCriterion(BnbNatConfig(axe=True, glat_ratio=1.0), task), sample)
    assert seen[0] is None and seen[1] is not None  # a word-free first pass, then the glancing pass
    assert n == int(sample["target"].ne(PAD).sum()) and float(log["glanced"]) > 0
    for given, target in zip(seen[1].tolist(), sample["target"].tolist()):
        words = [w for w in given if w != PAD]
        gold = [w for w in target if w != PAD]
        # the glanced words are target words in target order (a subsequence), at their aligned slots
        it = iter(gold)
        assert words and all(any(w == g for g in it) for w in words)


def test_blank_penalty_fills_the_blank_slots_of_a_classify_model(tiny_bert_dir):
    model, task = build(tiny_bert_dir)
    d = task.target_dictionary
    sample = make_sample()
    decoder = model.decoder
    with torch.no_grad():  # a model that prefers the blank (skipped slots) everywhere
        decoder.lm_head.bias[decoder.blank_idx] += 50.0
        lengths = model(**sample["net_input"])[1]["out_lengths"]
        skipped = [len(h[0]["tokens"]) for h in ParallelGenerator(d).generate([model], sample)]
        filled = [len(h[0]["tokens"]) for h in ParallelGenerator(d, blank_penalty=100.0).generate([model], sample)]
    assert skipped == [1, 1]  # every slot the blank: only the closing [SEP]
    # no slot the blank: every slot a token (printed or not), so outputs are as long as the slots allow
    assert all(0 < f <= int(n) for f, n in zip(filled, lengths)) and sum(filled) > 2


def test_length_slot_ratio_leaves_room_for_blanks(tiny_bert_dir):
    model, task = build(tiny_bert_dir, length_slot_ratio=1.5)
    sample = make_sample()
    with pytest.raises(ValueError, match="--length-slot-ratio 1.5: .*bnb_nat --axe"):
        BnbNatCriterion(BnbNatConfig(), task)(model, sample)
    with torch.no_grad():
        _, _, log, parts = BnbNatCriterion(BnbNatConfig(axe=True), task).compute(model, sample, align=True)
    lengths = sample["target"].ne(PAD).sum(1)
    slots = torch.ceil(lengths * 1.5).long()
    assert parts["net_output"][1]["out_lengths"].tolist() == slots.tolist()
    assert parts["aligned_steps"].size(1) == int(slots.max())
    # decoding: each length candidate gets its slots, distinct and within the decoder's positions
    decoder = model.decoder
    length_lprobs = torch.randn(2, decoder.num_length_classes).log_softmax(-1)
    plain, _ = build(tiny_bert_dir)
    lengths, _ = plain.decoder.length_candidates(length_lprobs, torch.tensor([5, 7]), k=3)
    got, _ = decoder.length_candidates(length_lprobs, torch.tensor([5, 7]), k=3)
    assert got.tolist() == torch.ceil(lengths * 1.5).long().tolist()
    hypos = ParallelGenerator(task.target_dictionary, length_beam=2).generate([model], sample)
    assert all(len(h[0]["tokens"]) <= int(got.max()) for h in hypos)
