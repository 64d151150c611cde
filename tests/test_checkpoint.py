"""BERT weights load from every layout users have (HF BertModel, BertForPreTraining, the original
bert-base files with LayerNorm gamma/beta), and a checkpoint that lacks tensors the model needs fails
loudly, naming it and the tensors, instead of training from a silently half-random BERT."""

import argparse
import os
import shutil

import pytest
import torch
from conftest import NO_DROPOUT, make_tiny_bert

from bnb_fairseq.bert.checkpoint import BertCheckpointError
from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.models.bnb import BnbModel, bnb_small

Q1 = "encoder.layer.1.attention.self.query.weight"


def build(bert_dir):
    cfg = argparse.Namespace(bert_checkpoint=bert_dir, output_vocab="full", **NO_DROPOUT)
    bnb_small(cfg)
    d = BertDictionary.load(bert_dir)
    return BnbModel.build_model(cfg, argparse.Namespace(source_dictionary=d, target_dictionary=d))


def hf_weights(path):
    from safetensors.torch import load_file

    return load_file(os.path.join(path, "model.safetensors"))


def with_weights(src_dir, dest, state, as_bin=False):
    """A copy of checkpoint ``src_dir`` whose weight file holds ``state``."""
    from safetensors.torch import save_file

    shutil.copytree(src_dir, dest)
    os.remove(os.path.join(dest, "model.safetensors"))
    if as_bin:
        torch.save(state, os.path.join(dest, "pytorch_model.bin"))
    else:
        save_file(state, os.path.join(dest, "model.safetensors"))
    return str(dest)


def assert_bert_loaded(model, hf, prefix=""):
    sd = model.state_dict()
    for side in ("encoder", "decoder"):
        for name in (
            "embeddings.LayerNorm.weight",
            "embeddings.LayerNorm.bias",
            Q1,
            "encoder.layer.0.output.LayerNorm.weight",
            "embeddings.word_embeddings.weight",
        ):
            assert torch.equal(sd[f"{side}.{name}"], hf[prefix + name]), (side, name)


def test_legacy_gamma_beta_names_load(tiny_bert_dir, tmp_path):
    g = torch.Generator().manual_seed(0)
    # LayerNorms that differ from a fresh initialisation (ones and zeros), so loading shows
    hf = {
        k: v + 0.1 * torch.randn(v.shape, generator=g) if "LayerNorm" in k else v
        for k, v in hf_weights(tiny_bert_dir).items()
    }
    legacy = {
        k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
        for k, v in hf.items()
    }
    assert "embeddings.LayerNorm.gamma" in legacy
    path = with_weights(tiny_bert_dir, tmp_path / "legacy", legacy, as_bin=True)
    assert_bert_loaded(build(path), hf)


def test_bert_for_pretraining_layout_loads(tmp_path, minilm_dir):
    from transformers import BertForPreTraining

    path = make_tiny_bert(str(tmp_path / "pt"), minilm_dir, seed=3)
    hf_model = BertForPreTraining.from_pretrained(path)  # bert.* + cls.predictions.* + cls.seq_relationship.*
    with torch.no_grad():
        hf_model.cls.predictions.bias.normal_()
    hf_model.save_pretrained(path)
    hf = hf_weights(path)
    assert "cls.seq_relationship.weight" in hf and f"bert.{Q1}" in hf
    model = build(path)
    assert_bert_loaded(model, hf, prefix="bert.")
    assert torch.equal(model.decoder.lm_head.bias.detach(), hf["cls.predictions.bias"])
    assert torch.equal(model.decoder.lm_head.dense.weight.detach(), hf["cls.predictions.transform.dense.weight"])


def test_missing_tensor_is_an_error(tiny_bert_dir, tmp_path):
    hf = hf_weights(tiny_bert_dir)
    dropped = [Q1, "embeddings.LayerNorm.bias"]
    path = with_weights(tiny_bert_dir, tmp_path / "broken", {k: v for k, v in hf.items() if k not in dropped})
    with pytest.raises(BertCheckpointError) as err:
        build(path)
    msg = str(err.value)
    assert path in msg and "2 tensor(s)" in msg
    assert all(name in msg for name in dropped), msg


def test_many_missing_tensors_are_listed_briefly(tiny_bert_dir, tmp_path):
    hf = hf_weights(tiny_bert_dir)
    path = with_weights(tiny_bert_dir, tmp_path / "half", {k: v for k, v in hf.items() if ".layer.1." not in k})
    with pytest.raises(BertCheckpointError, match=r"16 tensor\(s\) .*\(and 11 more\)"):
        build(path)


def test_checkpoint_without_heads_still_loads(tiny_bert_dir):
    """A BertModel (like MiniLM) has no MLM head: the decoder's head starts fresh, no error."""
    hf = hf_weights(tiny_bert_dir)
    assert not any(k.startswith("cls.") for k in hf)
    assert_bert_loaded(build(tiny_bert_dir), hf)


def test_minilm_loads(minilm_dir):
    from bnb_fairseq.bert.checkpoint import load_bert_weights

    model = build(minilm_dir)
    hf = load_bert_weights(minilm_dir)
    assert torch.equal(
        model.encoder.state_dict()["encoder.layer.0.output.LayerNorm.weight"],
        hf["encoder.layer.0.output.LayerNorm.weight"],
    )
