"""CTC pieces of BnB: the loss (CTC + KL), the criterion, the collapse and the parallel generator."""

import argparse
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import CLS, NO_DROPOUT, PAD, SEP, right_pad

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.criterions.bnb_ctc import BnbCtcConfig, BnbCtcCriterion, ctc_and_kl
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.models.bnb import BnbModel, bnb_small
from bnb_fairseq.modules import ctc_best_alignment, ctc_collapse


def build(bert_dir, **overrides):
    cfg = argparse.Namespace(bert_checkpoint=bert_dir, **{**NO_DROPOUT, "output_vocab": "full", **overrides})
    bnb_small(cfg)
    d = BertDictionary.load(bert_dir)
    task = argparse.Namespace(source_dictionary=d, target_dictionary=d)
    return BnbModel.build_model(cfg, task), task


def brute_force_ctc(lp, target, blank=0):
    """-log sum over all length-T paths that collapse to target (lp: (T, V) log-probs)."""
    T, V = lp.shape
    total = []
    for path in itertools.product(range(V), repeat=T):
        collapsed = [k for k, _ in itertools.groupby(path) if k != blank]
        if collapsed == list(target):
            total.append(sum(lp[t, k] for t, k in enumerate(path)))
    return -torch.logsumexp(torch.stack(total), 0) if total else torch.tensor(math.inf)


def train_tiny(bert_dir, task, sample, config, steps):
    """A tiny BnB trained from seed 0 on one batch by the bnb_ctc criterion of ``config`` (Adam 3e-3), in eval mode."""
    torch.manual_seed(0)
    model, _ = build(bert_dir)
    criterion = BnbCtcCriterion(config, task)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        criterion(model, sample)[0].backward()
        optimizer.step()
    return model.eval()


# --- 1. ctc_and_kl ---


@pytest.fixture
def hand_case():
    g = torch.Generator().manual_seed(0)
    B, T, V = 2, 6, 5
    lprobs = F.log_softmax(torch.randn(B, T, V, generator=g), dim=-1)
    padding_mask = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    targets = torch.tensor([[1, 2, 2], [3, PAD, PAD]])
    target_lengths = torch.tensor([3, 1])
    return lprobs, padding_mask, targets, target_lengths


def test_ctc_matches_torch_and_brute_force(hand_case):
    lprobs, padding_mask, targets, target_lengths = hand_case
    ctc, kl, unfit = ctc_and_kl(lprobs, padding_mask, targets, target_lengths, blank=0)
    input_lengths = torch.tensor([6, 4])
    ref = F.ctc_loss(
        lprobs.transpose(0, 1), targets, input_lengths, target_lengths, blank=0, reduction="sum", zero_infinity=True
    )
    assert torch.allclose(ctc, ref, atol=1e-5)
    # independent of torch's implementation: sum over every alignment
    brute = brute_force_ctc(lprobs[0], [1, 2, 2]) + brute_force_ctc(lprobs[1, :4], [3])
    assert torch.allclose(ctc, brute, atol=1e-4), (ctc, brute)
    assert int(unfit) == 0

    # KL(uniform || p) = sum_v (1/V)(log(1/V) - log p_v), summed over real positions only
    V = lprobs.size(-1)
    direct = sum(
        sum((1 / V) * (math.log(1 / V) - lprobs[b, t, v].item()) for v in range(V))
        for b, n in enumerate([6, 4])
        for t in range(n)
    )
    assert kl.item() == pytest.approx(direct, rel=1e-5)
    assert kl.item() > 0


def test_ctc_over_scores_has_the_true_gradient(hand_case):
    """CTC over log-probabilities less a log prior (--ctc-prior-weight): value and gradient equal the
    brute-force sum over alignments (torch's own backward assumes log-probabilities)."""
    _, padding_mask, targets, target_lengths = hand_case
    logits = torch.randn(2, 6, 5, generator=torch.Generator().manual_seed(3), dtype=torch.double)
    log_prior = torch.tensor([0.6, 0.1, 0.1, 0.1, 0.1], dtype=torch.double).log()

    def ours(x):
        lprobs = F.log_softmax(x, -1)
        return ctc_and_kl(lprobs, padding_mask, targets, target_lengths, 0, ctc_scores=lprobs - 0.5 * log_prior)[0]

    def brute(x):
        scores = F.log_softmax(x, -1) - 0.5 * log_prior
        return brute_force_ctc(scores[0], [1, 2, 2]) + brute_force_ctc(scores[1, :4], [3])

    x1, x2 = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    a, b = ours(x1), brute(x2)
    a.backward(), b.backward()
    assert float(a) == pytest.approx(float(b), rel=1e-9)
    assert torch.allclose(x1.grad, x2.grad, atol=1e-9)
    # without the correction, torch's gradient would be off by exp(score) per frame
    x3 = logits.clone().requires_grad_()
    lp = F.log_softmax(x3, -1) - 0.5 * log_prior
    F.ctc_loss(lp.transpose(0, 1), targets, torch.tensor([6, 4]), target_lengths, reduction="sum").backward()
    assert not torch.allclose(x3.grad, x2.grad, atol=1e-3)


def test_padding_positions_do_not_count(hand_case):
    lprobs, padding_mask, targets, target_lengths = hand_case
    ctc, kl, _ = ctc_and_kl(lprobs, padding_mask, targets, target_lengths, blank=0)
    garbage = lprobs.clone()
    garbage[1, 4:] = torch.tensor([[-50.0, 3.0, 7.0, -1e4, 0.5], [9.0, -9.0, 0.0, 2.0, -300.0]])
    ctc2, kl2, _ = ctc_and_kl(garbage, padding_mask, targets, target_lengths, blank=0)
    assert torch.allclose(ctc, ctc2) and torch.allclose(kl, kl2)
    # ...whereas the same change on real positions counts
    changed = lprobs.clone()
    changed[1, 2:4] = garbage[1, 4:6]
    ctc3, kl3, _ = ctc_and_kl(changed, padding_mask, targets, target_lengths, blank=0)
    assert not torch.allclose(ctc, ctc3) and not torch.allclose(kl, kl3)


def test_unfit_targets_are_counted():
    g = torch.Generator().manual_seed(1)
    lprobs = F.log_softmax(torch.randn(6, 6, 5, generator=g), dim=-1)
    input_lengths = torch.tensor([3, 2, 3, 2, 1, 6])
    padding_mask = torch.arange(6)[None] >= input_lengths[:, None]
    targets = torch.tensor(
        [
            [1, 2, 3, 4, 1],  # 5 labels in 3 frames: cannot fit
            [2, 2, 0, 0, 0],  # a repeat needs a blank between: 3 frames, only 2
            [2, 2, 0, 0, 0],  # 3 frames: fits
            [2, 3, 0, 0, 0],  # no repeat: 2 frames suffice
            [4, 0, 0, 0, 0],  # the padding after the target is not a repeat
            [1, 1, 1, 0, 0],  # needs 5 of 6
        ]
    )
    target_lengths = torch.tensor([5, 2, 2, 2, 1, 3])
    ctc, _, unfit = ctc_and_kl(lprobs, padding_mask, targets, target_lengths, blank=0)
    assert int(unfit) == 2
    per = F.ctc_loss(
        lprobs.transpose(0, 1), targets, input_lengths, target_lengths, reduction="none", zero_infinity=False
    )
    assert torch.isinf(per[:2]).all() and torch.isfinite(per[2:]).all()
    assert torch.allclose(ctc, per[2:].sum(), atol=1e-5)  # impossible targets are zeroed
    ctc_inf, _, _ = ctc_and_kl(lprobs, padding_mask, targets, target_lengths, blank=0, zero_infinity=False)
    assert torch.isinf(ctc_inf)


# --- 2. the criterion on a tiny model ---


def one_batch():
    src = right_pad([[CLS, 7592, 2088, 2003, 2204, SEP], [CLS, 2129, 2024, 2017, SEP]])
    target = right_pad([[CLS, 2023, 2003, 1037, 3231, SEP], [CLS, 2748, 2748, SEP]])
    return {
        "id": torch.tensor([0, 1]),
        "nsentences": 2,
        "ntokens": 10,
        "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)},
        "target": target,
    }


def test_criterion_overfits_one_batch(tiny_bert_dir):
    torch.manual_seed(0)
    model, task = build(tiny_bert_dir)
    criterion = BnbCtcCriterion(BnbCtcConfig(kl_weight=0.1), task)
    sample = one_batch()

    model.train()
    loss, sample_size, log = criterion(model, sample)
    assert torch.isfinite(loss)
    assert {"loss", "ctc_loss", "kl", "unfit", "ntokens", "nsentences", "npositions"} <= set(log)
    assert log["ntokens"] == sample_size == 10 and log["nsentences"] == 2
    assert log["npositions"] == 12 + 10 and log["unfit"] == 0
    assert log["kl"] > 0 and log["ctc_loss"] > 0
    assert loss.item() == pytest.approx(log["ctc_loss"].item() + 0.1 * log["kl"].item() * 10 / 22, rel=1e-5)

    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = loss.item()
    for _ in range(30):
        opt.zero_grad()
        loss, _, _ = criterion(model, sample)
        loss.backward()
        opt.step()
    last = criterion(model, sample)[0].item()
    assert last < 0.5 * first, (first, last)


def test_label_prior_is_the_running_mean_posterior(tiny_bert_dir):
    """--ctc-prior-weight: the first training batch sets the prior to its mean frame posterior, later ones
    move it by the momentum; CTC then sums log p - alpha log prior; validation reads the prior as it is."""
    torch.manual_seed(0)
    model, task = build(tiny_bert_dir)
    criterion = BnbCtcCriterion(BnbCtcConfig(kl_weight=0.0, ctc_prior_weight=0.5, ctc_prior_momentum=0.25), task)
    sample = one_batch()
    model.eval()
    assert (
        criterion(model, sample)[2]["ctc_loss"]
        == BnbCtcCriterion(BnbCtcConfig(kl_weight=0.0), task)(model, sample)[2]["ctc_loss"]
    )  # no prior before a training batch
    assert criterion.prior.log_prior is None

    def frames():
        net_output = model(**sample["net_input"])
        return model.get_normalized_probs(net_output, log_probs=True), net_output[1]["padding_mask"]

    lprobs, padding_mask = frames()  # no dropout in these tiny models: train() gives the same pass
    model.train()
    _, _, log = criterion(model, sample)
    mean = lprobs.exp()[~padding_mask].mean(0)
    assert torch.allclose(criterion.prior.log_prior.exp(), mean, atol=1e-6)
    target = model.decoder.output_index(sample["target"])
    expected = ctc_and_kl(
        lprobs,
        padding_mask,
        target,
        target.ne(PAD).sum(1),
        model.decoder.blank_slot,
        ctc_scores=lprobs - 0.5 * mean.log(),
    )[0]
    assert float(log["ctc_loss"]) == pytest.approx(float(expected), rel=1e-5)
    criterion(model, sample)
    assert torch.allclose(criterion.prior.log_prior.exp(), mean, atol=1e-6)  # the same batch again: the same mean
    with pytest.raises(ValueError, match="--ctc-prior-weight -1.0 --ctc-prior-momentum"):
        BnbCtcCriterion(BnbCtcConfig(ctc_prior_weight=-1.0), task)


def test_the_blank_penalty_in_training_lowers_the_blank_score_alone(tiny_bert_dir):
    """--ctc-train-blank-penalty: CTC sums log p with the blank's score lowered by the penalty, in training
    and validation alike, and the trained model's frames leave fewer blanks than plain CTC's would."""
    torch.manual_seed(0)
    model, task = build(tiny_bert_dir)
    model.eval()
    sample = one_batch()
    criterion = BnbCtcCriterion(BnbCtcConfig(kl_weight=0.0, ctc_train_blank_penalty=2.0), task)
    net_output = model(**sample["net_input"])
    lprobs, padding_mask = model.get_normalized_probs(net_output, log_probs=True), net_output[1]["padding_mask"]
    blank = model.decoder.blank_slot
    shifted = lprobs.clone()
    shifted[..., blank] -= 2.0
    target = model.decoder.output_index(sample["target"])
    expected = ctc_and_kl(lprobs, padding_mask, target, target.ne(PAD).sum(1), blank, ctc_scores=shifted)[0]
    plain = ctc_and_kl(lprobs, padding_mask, target, target.ne(PAD).sum(1), blank)[0]
    got = criterion(model, sample)[2]["ctc_loss"]
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    assert float(got) > float(plain)  # every alignment of these targets holds blanks: each pays for them
    with pytest.raises(ValueError, match="--ctc-train-blank-penalty -1.0 --ctc-train-blank-penalty-warmup 0: give"):
        BnbCtcCriterion(BnbCtcConfig(ctc_train_blank_penalty=-1.0), task)
    warming = BnbCtcCriterion(BnbCtcConfig(ctc_train_blank_penalty=2.0, ctc_train_blank_penalty_warmup=100), task)
    penalties = []
    for updates in (0, 50, 100, 400):
        warming.set_num_updates(updates)
        penalties.append(warming.prior.current_blank_penalty())
    assert penalties == [0.0, 1.0, 2.0, 2.0]
    warming.set_num_updates(50)
    shifted[..., blank] += 1.0  # half the penalty at half the warm-up
    expected = ctc_and_kl(lprobs, padding_mask, target, target.ne(PAD).sum(1), blank, ctc_scores=shifted)[0]
    assert float(warming(model, sample)[2]["ctc_loss"]) == pytest.approx(float(expected), rel=1e-5)

    def blank_share(penalty):
        trained = train_tiny(
            tiny_bert_dir, task, sample, BnbCtcConfig(kl_weight=0.0, ctc_train_blank_penalty=penalty), 40
        )
        out = trained(**sample["net_input"])
        real = ~out[1]["padding_mask"]
        return float(out[0].argmax(-1)[real].eq(blank).float().mean())

    assert blank_share(3.0) < blank_share(0.0)


def test_the_best_path_term_is_the_cross_entropy_of_the_best_alignment(tiny_bert_dir):
    """--ctc-best-path-weight: the loss adds the weighted cross-entropy of each frame's label on the best CTC
    alignment (scaled per frame like the KL), and training with it makes greedy decoding drop fewer words."""
    torch.manual_seed(0)
    model, task = build(tiny_bert_dir)
    model.eval()
    sample = one_batch()
    net_output = model(**sample["net_input"])
    lprobs, padding_mask = model.get_normalized_probs(net_output, log_probs=True), net_output[1]["padding_mask"]
    blank = model.decoder.blank_slot
    target = model.decoder.output_index(sample["target"])
    frames, lengths = (~padding_mask).sum(1), target.ne(PAD).sum(1)
    aligned, _ = ctc_best_alignment(lprobs, target, frames, lengths, blank)
    nll = -lprobs.gather(2, aligned.unsqueeze(2)).squeeze(2).masked_fill(padding_mask, 0.0).sum()
    plain = BnbCtcCriterion(BnbCtcConfig(kl_weight=0.0), task)
    weighted = BnbCtcCriterion(BnbCtcConfig(kl_weight=0.0, ctc_best_path_weight=0.5), task)
    loss, _, log = weighted(model, sample)
    assert float(log["best_path"]) == pytest.approx(float(nll), rel=1e-5)
    aligned_loss, _, aligned_log, parts = weighted.compute(model, sample, align=True)  # bnb_janus: one Viterbi for both
    assert float(aligned_log["best_path"]) == pytest.approx(float(nll), rel=1e-5)
    assert float(aligned_loss) == pytest.approx(float(loss), rel=1e-6) and parts["aligned_steps"].shape == aligned.shape
    ntokens = sample["ntokens"]
    expected = plain(model, sample)[0] + 0.5 * nll * ntokens / (~padding_mask).sum()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="--ctc-best-path-weight -1.0: give a weight >= 0"):
        BnbCtcCriterion(BnbCtcConfig(ctc_best_path_weight=-1.0), task)

    def greedy_words(weight):
        trained = train_tiny(tiny_bert_dir, task, sample, BnbCtcConfig(kl_weight=0.0, ctc_best_path_weight=weight), 80)
        with torch.no_grad():
            logits, extra = trained(**sample["net_input"])
        return int(ctc_collapse(logits.argmax(-1), logits[..., 0], extra["padding_mask"], blank)[2].sum())

    # plain CTC leaves most frames blank and drops words; the term keeps more of the target words
    assert greedy_words(0.0) < greedy_words(1.0) <= int(lengths.sum())


# --- 3. ctc_collapse ---


def test_ctc_collapse():
    a, b, c, _ = 5, 6, 7, 0
    tokens = torch.tensor(
        [
            [a, a, _, a, b, b, _, _, c],
            [_, _, _, _, _, _, _, _, _],
            [c, c, b, 9, 9, a, a, b, c],  # padded after 3 positions; the padding holds non-blanks
            [101, a, a, 102, 102, b, 101, _, 0],
        ]
    )
    scores = torch.arange(36, dtype=torch.float).view(4, 9)
    padding_mask = torch.zeros(4, 9, dtype=torch.bool)
    padding_mask[2, 3:] = True
    out, out_scores, lengths = ctc_collapse(tokens, scores, padding_mask, blank=0, drop=(101, 102))
    assert lengths.tolist() == [4, 0, 2, 2]
    assert out[0, :4].tolist() == [a, a, b, c]
    assert out_scores[0, :4].tolist() == [0, 3, 4, 8]  # each run keeps its first frame's score
    assert out[2, :2].tolist() == [c, b] and out_scores[2, :2].tolist() == [18, 20]
    assert out[3, :2].tolist() == [a, b] and out_scores[3, :2].tolist() == [28, 32]


# --- 4. ParallelGenerator ---


@pytest.fixture(scope="module")
def gen_model(tiny_bert_dir):
    torch.manual_seed(0)
    model, task = build(tiny_bert_dir)
    return model, task


def gen_sample():
    src = right_pad([[CLS, 7592, 2088, SEP], [CLS, 2129, 2024, 2017, 2725, 2651, SEP], [CLS, SEP]])
    return {"id": torch.arange(3), "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)}, "target": None}


def check_hypos(hypos, n):
    assert len(hypos) == n
    for h in hypos:
        assert len(h) == 1
        toks, pos = h[0]["tokens"], h[0]["positional_scores"]
        assert toks[-1].item() == SEP
        assert not {CLS, SEP, PAD} & set(toks[:-1].tolist())
        assert pos.shape == toks.shape
        assert torch.isfinite(pos).all() and h[0]["score"] == pytest.approx(pos.mean().item())


def test_generator_matches_argmax_then_collapse(gen_model):
    model, task = gen_model
    sample = gen_sample()
    hypos = ParallelGenerator(task.target_dictionary).generate([model], sample)
    check_hypos(hypos, 3)
    with torch.no_grad():
        logits, extra = model(**sample["net_input"])
    lp = F.log_softmax(logits, -1)
    for b, n in enumerate(extra["out_lengths"].tolist()):
        best = lp[b, :n].argmax(-1).tolist()
        expected = [k for k, _ in itertools.groupby(best) if k not in (PAD, CLS, SEP)]
        assert hypos[b][0]["tokens"].tolist() == expected + [SEP]
        assert hypos[b][0]["positional_scores"][-1].item() == pytest.approx(lp[b, n - 1, SEP].item(), abs=1e-5)
    assert sum(len(h[0]["tokens"]) for h in hypos) > 3  # the random model does emit words


@pytest.mark.parametrize("dominant", [PAD, CLS, SEP])
def test_generator_empty_collapse(gen_model, dominant):
    """The blank ([PAD]) or a special token wins every position: nothing survives the collapse,
    and each hypothesis is just [SEP]."""
    model, task = gen_model
    bias = model.decoder.lm_head.bias
    saved = bias.detach().clone()
    try:
        with torch.no_grad():
            bias[dominant] = 1e4
        hypos = ParallelGenerator(task.target_dictionary).generate([model], gen_sample())
    finally:
        with torch.no_grad():
            bias.copy_(saved)
    check_hypos(hypos, 3)
    for h in hypos:
        assert h[0]["tokens"].tolist() == [SEP]
        assert h[0]["positional_scores"].shape == (1,)


def test_generator_blank_penalty_lengthens(gen_model):
    """--ctc-blank-penalty handicaps the blank in the argmax only: where the blank wins every slot,
    a large enough penalty lets the runner-up through, and the printed scores stay the model's."""
    model, task = gen_model
    bias = model.decoder.lm_head.bias
    saved = bias.detach().clone()
    try:
        with torch.no_grad():
            bias[PAD] = 30.0  # the blank dominates every slot
        sample = gen_sample()
        plain = ParallelGenerator(task.target_dictionary).generate([model], sample)
        assert all(h[0]["tokens"].tolist() == [SEP] for h in plain)
        assert ParallelGenerator(task.target_dictionary, blank_penalty=0.0).generate([model], sample)[1][0][
            "tokens"
        ].tolist() == [SEP]
        penalised = ParallelGenerator(task.target_dictionary, blank_penalty=100.0).generate([model], sample)
        with torch.no_grad():
            logits, extra = model(**sample["net_input"])
        lp = F.log_softmax(logits, -1)
        no_blank = lp.clone()
        no_blank[..., PAD] = float("-inf")
        for b, n in enumerate(extra["out_lengths"].tolist()):
            best = no_blank[b, :n].argmax(-1).tolist()
            expected = [k for k, _ in itertools.groupby(best) if k not in (CLS, SEP)]
            assert penalised[b][0]["tokens"].tolist() == expected + [SEP]
            first = lp[b, 0, best[0]].item()
            if best[0] not in (CLS, SEP):
                assert penalised[b][0]["positional_scores"][0].item() == pytest.approx(first, abs=1e-5)
    finally:
        with torch.no_grad():
            bias.copy_(saved)
