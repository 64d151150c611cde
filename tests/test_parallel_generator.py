"""The parallel generator's CTC decoding: greedy collapse and the prefix beam search with n-best."""

import argparse

import pytest
import torch
from conftest import CLS, NO_DROPOUT, PAD, SEP, right_pad

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.models.bnb import BnbModel, bnb_small

SRC = [[CLS, 7592, 2088, 2003, SEP], [CLS, 2129, 2024, 2017, 2725, 2651, 1012, SEP]]


@pytest.fixture(scope="module")
def model_and_dict(tiny_bert_dir):
    torch.manual_seed(0)
    cfg = argparse.Namespace(bert_checkpoint=tiny_bert_dir, **{**NO_DROPOUT, "output_vocab": "full"})
    bnb_small(cfg)
    d = BertDictionary.load(tiny_bert_dir)
    model = BnbModel.build_model(cfg, argparse.Namespace(source_dictionary=d, target_dictionary=d)).eval()
    model.decoder.set_output_vocab([2023, 2003, 1037, 3231, 2748])
    return model, d


def sample():
    src = right_pad(SRC)
    return {"id": torch.arange(2), "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)}}


def test_beam_search_nbest(model_and_dict):
    model, d = model_and_dict
    hypos = ParallelGenerator(d, ctc_beam=6, nbest=3).generate([model], sample())
    assert [len(h) for h in hypos] == [3, 3]
    specials = {CLS, SEP, PAD}
    for nbest in hypos:
        outputs = [tuple(h["tokens"].tolist()) for h in nbest]
        assert len(set(outputs)) == 3  # distinct outputs
        for h in nbest:
            toks = h["tokens"].tolist()
            assert toks[-1] == SEP and not specials & set(toks[:-1])
            assert set(toks[:-1]) <= {100, 2023, 2003, 1037, 3231, 2748}
            assert torch.allclose(h["positional_scores"].mean(), h["score"])
        totals = [float(h["positional_scores"].sum()) for h in nbest]
        assert totals == sorted(totals, reverse=True)


def test_beam_search_finds_the_greedy_output_when_peaked(model_and_dict):
    model, d = model_and_dict
    with torch.no_grad():
        bias = model.decoder.lm_head.bias
        saved = bias.clone()
        bias[3231] = 30.0  # 3231 at every slot: greedy and beam both give "3231"
        try:
            greedy = ParallelGenerator(d).generate([model], sample())
            beam = ParallelGenerator(d, ctc_beam=4).generate([model], sample())
        finally:
            bias.copy_(saved)
    assert [h[0]["tokens"].tolist() for h in greedy] == [[3231, SEP], [3231, SEP]]
    assert [h[0]["tokens"].tolist() for h in beam] == [[3231, SEP], [3231, SEP]]


def test_nbest_needs_a_beam(model_and_dict):
    _, d = model_and_dict
    with pytest.raises(ValueError, match="--nbest 2 needs a CTC beam"):
        ParallelGenerator(d, nbest=2)
    with pytest.raises(ValueError, match="--ctc-beam 0"):
        ParallelGenerator(d, ctc_beam=0)


def test_slot_argmax_equals_torch_argmax():
    """The generator's argmax (numpy's on CPU) gives torch's answer: first of ties, strided views, NaN rows,
    and other dtypes through torch itself."""
    from bnb_fairseq.modules.slot_argmax import slot_argmax, slot_max

    torch.manual_seed(0)
    x = torch.randn(3, 7, 50)
    x[0, 0, 5] = x[0, 0, 9] = 10.0  # a tie: the first wins
    x[1, 2, 4] = float("nan")
    for t in (x, x.transpose(0, 1), x[:, ::2], x.double(), x.bfloat16()):
        assert torch.equal(slot_argmax(t), t.argmax(-1))
        values, slots = slot_max(t)
        ref_values, ref_slots = t.max(-1)
        assert torch.equal(slots, ref_slots)
        assert torch.allclose(values, ref_values, equal_nan=True)
    assert slot_argmax(x)[0, 0] == 5 and slot_argmax(x).dtype == torch.long
