"""Checkpoint families: how BERT, ELECTRA, DistilBERT, RoBERTa and XLM-R checkpoints map onto BERT.

The rest of the plugin knows one layout only: ``BertSizes`` and Hugging Face BERT's parameter names
(``embeddings.*``, ``encoder.layer.N.*``, the MLM head as ``cls.predictions.*``). Each family here says
how its ``config.json`` keys give those sizes, how its weight names become BERT's, where its position
table starts and which special tokens play [CLS]/[SEP]/[PAD]/[UNK]/[MASK]. Nothing outside this module
tests a ``model_type``.
"""

import re
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

from bnb_fairseq.bert.errors import BertCheckpointError

# the roles our dictionaries give special tokens, and their names in a HF tokenizer's config
ROLES = ("bos", "eos", "pad", "unk", "mask")
WORDPIECE_SPECIALS = {"bos": "[CLS]", "eos": "[SEP]", "pad": "[PAD]", "unk": "[UNK]", "mask": "[MASK]"}
ROBERTA_SPECIALS = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>", "mask": "<mask>"}
# every set a data directory's dict.<lang>.txt may use, in the order they are tried
KNOWN_SPECIALS = (WORDPIECE_SPECIALS, ROBERTA_SPECIALS)

BERT_LIKE_ACTIVATIONS = ("gelu", "relu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast")


@dataclass(frozen=True)
class Family:
    model_type: str
    tokenizer: str  # what the checkpoint's tokenizer is, for messages and the README
    prefix: str  # the base model's name in checkpoints with heads (``bert.`` in BertForMaskedLM)
    specials: Dict[str, str]  # the tokens a stock checkpoint of the family uses for each role
    sizes: Callable[[dict], dict]  # config.json -> BertSizes fields
    renames: Tuple[Tuple[str, str], ...]  # (regular expression, replacement) on names without prefix
    # rows of the position table before position 0 (RoBERTa numbers positions from padding_idx + 1)
    position_offset: Callable[[dict], int] = lambda cfg: 0

    @property
    def wordpiece(self):
        return self.tokenizer == "WordPiece"

    def bert_name(self, name):
        """A checkpoint tensor's name in BERT's layout (names of other heads pass through unused)."""
        if name.startswith(self.prefix):
            name = name[len(self.prefix) :]
        for pattern, replacement in self.renames:
            name = re.sub(pattern, replacement, name)
        return name

    def to_bert_layout(self, state, cfg):
        """The checkpoint's tensors under BERT's names, position table starting at position 0."""
        out = {self.bert_name(k): v for k, v in state.items()}
        offset = self.position_offset(cfg)
        key = "embeddings.position_embeddings.weight"
        if offset and key in out:
            out[key] = out[key][offset:]
        return out


def config_error(cfg_file, message):
    return BertCheckpointError(f"{cfg_file}: {message}")


def need(cfg, key):
    if key not in cfg:
        raise KeyError(key)
    return cfg[key]


def bert_like_sizes(cfg, embedding_size=None, offset=0, type_vocab_default=2):
    """BertConfig's keys (BERT, ELECTRA, RoBERTa and XLM-R share them)."""
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(
            "only absolute position embeddings are supported "
            f"(position_embedding_type {cfg['position_embedding_type']!r})"
        )
    hidden = need(cfg, "hidden_size")
    return dict(
        vocab_size=need(cfg, "vocab_size"),
        hidden_size=hidden,
        num_hidden_layers=need(cfg, "num_hidden_layers"),
        num_attention_heads=need(cfg, "num_attention_heads"),
        intermediate_size=need(cfg, "intermediate_size"),
        max_position_embeddings=cfg.get("max_position_embeddings", 512) - offset,
        type_vocab_size=cfg.get("type_vocab_size", type_vocab_default),
        hidden_act=cfg.get("hidden_act", "gelu"),
        layer_norm_eps=cfg.get("layer_norm_eps", 1e-12),
        pad_token_id=cfg.get("pad_token_id", 0),
        embedding_size=embedding_size or hidden,
    )


def roberta_offset(cfg):
    return cfg.get("pad_token_id", 1) + 1


def roberta_sizes(cfg):
    return bert_like_sizes(cfg, offset=roberta_offset(cfg), type_vocab_default=1)


def distilbert_sizes(cfg):
    return dict(
        vocab_size=need(cfg, "vocab_size"),
        hidden_size=need(cfg, "dim"),
        num_hidden_layers=need(cfg, "n_layers"),
        num_attention_heads=need(cfg, "n_heads"),
        intermediate_size=need(cfg, "hidden_dim"),
        max_position_embeddings=cfg.get("max_position_embeddings", 512),
        type_vocab_size=0,  # DistilBERT dropped BERT's token types
        hidden_act=cfg.get("activation", "gelu"),
        layer_norm_eps=1e-12,  # fixed in its code
        pad_token_id=cfg.get("pad_token_id", 0),
        embedding_size=need(cfg, "dim"),
    )


# BERT checkpoints converted from TensorFlow name LayerNorm parameters gamma/beta
LEGACY_LAYER_NORM = ((r"LayerNorm\.gamma$", "LayerNorm.weight"), (r"LayerNorm\.beta$", "LayerNorm.bias"))
MLM_HEAD = "cls.predictions."

FAMILIES = {
    f.model_type: f
    for f in (
        Family("bert", "WordPiece", "bert.", WORDPIECE_SPECIALS, bert_like_sizes, LEGACY_LAYER_NORM),
        Family(
            "electra",
            "WordPiece",
            "electra.",
            WORDPIECE_SPECIALS,
            lambda cfg: bert_like_sizes(cfg, embedding_size=cfg.get("embedding_size")),
            (
                *LEGACY_LAYER_NORM,
                (r"^embeddings_project\.", "embeddings.embeddings_project."),
                # the generator (ElectraForMaskedLM) has an MLM head; the discriminator's head is not one
                (r"^generator_predictions\.dense\.", MLM_HEAD + "transform.dense."),
                (r"^generator_predictions\.LayerNorm\.", MLM_HEAD + "transform.LayerNorm."),
                (r"^generator_lm_head\.bias$", MLM_HEAD + "bias"),
            ),
        ),
        Family(
            "distilbert",
            "WordPiece",
            "distilbert.",
            WORDPIECE_SPECIALS,
            distilbert_sizes,
            (
                (r"^transformer\.layer\.(\d+)\.attention\.q_lin\.", r"encoder.layer.\1.attention.self.query."),
                (r"^transformer\.layer\.(\d+)\.attention\.k_lin\.", r"encoder.layer.\1.attention.self.key."),
                (r"^transformer\.layer\.(\d+)\.attention\.v_lin\.", r"encoder.layer.\1.attention.self.value."),
                (r"^transformer\.layer\.(\d+)\.attention\.out_lin\.", r"encoder.layer.\1.attention.output.dense."),
                (r"^transformer\.layer\.(\d+)\.sa_layer_norm\.", r"encoder.layer.\1.attention.output.LayerNorm."),
                (r"^transformer\.layer\.(\d+)\.ffn\.lin1\.", r"encoder.layer.\1.intermediate.dense."),
                (r"^transformer\.layer\.(\d+)\.ffn\.lin2\.", r"encoder.layer.\1.output.dense."),
                (r"^transformer\.layer\.(\d+)\.output_layer_norm\.", r"encoder.layer.\1.output.LayerNorm."),
                (r"^vocab_transform\.", MLM_HEAD + "transform.dense."),
                (r"^vocab_layer_norm\.", MLM_HEAD + "transform.LayerNorm."),
                (r"^vocab_projector\.bias$", MLM_HEAD + "bias"),
            ),
        ),
        *(
            Family(
                model_type,
                tokenizer,
                "roberta.",
                ROBERTA_SPECIALS,
                roberta_sizes,
                (
                    (r"^lm_head\.dense\.", MLM_HEAD + "transform.dense."),
                    (r"^lm_head\.layer_norm\.", MLM_HEAD + "transform.LayerNorm."),
                    (r"^lm_head\.decoder\.bias$", MLM_HEAD + "decoder.bias"),
                    (r"^lm_head\.bias$", MLM_HEAD + "bias"),
                ),
                roberta_offset,
            )
            for model_type, tokenizer in (("roberta", "byte-level BPE"), ("xlm-roberta", "SentencePiece (Unigram)"))
        ),
    )
}
SUPPORTED_MODEL_TYPES = tuple(sorted(FAMILIES))


def family_of(cfg, cfg_file):
    """The family of a parsed config.json; checkpoints that predate ``model_type`` are BERT."""
    model_type = cfg.get("model_type", "bert")
    if model_type not in FAMILIES:
        raise config_error(
            cfg_file,
            f"model_type {model_type!r} is not supported; supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}",
        )
    return FAMILIES[model_type]


def read_sizes(cfg, cfg_file):
    """BertSizes fields of a parsed config.json, whatever its family."""
    family = family_of(cfg, cfg_file)
    try:
        sizes = family.sizes(cfg)
    except KeyError as e:
        raise config_error(cfg_file, f"missing key {e} (a {family.model_type} config.json needs it)") from None
    except ValueError as e:
        raise config_error(cfg_file, str(e)) from None
    if sizes["hidden_act"] not in BERT_LIKE_ACTIVATIONS:
        raise config_error(cfg_file, f"activation {sizes['hidden_act']!r} not supported ({BERT_LIKE_ACTIVATIONS})")
    if sizes["max_position_embeddings"] < 3:
        raise config_error(
            cfg_file,
            f"max_position_embeddings {cfg.get('max_position_embeddings')} leaves "
            f"{sizes['max_position_embeddings']} positions",
        )
    sizes["model_type"] = family.model_type
    return sizes
