"""BnbModel built from tiny random Hugging Face BERT checkpoints: parity with HF, sizes, weight
loading, vocabulary checks and the CTC decoder length."""

import argparse
import logging
import os
import re

import pytest
import torch
from conftest import CLS, NO_DROPOUT, PAD, SEP, make_tiny_bert, right_pad

from bnb_fairseq.bert.checkpoint import BertCheckpointError
from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.models.bnb import BnbModel, bnb_small


def fake_task(src_dict, tgt_dict=None):
    return argparse.Namespace(source_dictionary=src_dict, target_dictionary=tgt_dict or src_dict)


def build(bert_dir, task=None, **overrides):
    """BnbModel.build_model without the fairseq CLI; returns (model, cfg)."""
    cfg = argparse.Namespace(bert_checkpoint=bert_dir, **{**NO_DROPOUT, "output_vocab": "full", **overrides})
    bnb_small(cfg)
    model = BnbModel.build_model(cfg, task or fake_task(BertDictionary.load(bert_dir)))
    return model.eval(), cfg


def sentences(lengths, seed=0):
    """[CLS] random word pieces [SEP], each of the given total length."""
    g = torch.Generator().manual_seed(seed)
    return [
        torch.cat([torch.tensor([CLS]), torch.randint(1000, 29000, (n - 2,), generator=g), torch.tensor([SEP])])
        for n in lengths
    ]


def freshly_initialised(caplog):
    """{source: [names]} from load_into's 'freshly initialised' log lines."""
    found = {}
    for rec in caplog.records:
        m = re.match(r"not in (.*), freshly initialised \((\d+)\): (.*)$", rec.getMessage())
        if m:
            names = m.group(3).split(", ")
            assert len(names) == int(m.group(2))
            found[m.group(1)] = names
    return found


@pytest.fixture(scope="module")
def tiny_model(tiny_bert_dir):
    return build(tiny_bert_dir)


@pytest.fixture(scope="module")
def tiny_mlm_dir(tmp_path_factory, minilm_dir):
    """A tiny BertForMaskedLM whose MLM head differs from any fresh initialisation."""
    from transformers import BertForMaskedLM

    path = make_tiny_bert(str(tmp_path_factory.mktemp("tiny_mlm")), minilm_dir, with_mlm_head=True, seed=1)
    hf = BertForMaskedLM.from_pretrained(path)
    torch.manual_seed(2)
    with torch.no_grad():
        pred = hf.cls.predictions
        pred.bias.normal_()
        pred.transform.LayerNorm.weight.uniform_(0.5, 1.5)
        pred.transform.LayerNorm.bias.normal_()
        pred.transform.dense.bias.normal_()
    hf.save_pretrained(path)
    return path


# --- 1. parity with Hugging Face ---


def test_encoder_matches_hf_bert(tiny_bert_dir, tiny_model):
    from transformers import BertModel

    model, _ = tiny_model
    hf = BertModel.from_pretrained(tiny_bert_dir).eval()
    rows = sentences([7, 4, 11])
    src = right_pad(rows)
    attention_mask = src.ne(PAD).long()
    assert attention_mask.sum(1).tolist() == [7, 4, 11]
    with torch.no_grad():
        ours = model.encoder(src, src_lengths=attention_mask.sum(1))
        theirs = hf(input_ids=src, attention_mask=attention_mask).last_hidden_state
    x = ours["encoder_out"][0]
    assert x.shape == theirs.shape == (3, 11, 32)
    real = attention_mask.bool()
    diff = (x - theirs).abs()[real]
    assert diff.max() < 1e-4, diff.max()
    assert ours["encoder_padding_mask"][0].equal(~real)
    assert ours["src_lengths"][0].tolist() == [7, 4, 11]
    # a random BERT gives different states per position: the comparison is not trivially of constants
    assert (x[2, 1] - x[2, 2]).abs().max() > 1e-2

    # each sentence alone gives its row of the padded batch
    for i, r in enumerate(rows):
        with torch.no_grad():
            alone = model.encoder(r[None])["encoder_out"][0][0]
        assert (alone - x[i, : len(r)]).abs().max() < 1e-5


def test_two_part_source_gets_bert_segment_ids(tiny_bert_dir, tiny_model):
    """``A [SEP] B`` sources (question generation, sentence pairs) are encoded as BERT encodes pairs."""
    from transformers import BertModel

    model, _ = tiny_model
    hf = BertModel.from_pretrained(tiny_bert_dir).eval()
    pair = [CLS, 2040, 2626, 2009, SEP, 2703, 2626, 1996, SEP]
    single = [CLS, 2703, 2626, 1996, SEP]
    src = right_pad([pair, single])
    types = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 1], [0] * 9])
    assert model.encoder.segment_ids(src, src.eq(PAD)).equal(types)
    with torch.no_grad():
        ours = model.encoder(src)["encoder_out"][0]
        theirs = hf(input_ids=src, attention_mask=src.ne(PAD).long(), token_type_ids=types).last_hidden_state
        all_zero = hf(input_ids=src[:1], token_type_ids=torch.zeros_like(src[:1])).last_hidden_state
    assert (ours - theirs).abs()[src.ne(PAD)].max() < 1e-4
    assert (ours[0] - all_zero[0]).abs().max() > 1e-3  # the segment ids changed the states


def test_left_padded_source_is_refused(tiny_model):
    model, _ = tiny_model
    rows = sentences([6, 4])
    left = torch.full((2, 6), PAD, dtype=torch.long)
    left[0] = rows[0]
    left[1, 2:] = rows[1]
    with pytest.raises(ValueError, match="left-padded"):
        model.encoder(left)


# --- 2. sizes come from the checkpoint ---


def test_sizes_come_from_checkpoint(tiny_bert_dir, tiny_model):
    model, cfg = tiny_model
    assert cfg.bert_init_done is True
    assert (cfg.encoder_embed_dim, cfg.decoder_embed_dim) == (32, 32)
    assert (cfg.encoder_layers, cfg.decoder_layers) == (2, 2)
    assert (cfg.encoder_ffn_embed_dim, cfg.encoder_max_positions) == (128, 128)
    assert len(model.encoder.encoder.layer) == 2 and len(model.decoder.encoder.layer) == 2
    assert model.encoder.embeddings.word_embeddings.weight.shape == (30522, 32)
    assert model.encoder.embeddings.position_embeddings.weight.shape == (128, 32)
    assert model.encoder.encoder.layer[0].intermediate.dense.out_features == 128
    assert model.decoder.encoder.layer[1].crossattention.self.query.in_features == 32
    assert model.decoder.memory_proj is None  # same width on both sides
    assert model.decoder.max_positions() == 128  # ctc_max_len defaults to the decoder's positions

    # a saved model rebuilds from its own cfg, without the HF directory
    cfg2 = argparse.Namespace(**vars(cfg))
    cfg2.bert_checkpoint = os.path.join(tiny_bert_dir, "gone")
    rebuilt = BnbModel.build_model(cfg2, fake_task(BertDictionary.load(tiny_bert_dir)))
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_fewer_layers_take_the_first(tiny_bert_dir):
    from safetensors.torch import load_file

    model, cfg = build(tiny_bert_dir, encoder_layers=1)
    assert cfg.encoder_layers == 1 and cfg.decoder_layers == 2
    assert len(model.encoder.encoder.layer) == 1 and len(model.decoder.encoder.layer) == 2
    hf = load_file(os.path.join(tiny_bert_dir, "model.safetensors"))
    q = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(model.encoder.state_dict()[q], hf[q])
    assert not torch.equal(hf[q], hf["encoder.layer.1.attention.self.query.weight"])


# --- 3. weights: loaded, tied, or initialised and listed ---


def test_missing_weights_are_listed(tiny_bert_dir, caplog):
    from safetensors.torch import load_file

    with caplog.at_level(logging.INFO):
        model, _ = build(tiny_bert_dir)
    fresh = freshly_initialised(caplog)
    assert not any(src.endswith("(encoder)") for src in fresh), fresh  # BertModel has all encoder weights
    dec = fresh[f"{tiny_bert_dir} (decoder)"]
    assert "encoder.layer.0.crossattention.self.query.weight" in dec
    assert "encoder.layer.1.crossattention.output.LayerNorm.bias" in dec
    assert {"lm_head.bias", "lm_head.dense.weight", "lm_head.LayerNorm.weight"} <= set(dec)
    assert {"latent.proj.weight", "latent_in.weight"} <= set(dec)
    assert not any(
        n.startswith("embeddings.") or ".attention." in n or n.endswith("intermediate.dense.weight") for n in dec
    ), dec

    hf = load_file(os.path.join(tiny_bert_dir, "model.safetensors"))
    sd = model.state_dict()
    for side in ("encoder", "decoder"):
        assert torch.equal(sd[f"{side}.embeddings.word_embeddings.weight"], hf["embeddings.word_embeddings.weight"])
        assert torch.equal(sd[f"{side}.encoder.layer.1.output.dense.weight"], hf["encoder.layer.1.output.dense.weight"])


def test_mlm_head_is_loaded(tiny_mlm_dir, caplog):
    from safetensors.torch import load_file

    with caplog.at_level(logging.INFO):
        model, _ = build(tiny_mlm_dir)
    dec = freshly_initialised(caplog)[f"{tiny_mlm_dir} (decoder)"]
    assert not any(n.startswith("lm_head") for n in dec), dec
    assert "encoder.layer.0.crossattention.self.key.weight" in dec

    hf = load_file(os.path.join(tiny_mlm_dir, "model.safetensors"))
    head = model.decoder.lm_head
    pairs = {
        "cls.predictions.transform.dense.weight": head.dense.weight,
        "cls.predictions.transform.dense.bias": head.dense.bias,
        "cls.predictions.transform.LayerNorm.weight": head.LayerNorm.weight,
        "cls.predictions.transform.LayerNorm.bias": head.LayerNorm.bias,
        "cls.predictions.bias": head.bias,
    }
    for name, ours in pairs.items():
        assert torch.equal(ours.detach(), hf[name]), name
    assert head.bias.abs().max() > 0.1  # the fixture made it non-trivial
    # BertForMaskedLM prefixes its encoder with "bert."; it is stripped on load
    assert torch.equal(
        model.decoder.embeddings.word_embeddings.weight.detach(), hf["bert.embeddings.word_embeddings.weight"]
    )
    assert torch.equal(
        model.encoder.state_dict()["encoder.layer.1.attention.self.value.weight"],
        hf["bert.encoder.layer.1.attention.self.value.weight"],
    )


def test_output_projection_is_tied(tiny_bert_dir):
    model, _ = build(tiny_bert_dir)
    head = model.decoder.lm_head
    assert not hasattr(head, "weight") and not hasattr(head, "decoder")
    big = [k for k, v in model.state_dict().items() if v.dim() == 2 and v.shape[0] == 30522]
    assert sorted(big) == ["decoder.embeddings.word_embeddings.weight", "encoder.embeddings.word_embeddings.weight"]

    src = right_pad(sentences([6, 5]))
    with torch.no_grad():
        before = model(src)[0]
        # a random direction: the LM head's LayerNorm output sums to ~0, so a constant shift would not show
        model.decoder.embeddings.word_embeddings.weight[2000].add_(
            torch.randn(32, generator=torch.Generator().manual_seed(0))
        )
        after = model(src)[0]
    changed = (after - before).abs().amax(dim=(0, 1))
    assert changed[2000] > 1e-3
    changed[2000] = 0
    assert changed.max() < 1e-5  # decoder inputs are latents, so only that token's logit moves


# --- 4. vocabulary and directory checks ---


def test_vocabulary_mismatch_is_refused(tiny_bert_dir, tmp_path):
    good = BertDictionary.load(tiny_bert_dir)
    tokens = list(good.symbols)
    tokens[2000] = "renamed-token"
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    bad = BertDictionary.load(str(vocab))

    with pytest.raises(BertCheckpointError) as err:
        build(tiny_bert_dir, task=fake_task(good, bad))
    msg = str(err.value)
    assert os.path.join(tiny_bert_dir, "vocab.txt") in msg
    assert "target" in msg and "id 2000" in msg and "renamed-token" in msg

    with pytest.raises(BertCheckpointError, match="source.*id 2000"):
        build(tiny_bert_dir, task=fake_task(bad, good))

    longer = tmp_path / "longer.txt"
    longer.write_text("\n".join(good.symbols + ["extra-token"]) + "\n", encoding="utf-8")
    with pytest.raises(BertCheckpointError, match=f"id {len(good)}"):
        build(tiny_bert_dir, task=fake_task(BertDictionary.load(str(longer)), good))


def test_missing_checkpoint_dir(tiny_bert_dir, tmp_path):
    with pytest.raises(BertCheckpointError, match="no such directory"):
        build(str(tmp_path / "nowhere"), task=fake_task(BertDictionary.load(tiny_bert_dir)))


# --- 5. decoder length (CTC) ---


def test_decoder_length(tiny_model):
    model, cfg = tiny_model
    assert (cfg.ctc_ratio, cfg.ctc_min_len) == (2.0, 4)
    rows = sentences([5, 9])
    src = right_pad(rows)
    with torch.no_grad():
        logits, extra = model(src, src_lengths=torch.tensor([5, 9]))
    assert logits.shape == (2, 18, 30522)
    assert extra["out_lengths"].tolist() == [10, 18]
    mask = extra["padding_mask"]
    assert mask.shape == (2, 18)
    assert (~mask[0]).tolist() == [True] * 10 + [False] * 8
    assert not mask[1].any()
    # a sentence decoded alone gives the logits of its real positions in the batch
    for i, r in enumerate(rows):
        with torch.no_grad():
            alone = model(r[None])[0][0]
        n = 2 * len(r)
        assert alone.shape[0] == n
        assert (alone - logits[i, :n]).abs().max() < 1e-4

    lengths = model.decoder.output_lengths(torch.tensor([1, 2, 3, 5, 100]))
    assert lengths.tolist() == [4, 4, 6, 10, 128]  # min 4, capped by the 128 positions


def test_ctc_max_len_caps(tiny_bert_dir):
    model, _ = build(tiny_bert_dir, ctc_max_len=12)
    with torch.no_grad():
        logits, extra = model(right_pad(sentences([5, 9])))
    assert logits.shape[1] == 12
    assert extra["out_lengths"].tolist() == [10, 12]
    assert model.decoder.max_positions() == 12
    # a cap beyond the decoder's positions is held to them
    model, _ = build(tiny_bert_dir, ctc_max_len=1000, ctc_ratio=1.5, ctc_min_len=3)
    assert model.decoder.max_positions() == 128
    assert model.decoder.output_lengths(torch.tensor([1, 5, 60, 100])).tolist() == [3, 8, 90, 128]  # ceil(7.5) = 8
