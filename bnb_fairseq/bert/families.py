"""Checkpoint families: how BERT, ELECTRA, DistilBERT, RoBERTa, XLM-R, ALBERT, ModernBERT and MobileBERT
checkpoints map onto BERT.

The rest of the plugin knows one layout only: ``BertSizes`` and Hugging Face BERT's parameter names
(``embeddings.*``, ``encoder.layer.N.*``, the MLM head as ``cls.predictions.*``). Each family here says
how its ``config.json`` keys give those sizes, how its weight names become BERT's, where its position
table starts and which special tokens play [CLS]/[SEP]/[PAD]/[UNK]/[MASK]; where its layers differ
from BERT's (ALBERT's shared layer; ModernBERT's pre-norm, rotary, GeGLU and local-attention layers;
MobileBERT's NoNorm, trigram input, bottlenecks and stacked FFNs) it gives a ``LayerVariant``.
Nothing outside this module tests a ``model_type``.
"""

import re
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import torch

from bnb_fairseq.bert.errors import BertCheckpointError
from bnb_fairseq.modules.bert_layers import LayerVariant

# the roles our dictionaries give special tokens, and their names in a HF tokenizer's config
ROLES = ("bos", "eos", "pad", "unk", "mask")
WORDPIECE_SPECIALS = {"bos": "[CLS]", "eos": "[SEP]", "pad": "[PAD]", "unk": "[UNK]", "mask": "[MASK]"}
ROBERTA_SPECIALS = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>", "mask": "<mask>"}
ALBERT_SPECIALS = {"bos": "[CLS]", "eos": "[SEP]", "pad": "<pad>", "unk": "<unk>", "mask": "[MASK]"}
# every set a data directory's dict.<lang>.txt may use, in the order they are tried
KNOWN_SPECIALS = (WORDPIECE_SPECIALS, ROBERTA_SPECIALS, ALBERT_SPECIALS)

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
    # what renaming cannot do, on the renamed tensors: (state, config.json) -> state
    convert: Callable[[dict, dict], dict] = lambda state, cfg: state

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
        out = self.convert({self.bert_name(k): v for k, v in state.items()}, cfg)
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


def albert_layer_order(cfg):
    """ALBERT applies ``num_hidden_layers`` times one of ``num_hidden_groups`` groups of ``inner_group_num``
    layers (group int(i / (layers / groups)) at application i): the distinct layer at each depth."""
    layers, groups, inner = (
        need(cfg, "num_hidden_layers"),
        cfg.get("num_hidden_groups", 1),
        cfg.get("inner_group_num", 1),
    )
    return [int(i / (layers / groups)) * inner + k for i in range(layers) for k in range(inner)]


def albert_sizes(cfg):
    sizes = bert_like_sizes(cfg, embedding_size=cfg.get("embedding_size", 128))
    order = albert_layer_order(cfg)
    sizes.update(
        num_hidden_layers=len(order),
        hidden_act=cfg.get("hidden_act", "gelu_new"),
        layer_variant=LayerVariant(layer_order=tuple(order)).to_json(),
    )
    return sizes


# an ALBERT layer's parts -> BERT's
ALBERT_LAYER_PARTS = (
    ("attention.query.", "attention.self.query."),
    ("attention.key.", "attention.self.key."),
    ("attention.value.", "attention.self.value."),
    ("attention.dense.", "attention.output.dense."),
    ("attention.LayerNorm.", "attention.output.LayerNorm."),
    ("ffn.", "intermediate.dense."),
    ("ffn_output.", "output.dense."),
    ("full_layer_layer_norm.", "output.LayerNorm."),
)
ALBERT_LAYER = re.compile(r"^encoder\.albert_layer_groups\.(\d+)\.albert_layers\.(\d+)\.(.*)$")


def albert_layers(state, cfg):
    """Layer k of group g is distinct layer g x inner_group_num + k (``encoder.layer.N``)."""
    inner, out = cfg.get("inner_group_num", 1), {}
    for name, tensor in state.items():
        m = ALBERT_LAYER.match(name)
        if m:
            rest = m.group(3)
            for theirs, ours in ALBERT_LAYER_PARTS:
                if rest.startswith(theirs):
                    rest = ours + rest[len(theirs) :]
                    break
            name = f"encoder.layer.{int(m.group(1)) * inner + int(m.group(2))}.{rest}"
        out[name] = tensor
    return out


MODERNBERT_THETAS = {
    "full_attention": ("global_rope_theta", 160000.0),
    "sliding_attention": ("local_rope_theta", 10000.0),
}


def modernbert_sizes(cfg):
    """ModernBERT: pre-norm layers without biases, GeGLU, rotary positions (a base per layer type) and
    local attention (``local_attention`` wide) in all but every ``global_attn_every_n_layers``-th layer."""
    layers, hidden = need(cfg, "num_hidden_layers"), need(cfg, "hidden_size")
    every = cfg.get("global_attn_every_n_layers", 3)
    types = cfg.get("layer_types") or ["sliding_attention" if i % every else "full_attention" for i in range(layers)]
    rope = cfg.get("rope_parameters") or {}
    thetas = []
    for kind in types:
        if kind not in MODERNBERT_THETAS:
            raise ValueError(f"layer type {kind!r} not supported ({', '.join(MODERNBERT_THETAS)})")
        params = rope.get(kind) or {}
        if params.get("rope_type", "default") != "default":
            raise ValueError(f"rope_type {params['rope_type']!r} not supported (only 'default' rotary positions)")
        key, default = MODERNBERT_THETAS[kind]
        thetas.append(float(params.get("rope_theta", cfg.get(key, default))))
    window = cfg.get("local_attention", 128) // 2
    variant = LayerVariant(
        pre_norm=True,
        first_attention_norm=False,
        final_norm=True,
        attention_bias=cfg.get("attention_bias", False),
        mlp_bias=cfg.get("mlp_bias", False),
        norm_bias=cfg.get("norm_bias", False),
        glu=True,
        absolute_positions=False,
        rotary_thetas=tuple(thetas),
        attention_windows=tuple(window if kind == "sliding_attention" else 0 for kind in types),
        head_bias=cfg.get("classifier_bias", False),
        head_activation=cfg.get("classifier_activation", "gelu"),
    )
    return dict(
        vocab_size=need(cfg, "vocab_size"),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=need(cfg, "num_attention_heads"),
        intermediate_size=need(cfg, "intermediate_size"),
        max_position_embeddings=cfg.get("max_position_embeddings", 8192),
        type_vocab_size=0,  # no token types
        hidden_act=cfg.get("hidden_activation", "gelu"),
        layer_norm_eps=cfg.get("norm_eps", 1e-5),
        pad_token_id=cfg.get("pad_token_id", 0),
        embedding_size=hidden,
        layer_variant=variant.to_json(),
    )


def split_fused_qkv(state, cfg):
    """ModernBERT's fused ``Wqkv`` (query, key and value rows stacked) as BERT's three projections."""
    out = {}
    for name, tensor in state.items():
        if ".attention.self.qkv." in name:
            for part, chunk in zip(("query", "key", "value"), torch.chunk(tensor, 3, dim=0)):
                out[name.replace(".qkv.", f".{part}.")] = chunk.contiguous()
        else:
            out[name] = tensor
    return out


MOBILEBERT_NORMS = ("no_norm", "layer_norm")


def mobilebert_sizes(cfg):
    """MobileBERT: layers that work at ``intra_bottleneck_size`` between an input and an output bottleneck,
    ``num_feedforward_networks`` FFNs each, NoNorm (or LayerNorm), trigram input embeddings projected to the
    hidden size, and an MLM head whose output matrix has extra columns besides the narrow word embeddings."""
    hidden, embedding = need(cfg, "hidden_size"), cfg.get("embedding_size", 128)
    norm = cfg.get("normalization_type", "no_norm")
    if norm not in MOBILEBERT_NORMS:
        raise ValueError(f"normalization_type {norm!r} not supported ({', '.join(MOBILEBERT_NORMS)})")
    ffns = cfg.get("num_feedforward_networks", 4)
    if ffns < 1:
        raise ValueError(f"num_feedforward_networks {ffns}: a MobileBERT layer needs at least 1")
    bottleneck = cfg.get("use_bottleneck", True)
    inner = cfg.get("intra_bottleneck_size", 128) if bottleneck else 0
    bottleneck_attention = bottleneck and cfg.get("use_bottleneck_attention", False)
    shared = bottleneck and not bottleneck_attention and cfg.get("key_query_shared_bottleneck", True)
    if bottleneck and not bottleneck_attention and not shared and inner != hidden:
        raise ValueError(
            f"use_bottleneck without use_bottleneck_attention or key_query_shared_bottleneck feeds the "
            f"{hidden}-wide hidden states to {inner}-wide query/key projections (transformers' MobileBERT "
            "cannot run it either); set intra_bottleneck_size to hidden_size or one of those options"
        )
    trigram = cfg.get("trigram_input", True)
    layer_norm = norm == "layer_norm"
    variant = LayerVariant(
        no_norm=not layer_norm,
        bottleneck_size=inner,
        bottleneck_attention=bottleneck_attention,
        shared_query_key_bottleneck=shared,
        extra_ffns=ffns - 1,
        trigram_input=trigram,
        embedding_transform=trigram or embedding != hidden,
        # transformers builds these two LayerNorms with torch's default eps, not layer_norm_eps
        embedding_norm_eps=1e-5 if layer_norm else 0.0,
        ffn_norm_eps=1e-5 if layer_norm else 0.0,
        head_extra_output=True,
    )
    sizes = bert_like_sizes(cfg, embedding_size=embedding)
    sizes.update(hidden_act=cfg.get("hidden_act", "relu"), layer_variant=variant.to_json())
    return sizes


def mobilebert_head(state, cfg):
    """The MLM head's extra output rows (``cls.predictions.dense``, hidden - embedding x vocabulary) as
    columns of our output matrix, vocabulary x (hidden - embedding): ``lm_head.extra_output``."""
    extra = state.pop(MLM_HEAD + "dense.weight", None)
    if extra is not None and extra.size(0) > 0:
        state[MLM_HEAD + "extra_output"] = extra.t().contiguous()
    return state


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
        Family(
            "albert",
            "SentencePiece (Unigram)",
            "albert.",
            ALBERT_SPECIALS,
            albert_sizes,
            (
                *LEGACY_LAYER_NORM,
                (r"^encoder\.embedding_hidden_mapping_in\.", "embeddings.embeddings_project."),
                (r"^predictions\.dense\.", MLM_HEAD + "transform.dense."),
                (r"^predictions\.LayerNorm\.", MLM_HEAD + "transform.LayerNorm."),
                (r"^predictions\.bias$", MLM_HEAD + "bias"),
                (r"^predictions\.decoder\.bias$", MLM_HEAD + "decoder.bias"),
            ),
            convert=albert_layers,
        ),
        Family(
            "modernbert",
            "byte-level BPE",
            "model.",
            WORDPIECE_SPECIALS,
            modernbert_sizes,
            (
                (r"^embeddings\.tok_embeddings\.", "embeddings.word_embeddings."),
                (r"^embeddings\.norm\.", "embeddings.LayerNorm."),
                (r"^layers\.(\d+)\.attn_norm\.", r"encoder.layer.\1.attention.output.LayerNorm."),
                (r"^layers\.(\d+)\.attn\.Wqkv\.", r"encoder.layer.\1.attention.self.qkv."),
                (r"^layers\.(\d+)\.attn\.Wo\.", r"encoder.layer.\1.attention.output.dense."),
                (r"^layers\.(\d+)\.mlp_norm\.", r"encoder.layer.\1.output.LayerNorm."),
                (r"^layers\.(\d+)\.mlp\.Wi\.", r"encoder.layer.\1.intermediate.dense."),
                (r"^layers\.(\d+)\.mlp\.Wo\.", r"encoder.layer.\1.output.dense."),
                (r"^final_norm\.", "encoder.final_norm."),
                (r"^head\.dense\.", MLM_HEAD + "transform.dense."),
                (r"^head\.norm\.", MLM_HEAD + "transform.LayerNorm."),
                (r"^decoder\.bias$", MLM_HEAD + "bias"),
            ),
            convert=split_fused_qkv,
        ),
        Family(
            "mobilebert",
            "WordPiece",
            "mobilebert.",
            WORDPIECE_SPECIALS,
            mobilebert_sizes,
            (
                *LEGACY_LAYER_NORM,
                (r"^encoder\.layer\.(\d+)\.output\.bottleneck\.", r"encoder.layer.\1.output_bottleneck."),
            ),
            convert=mobilebert_head,
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
    sizes.setdefault("layer_variant", "")
    return sizes
