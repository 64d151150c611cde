"""What the BnB decoder is fed (latent, encoder states or both), where its positions come from,
how its cross-attention starts, and the trimmed output vocabulary."""

import argparse

import pytest
import torch
import torch.nn.functional as F
from conftest import CLS, NO_DROPOUT, PAD, SEP, right_pad

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.criterions.bnb_ctc import BnbCtcConfig, BnbCtcCriterion
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.models.bnb import BnbModel, bnb_small
from bnb_fairseq.modules import gather_rows, source_positions

SRC = [[CLS, 7592, 2088, 2003, SEP], [CLS, 2129, 2024, 2017, 2725, 2651, 1012, SEP]]


def build(bert_dir, seed=0, task=None, **overrides):
    torch.manual_seed(seed)
    cfg = argparse.Namespace(bert_checkpoint=bert_dir, **{**NO_DROPOUT, "output_vocab": "full", **overrides})
    bnb_small(cfg)
    if task is None:
        d = BertDictionary.load(bert_dir)
        task = argparse.Namespace(source_dictionary=d, target_dictionary=d)
    return BnbModel.build_model(cfg, task).eval(), cfg, task


def decoder_embedding_inputs(model, src):
    """The vectors the decoder's embedding layer receives (input and position embeddings)."""
    seen = {}
    embeddings = model.decoder.embeddings
    original = embeddings.forward

    def spy(tokens=None, inputs_embeds=None, position_embeds=None):
        seen["inputs"], seen["positions"] = inputs_embeds, position_embeds
        return original(tokens, inputs_embeds, position_embeds)

    embeddings.forward = spy
    try:
        with torch.no_grad():
            model(src, src_lengths=src.ne(PAD).sum(1))
    finally:
        del embeddings.forward
    return seen


@pytest.mark.parametrize("mode", ["latent", "encoder", "latent+encoder"])
def test_decoder_input_modes(tiny_bert_dir, mode):
    model, cfg, _ = build(tiny_bert_dir, decoder_input=mode, ctc_ratio=1.5)
    src = right_pad(SRC)
    lengths = src.ne(PAD).sum(1)
    seen = decoder_embedding_inputs(model, src)
    with torch.no_grad():
        h = model.encoder(src, src_lengths=lengths)["encoder_out"][0]
        pos, _ = source_positions(lengths, model.decoder.output_lengths(lengths))
        last = (lengths - 1)[:, None]
        latent = F.gelu(model.decoder.latent_in(gather_rows(model.decoder.latent(h), pos, last)))
        states = gather_rows(h, pos, last)  # tiny encoder and decoder share a width: no projection
    expected = {"latent": latent, "encoder": states, "latent+encoder": latent + states}[mode]
    assert seen["inputs"].shape == expected.shape
    assert torch.allclose(seen["inputs"], expected, atol=1e-5)
    assert seen["positions"] is None  # default positions: slot j gets BERT position j


def test_source_positions_follow_the_source(tiny_bert_dir):
    model, _, _ = build(tiny_bert_dir, decoder_positions="source", ctc_ratio=2.0, ctc_min_len=1)
    src = right_pad(SRC)
    seen = decoder_embedding_inputs(model, src)
    table = model.decoder.embeddings.position_embeddings.weight
    got = seen["positions"]
    assert got.shape == (2, 16, table.size(1))
    # slot 2k reads source position k exactly; slot 2k+1 lies half-way to k+1
    for b, n in enumerate([5, 8]):
        for k in range(n - 1):
            assert torch.allclose(got[b, 2 * k], table[k], atol=1e-6)
            assert torch.allclose(got[b, 2 * k + 1], (table[k] + table[k + 1]) / 2, atol=1e-6)
    # at ratio 1 every slot reads its own position: identical to the original slot positions
    slot, _, _ = build(tiny_bert_dir, ctc_ratio=1.0, ctc_min_len=1)
    same, _, _ = build(tiny_bert_dir, decoder_positions="source", ctc_ratio=1.0, ctc_min_len=1)
    with torch.no_grad():
        a, extra = slot(src)
        b = same(src)[0]
    real = ~extra["padding_mask"]  # padding slots are never read; only real slots must agree
    assert torch.allclose(a[real], b[real], atol=1e-5)


def test_cross_attention_init_from_self_attention(tiny_bert_dir):
    copied, _, _ = build(tiny_bert_dir, cross_attention_init="self")
    fresh, _, _ = build(tiny_bert_dir)
    for model, should_match in ((copied, True), (fresh, False)):
        for layer in model.decoder.encoder.layer:
            ours = dict(layer.crossattention.named_parameters())
            for name, p in layer.attention.named_parameters():
                if name.endswith("weight") and "LayerNorm" not in name:
                    assert torch.equal(ours[name], p) == should_match, name


def test_cross_attention_init_auto_copies_for_janus_only(tiny_bert_dir):
    """The default copies the self-attention for --janus models (the AR view starts as bert2bert's decoder)
    and keeps BnB's random start otherwise; the config records the choice, so a reload builds the same."""
    for janus, expected in ((True, "self"), (False, "random")):
        model, cfg, _ = build(tiny_bert_dir, janus=janus)
        assert cfg.cross_attention_init == expected
        layer = model.decoder.encoder.layer[0]
        copied = torch.equal(layer.crossattention.self.query.weight, layer.attention.self.query.weight)
        assert copied == (expected == "self")
    _, cfg, _ = build(tiny_bert_dir, janus=True, cross_attention_init="random")
    assert cfg.cross_attention_init == "random"  # an explicit choice is kept


def test_trimmed_output_vocabulary(tiny_bert_dir):
    full, _, task = build(tiny_bert_dir)
    trimmed, cfg, _ = build(tiny_bert_dir)
    keep = [2023, 2003, 1037, 3231, 2748]
    trimmed.decoder.set_output_vocab(keep)
    ids = trimmed.decoder.output_ids.tolist()
    assert ids == sorted(set(keep) | {PAD, 100, CLS, SEP}) and cfg.output_vocab_size == len(ids)
    src = right_pad(SRC)
    with torch.no_grad():
        logits_full = full(src)[0]
        logits_trim = trimmed(src)[0]
    assert logits_trim.shape[-1] == len(ids)
    assert torch.allclose(logits_trim, logits_full[..., ids], atol=1e-5)  # same weights, kept columns

    dec = trimmed.decoder
    assert dec.blank_slot == ids.index(PAD)
    assert dec.output_tokens(dec.output_index(torch.tensor(keep))).tolist() == keep
    assert dec.output_index(torch.tensor([7592])).tolist() == [ids.index(100)]  # unknown -> [UNK] slot

    # the criterion scores targets through the output slots; the generator answers vocabulary ids
    target = right_pad([[CLS, 2023, 2003, 1037, SEP], [CLS, 2748, SEP]])
    sample = {
        "id": torch.arange(2),
        "nsentences": 2,
        "ntokens": 8,
        "target": target,
        "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)},
    }
    loss, _, log = BnbCtcCriterion(BnbCtcConfig(), task)(trimmed, sample)
    assert torch.isfinite(loss) and log["unfit"] == 0
    with torch.no_grad():
        dec.lm_head.bias[3231] = 50.0  # 3231 wins every slot (the bias is indexed by vocabulary id)
    hypos = ParallelGenerator(task.target_dictionary).generate([trimmed], sample)
    assert [h[0]["tokens"].tolist() for h in hypos] == [[3231, SEP], [3231, SEP]]

    # a saved model is rebuilt from its config (no data needed) and loads its kept ids
    state = trimmed.state_dict()
    rebuilt = BnbModel.build_model(argparse.Namespace(**{**vars(cfg), "bert_checkpoint": None}), task)
    rebuilt.load_state_dict(state)
    assert rebuilt.decoder.output_ids.tolist() == ids


def test_inference_reuses_the_gathered_output_rows_until_the_weights_change(tiny_bert_dir):
    model, _, _ = build(tiny_bert_dir)
    model.decoder.set_output_vocab([2023, 2003, 1037, 3231, 2748])
    src = right_pad(SRC)
    with torch.no_grad():
        first = model(src)[0]
        weight, _ = model.decoder.output_weight()
        assert model.decoder.output_weight()[0] is weight  # gathered once in inference
        model.eval()  # the generator calls eval() before every batch: that keeps them
        assert model.decoder.output_weight()[0] is weight
        model.decoder.embeddings.word_embeddings.weight[2023] += 1.0  # in place: seen
        assert not torch.allclose(model(src)[0], first)
    other, _, _ = build(tiny_bert_dir, seed=1)
    other.decoder.set_output_vocab([2023, 2003, 1037, 3231, 2748])
    with torch.no_grad():
        other(src)  # fills its cache, then loads the first model's weights
        other.load_state_dict(model.state_dict())
        assert torch.allclose(other(src)[0], model(src)[0], atol=1e-6)
    model.train()
    assert model.decoder.output_weight()[0] is not weight  # training gathers afresh (with grad)


@pytest.mark.parametrize(
    "token,ok",
    [
        ("[PAD]", True),
        ("[MASK]", True),
        ("[unused5]", True),
        ("[CLS]", False),
        ("[SEP]", False),
        ("the", False),
        ("[UNK]", False),
    ],
)
def test_ctc_blank_choice(tiny_bert_dir, token, ok):
    if ok:
        model, _, _ = build(tiny_bert_dir, ctc_blank=token)
        assert model.decoder.blank_idx == model.decoder.dictionary.index(token)
        return
    with pytest.raises(ValueError, match=r"--ctc-blank .*use \[PAD\] \(the default\)") as err:
        build(tiny_bert_dir, ctc_blank=token)
    if token in ("[CLS]", "[SEP]"):
        assert "every target holds it" in str(err.value)
        with pytest.raises(ValueError, match="every target holds it"):
            build(tiny_bert_dir, ctc_blank=token, ctc_blank_force=True)  # never, even when forced
    else:
        assert "--ctc-blank-force" in str(err.value)
        model, _, _ = build(tiny_bert_dir, ctc_blank=token, ctc_blank_force=True)
        assert model.decoder.blank_idx == model.decoder.dictionary.index(token)
