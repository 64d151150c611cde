"""What every encoder-decoder warm-started from BERT checkpoints shares: the sizes read from
``config.json``, the BERT encoder, vocabulary checks and the weight mapping.

Both the NAR ``bnb`` model and the autoregressive ``bert2bert`` baseline build on it, so the two
read checkpoints, count layers and check vocabularies the same way.
"""

import logging
import os
from dataclasses import dataclass, field, fields
from typing import Optional

import torch
import torch.nn.functional as F
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import FairseqEncoder

from bnb_fairseq.bert.checkpoint import BertCheckpointError, load_bert_weights, load_into, read_bert_sizes
from bnb_fairseq.bert.dictionary import checkpoint_dictionary
from bnb_fairseq.models.parallel_decoder import is_parallel
from bnb_fairseq.modules import BertEmbeddings, BertLMHead, BertStack, LayerVariant, init_bert_weights
from bnb_fairseq.modules.quantized import unpack_state_int4

logger = logging.getLogger(__name__)


@dataclass
class BertSeq2SeqConfig(FairseqDataclass):
    bert_checkpoint: Optional[str] = field(
        default=None,
        metadata={
            "help": "HF BERT checkpoint directory for the encoder (and the decoder, "
            "unless --decoder-bert-checkpoint); sizes come from its config.json"
        },
    )
    decoder_bert_checkpoint: Optional[str] = field(
        default=None, metadata={"help": "HF BERT checkpoint directory for the decoder (target vocabulary)"}
    )
    encoder_layers: int = field(default=12, metadata={"help": "encoder layers (the first N of the checkpoint)"})
    decoder_layers: int = field(default=12, metadata={"help": "decoder layers (the first N of the checkpoint)"})
    encoder_embed_dim: int = field(default=768, metadata={"help": "set from the checkpoint when given"})
    decoder_embed_dim: int = field(default=768, metadata={"help": "set from the checkpoint when given"})
    encoder_attention_heads: int = field(default=12, metadata={"help": "set from the checkpoint when given"})
    decoder_attention_heads: int = field(default=12, metadata={"help": "set from the checkpoint when given"})
    encoder_ffn_embed_dim: int = field(default=3072, metadata={"help": "set from the checkpoint when given"})
    decoder_ffn_embed_dim: int = field(default=3072, metadata={"help": "set from the checkpoint when given"})
    encoder_max_positions: int = field(default=512, metadata={"help": "set from the checkpoint when given"})
    decoder_max_positions: int = field(default=512, metadata={"help": "set from the checkpoint when given"})
    encoder_activation: str = field(default="gelu", metadata={"help": "set from the checkpoint when given"})
    decoder_activation: str = field(default="gelu", metadata={"help": "set from the checkpoint when given"})
    encoder_type_vocab_size: int = field(
        default=2, metadata={"help": "set from the checkpoint when given (0: no token-type embeddings, as DistilBERT)"}
    )
    decoder_type_vocab_size: int = field(
        default=2, metadata={"help": "set from the checkpoint when given (0: no token-type embeddings, as DistilBERT)"}
    )
    encoder_embedding_size: int = field(
        default=0,
        metadata={
            "help": "set from the checkpoint when given: "
            "width of the embeddings, projected to the hidden size "
            "when narrower (ELECTRA); 0: the hidden size"
        },
    )
    decoder_embedding_size: int = field(
        default=0, metadata={"help": "set from the checkpoint when given (see --encoder-embedding-size)"}
    )
    encoder_layer_variant: str = field(
        default="",
        metadata={
            "help": "set from the checkpoint when given: how its layers differ from BERT's (JSON of "
            "bnb_fairseq.modules.LayerVariant: ALBERT's shared layer, ModernBERT's pre-norm, rotary "
            "positions, GeGLU, local attention, MobileBERT's bottlenecks); empty: BERT's layer"
        },
    )
    decoder_layer_variant: str = field(
        default="", metadata={"help": "set from the checkpoint when given (see --encoder-layer-variant)"}
    )
    encoder_layer_norm_eps: float = field(default=1e-12, metadata={"help": "set from the checkpoint when given"})
    decoder_layer_norm_eps: float = field(default=1e-12, metadata={"help": "set from the checkpoint when given"})
    dropout: float = field(default=0.1, metadata={"help": "hidden dropout"})
    attention_dropout: float = field(default=0.1, metadata={"help": "attention probability dropout"})
    cross_attention_init: ChoiceEnum(["random", "self"]) = field(
        default="random",
        metadata={
            "help": "initialise each decoder layer's new cross-attention randomly, N(0, 0.02) (the "
            "original BnB), or as a copy of that layer's pre-trained self-attention"
        },
    )
    bert_init_done: bool = field(
        default=False,
        metadata={
            "help": "internal: set once sizes were read from --bert-checkpoint, so that a saved model is "
            "rebuilt from its own config without the HF directory"
        },
    )


class BertEncoder(FairseqEncoder):
    """A BERT encoder; parameter names equal HF BertModel's (``embeddings.*``, ``encoder.layer.N.*``)."""

    def __init__(self, cfg, dictionary):
        super().__init__(dictionary)
        self.padding_idx = dictionary.pad()
        dim = cfg.encoder_embed_dim
        variant = layer_variant(cfg, "encoder")
        self.embeddings = BertEmbeddings(
            len(dictionary),
            dim,
            cfg.encoder_max_positions,
            cfg.encoder_type_vocab_size,
            self.padding_idx,
            cfg.encoder_layer_norm_eps,
            cfg.dropout,
            embedding_size=getattr(cfg, "encoder_embedding_size", 0),
            variant=variant,
        )
        self.encoder = BertStack(
            cfg.encoder_layers,
            variant=variant,
            dim=dim,
            heads=cfg.encoder_attention_heads,
            ffn_dim=cfg.encoder_ffn_embed_dim,
            activation=cfg.encoder_activation,
            eps=cfg.encoder_layer_norm_eps,
            dropout=cfg.dropout,
            attention_dropout=cfg.attention_dropout,
        )
        self.max_source_positions = cfg.encoder_max_positions
        self.segments = cfg.encoder_type_vocab_size > 1  # RoBERTa (1) and DistilBERT (0) have no segments

    def segment_ids(self, src_tokens, padding_mask):
        """BERT's segment ids for two-part inputs written ``A [SEP] B``: 0 up to and including the
        first [SEP], 1 after it (question generation's answer and context, GLUE sentence pairs).
        A one-part source is all 0, as before; padding stays 0."""
        sep = src_tokens.eq(self.dictionary.eos())
        after_first_sep = (sep.long().cumsum(1) - sep.long()) > 0
        return (after_first_sep & ~padding_mask).long()

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        padding_mask = src_tokens.eq(self.padding_idx)
        if padding_mask[:, 0].any():
            raise ValueError(
                "source batch is left-padded; BERT needs right padding: use task bnb_seq2seq, "
                "which right-pads, and do not pass --left-pad-source"
            )
        types = self.segment_ids(src_tokens, padding_mask) if self.segments else None
        x = self.encoder(self.embeddings(src_tokens, token_types=types), padding_mask=padding_mask)
        return {
            "encoder_out": [x],
            "encoder_padding_mask": [padding_mask],
            "src_lengths": [(~padding_mask).sum(1)],
        }

    def reorder_encoder_out(self, encoder_out, new_order):
        return {k: [t.index_select(0, new_order) for t in v] for k, v in encoder_out.items()}

    def max_positions(self):
        return self.max_source_positions


class BertSeq2SeqMixin:
    """Shared by the bnb and bert2bert models: building (sizes from the checkpoints, BERT weights loaded by
    name), the Python API and fp32 output probabilities. A model class gives ``build_decoder(cfg, dictionary)``.

    ``Model.from_pretrained(dir, checkpoint_file=..., data_name_or_path=...)`` as fairseq's hub loading,
    returning its GeneratorHubInterface (``translate``, ``sample``, ``generate``), with raw text encoded
    by the BERT tokenizer that binarize.py saved beside the data: no tokenizer argument needed."""

    @classmethod
    def build_model(cls, cfg, task):
        pretrained = bool(cfg.bert_checkpoint) and not cfg.bert_init_done
        if pretrained:
            apply_bert_sizes(cfg)
        model = cls(BertEncoder(cfg, task.source_dictionary), cls.build_decoder(cfg, task.target_dictionary))
        init_bert_weights(model)
        if pretrained:
            load_bert_pair(
                model.encoder, model.decoder, cfg, lambda name: decoder_hf_name(name, cfg.cross_attention_init)
            )
        model.cfg = cfg  # sizes and options, for tools that build a model like it (the benchmark's cmlm)
        return model

    @classmethod
    def build_decoder(cls, cfg, dictionary):
        raise NotImplementedError

    @classmethod
    def from_pretrained(cls, model_name_or_path, checkpoint_file="model.pt", data_name_or_path=".", **kwargs):
        from fairseq import hub_utils, utils
        from omegaconf import open_dict

        kwargs.setdefault("bpe", "bert_wordpiece")
        loaded = hub_utils.from_pretrained(model_name_or_path, checkpoint_file, data_name_or_path, **kwargs)
        cfg, task = loaded["args"], loaded["task"]
        if cfg.bpe is not None and cfg.bpe.get("_name") == "bert_wordpiece" and not cfg.bpe.get("bert_tokenizer"):
            tokenizer = os.path.join(utils.split_paths(task.cfg.data)[0], f"tokenizer.{task.cfg.source_lang}")
            if not os.path.isdir(tokenizer):
                raise FileNotFoundError(
                    f"{tokenizer} not found: give data_name_or_path= the data directory that "
                    "preprocess/binarize.py wrote (or a packaged model directory), or "
                    "bert_tokenizer= a BERT checkpoint directory"
                )
            target = os.path.join(utils.split_paths(task.cfg.data)[0], f"tokenizer.{task.cfg.target_lang}")
            with open_dict(cfg):
                cfg.bpe.bert_tokenizer = tokenizer
                if os.path.isdir(target) and not cfg.bpe.get("bert_target_tokenizer"):
                    cfg.bpe.bert_target_tokenizer = target  # outputs decode with the target's own tokenizer
        # decoding options given here are requests, and win over the defaults stored in the checkpoint
        requested = {
            k: v for k, v in kwargs.items() if k in getattr(task, "decoding_option_names", ()) and v is not None
        }
        with open_dict(cfg):
            for name, value in requested.items():
                cfg.generation[name] = value
        return hub_utils.GeneratorHubInterface(cfg, task, loaded["models"])

    def upgrade_state_dict_named(self, state_dict, name):
        """A checkpoint of another run (``--finetune-from-model``) must have this model's vocabularies. A
        model packaged with 4-bit weights (tools/package.py --precision int4) loads them as fp32."""
        prefix = f"{name}." if name else ""
        unpack_state_int4(state_dict, prefix)
        for side, part, module in (("source", "encoder", self.encoder), ("target", "decoder", self.decoder)):
            theirs = state_dict.get(f"{prefix}{part}.embeddings.word_embeddings.weight")
            if theirs is not None and theirs.size(0) != len(module.dictionary):
                where = getattr(module.dictionary, "source", None) or "the data"
                raise ValueError(
                    f"the checkpoint's {side} vocabulary has {theirs.size(0)} pieces but this run's {side} dictionary "
                    f"({where}) has {len(module.dictionary)}: a checkpoint to fine-tune from must use the vocabulary "
                    "of the data; binarize the data with preprocess/binarize.py --bert <the BERT checkpoint the "
                    "pre-training data was made with>"
                )
        return super().upgrade_state_dict_named(state_dict, name)

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        """(Log-)softmax in fp32 whatever the logits' dtype (fp16/bf16 training and decoding)."""
        if is_parallel(self) and self.decoder.outputs_log_probs:  # an exported graph normalizes in itself
            return self.decoder.get_normalized_probs(net_output, log_probs, sample)
        logits = net_output[0]
        if log_probs:
            return F.log_softmax(logits, dim=-1, dtype=torch.float32)
        return F.softmax(logits, dim=-1, dtype=torch.float32)


def decoder_checkpoint_flag(cfg):
    return "--decoder-bert-checkpoint" if cfg.decoder_bert_checkpoint else "--bert-checkpoint"


def apply_bert_sizes(cfg):
    """Copy widths, heads and limits from config.json; layers are the first N (at most all)."""
    for side, path, flag in (
        ("encoder", cfg.bert_checkpoint, "--bert-checkpoint"),
        ("decoder", cfg.decoder_bert_checkpoint or cfg.bert_checkpoint, decoder_checkpoint_flag(cfg)),
    ):
        sizes = read_bert_sizes(path, flag)
        layers = getattr(cfg, f"{side}_layers")
        if layers > sizes.num_hidden_layers:
            logger.info(
                f"{side}: {path} has {sizes.num_hidden_layers} layers; using all of them "
                f"(--{side}-layers asked for {layers})"
            )
            layers = sizes.num_hidden_layers
        setattr(cfg, f"{side}_layers", layers)
        setattr(cfg, f"{side}_embed_dim", sizes.hidden_size)
        setattr(cfg, f"{side}_attention_heads", sizes.num_attention_heads)
        setattr(cfg, f"{side}_ffn_embed_dim", sizes.intermediate_size)
        setattr(cfg, f"{side}_max_positions", sizes.max_position_embeddings)
        setattr(cfg, f"{side}_activation", sizes.hidden_act)
        setattr(cfg, f"{side}_type_vocab_size", sizes.type_vocab_size)
        setattr(cfg, f"{side}_layer_norm_eps", sizes.layer_norm_eps)
        setattr(cfg, f"{side}_embedding_size", sizes.embedding_size if sizes.embedding_size != sizes.hidden_size else 0)
        setattr(cfg, f"{side}_layer_variant", sizes.layer_variant)
    cfg.bert_init_done = True


def layer_variant(cfg, side):
    """The ``LayerVariant`` of a side's checkpoint family (BERT's layer for configs that predate it)."""
    return LayerVariant.from_json(getattr(cfg, f"{side}_layer_variant", "") or "")


def check_vocabulary(dictionary, path, side, flag):
    """The binarized data's dictionary must be the checkpoint's vocabulary (vocab.txt or its tokenizer's), id
    for id, with the same special tokens."""
    ckpt_vocab = checkpoint_dictionary(path, flag)
    diff = ckpt_vocab.first_difference(dictionary)
    specials = getattr(dictionary, "specials", ckpt_vocab.specials)
    if diff is None and specials != ckpt_vocab.specials:
        raise BertCheckpointError(
            f"the {side} dictionary of the data takes {specials} as its special tokens, "
            f"{flag} {path} {ckpt_vocab.specials}; binarize the data with "
            f"preprocess/binarize.py --bert {path}"
        )
    if diff is not None:
        i, theirs, ours = diff
        raise BertCheckpointError(
            f"the {side} dictionary of the data ({getattr(dictionary, 'source', None) or 'data dictionary'}, "
            f"{len(dictionary)} entries) does not match {flag} {ckpt_vocab.source} ({len(ckpt_vocab)} entries; first "
            f"difference at id {i}: {ours!r} vs {theirs!r}); binarize the data with preprocess/binarize.py "
            f"--bert {path}, or pass the checkpoint the data was made with"
        )


def load_bert_pair(encoder, decoder, cfg, decoder_mapping):
    """Load the encoder from --bert-checkpoint and the decoder from --decoder-bert-checkpoint (or the same).

    ``decoder_mapping(name)`` gives the HF name of a decoder parameter, None for one new to the
    model, or False for a buffer that is not a weight.
    """
    enc_dir = cfg.bert_checkpoint
    dec_dir = cfg.decoder_bert_checkpoint or cfg.bert_checkpoint
    check_vocabulary(encoder.dictionary, enc_dir, "source", "--bert-checkpoint")
    check_vocabulary(decoder.dictionary, dec_dir, "target", decoder_checkpoint_flag(cfg))
    load_into(encoder, load_bert_weights(enc_dir), {k: k for k in encoder.state_dict()}, f"{enc_dir} (encoder)")
    dec_state = load_bert_weights(dec_dir, "--decoder-bert-checkpoint")
    mapping = {}
    for k in decoder.state_dict():
        hf_name = decoder_mapping(k)
        if hf_name is not False:
            # a cross-attention copied from a self-attention that lacks a part (ModernBERT's first layer
            # has no attention norm) keeps that part fresh
            if ".crossattention." in k and hf_name is not None and hf_name not in dec_state:
                hf_name = None
            mapping[k] = hf_name
    load_into(decoder, dec_state, mapping, f"{dec_dir} (decoder)")


def bert_decoder_parts(cfg, dictionary):
    """(embeddings, layer stack with cross-attention, tied MLM head, embedding width) of a BERT decoder
    whose parameter names follow HF BERT's, for both the bidirectional and the causal decoder."""
    dim = cfg.decoder_embed_dim
    width = getattr(cfg, "decoder_embedding_size", 0) or dim
    variant = layer_variant(cfg, "decoder")
    embeddings = BertEmbeddings(
        len(dictionary),
        dim,
        cfg.decoder_max_positions,
        cfg.decoder_type_vocab_size,
        dictionary.pad(),
        cfg.decoder_layer_norm_eps,
        cfg.dropout,
        embedding_size=width,
        variant=variant,
    )
    stack = BertStack(
        cfg.decoder_layers,
        variant=variant,
        dim=dim,
        heads=cfg.decoder_attention_heads,
        ffn_dim=cfg.decoder_ffn_embed_dim,
        activation=cfg.decoder_activation,
        eps=cfg.decoder_layer_norm_eps,
        dropout=cfg.dropout,
        attention_dropout=cfg.attention_dropout,
        cross_attention=True,
    )
    lm_head = BertLMHead(dim, len(dictionary), cfg.decoder_activation, cfg.decoder_layer_norm_eps, width, variant)
    return embeddings, stack, lm_head, width


def decoder_hf_name(name, cross_attention_init):
    """The HF name of a decoder parameter: BERT's own layers keep their names, the MLM head maps to
    ``cls.predictions.*``, a new cross-attention copies the layer's self-attention (``self``) or is new
    (None); parameters new to the model (latent, length classifier ...) are None; ``output_ids`` is a
    buffer chosen from the data (False: not a weight)."""
    if ".crossattention." in name:
        return name.replace(".crossattention.", ".attention.") if cross_attention_init == "self" else None
    if name.startswith(("embeddings.", "encoder.")):
        return name
    if name.startswith("lm_head."):
        return lm_head_hf_name(name)
    if name == "output_ids":
        return False
    return None


def lm_head_hf_name(name):
    """Our ``lm_head.*`` names -> HF's ``cls.predictions.*`` (the MLM head; ``extra_output``: MobileBERT's extra
    output columns, as families.py stores them)."""
    rest = name[len("lm_head.") :]
    return "cls.predictions." + (rest if rest in ("bias", "extra_output") else "transform." + rest)


def fill_defaults(cfg, config_class, **overrides):
    """Architecture defaults: ``overrides`` where the user gave nothing, then the dataclass defaults."""
    for name, value in overrides.items():
        if getattr(cfg, name, None) is None:
            setattr(cfg, name, value)
    for f in fields(config_class):
        if not hasattr(cfg, f.name):
            setattr(cfg, f.name, f.default)


SIZES = {
    "small": dict(
        encoder_layers=3,
        decoder_layers=3,
        encoder_embed_dim=256,
        decoder_embed_dim=256,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_embed_dim=1024,
        decoder_ffn_embed_dim=1024,
    ),
    "base": {},
    "large": dict(
        encoder_layers=24,
        decoder_layers=24,
        encoder_embed_dim=1024,
        decoder_embed_dim=1024,
        encoder_attention_heads=16,
        decoder_attention_heads=16,
        encoder_ffn_embed_dim=4096,
        decoder_ffn_embed_dim=4096,
    ),
}
