"""BERT-NAR-BERT: a BERT encoder, a per-token latent bottleneck and a bidirectional BERT
decoder with cross-attention that emits every output position in one parallel pass."""
import logging
import os
import re
from dataclasses import dataclass, field, fields
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import (
    FairseqDecoder,
    FairseqEncoder,
    FairseqEncoderDecoderModel,
    register_model,
    register_model_architecture,
)

from bnb_fairseq.bert.checkpoint import BertCheckpointError, load_bert_weights, load_into, read_bert_sizes
from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.modules import (
    BertEmbeddings,
    BertLMHead,
    BertStack,
    LatentBottleneck,
    ctc_output_lengths,
    gather_rows,
    init_bert_weights,
    source_positions,
)

logger = logging.getLogger(__name__)


@dataclass
class BnbConfig(FairseqDataclass):
    bert_checkpoint: Optional[str] = field(
        default=None, metadata={"help": "HF BERT checkpoint directory for the encoder (and the decoder, "
                                "unless --decoder-bert-checkpoint); sizes come from its config.json"})
    decoder_bert_checkpoint: Optional[str] = field(
        default=None, metadata={"help": "HF BERT checkpoint directory for the decoder (target vocabulary)"})
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
    encoder_type_vocab_size: int = field(default=2, metadata={"help": "set from the checkpoint when given"})
    decoder_type_vocab_size: int = field(default=2, metadata={"help": "set from the checkpoint when given"})
    encoder_layer_norm_eps: float = field(default=1e-12, metadata={"help": "set from the checkpoint when given"})
    decoder_layer_norm_eps: float = field(default=1e-12, metadata={"help": "set from the checkpoint when given"})
    dropout: float = field(default=0.1, metadata={"help": "hidden dropout"})
    attention_dropout: float = field(default=0.1, metadata={"help": "attention probability dropout"})
    latent_dim: int = field(default=8, metadata={"help": "size of the per-token latent z"})
    latent_dropout: float = field(default=0.5, metadata={"help": "dropout on z (the paper's 0.5)"})
    memory_dropout: float = field(default=0.5, metadata={"help": "dropout on the encoder states fed to "
                                                          "cross-attention (the paper's 0.5)"})
    length_control: ChoiceEnum(["ctc"]) = field(default="ctc", metadata={"help": "how the output length is set"})
    ctc_ratio: float = field(default=2.0, metadata={"help": "decoder length = ceil(ratio x source length)"})
    ctc_min_len: int = field(default=4, metadata={"help": "shortest decoder length"})
    ctc_max_len: Optional[int] = field(default=None, metadata={"help": "longest decoder length "
                                                                "(default and cap: the decoder's positions)"})
    latent_upsample: ChoiceEnum(["nearest", "linear"]) = field(
        default="nearest", metadata={"help": "how latents are resampled to the decoder length"})
    decoder_input: ChoiceEnum(["latent", "encoder", "latent+encoder"]) = field(
        default="latent+encoder", metadata={
            "help": "what each decoder slot is fed: GELU(W z) of the latent (the original BnB), the "
                    "upsampled encoder states (as CTC NAT models do), or their sum (docs/learning-curves.md)"})
    decoder_positions: ChoiceEnum(["slot", "source"]) = field(
        default="slot", metadata={
            "help": "decoder position embedding of slot j: position j (the original BnB) or BERT's "
                    "embedding at the source position the slot reads, j x S/T, interpolated"})
    cross_attention_init: ChoiceEnum(["random", "self"]) = field(
        default="random", metadata={
            "help": "initialise each decoder layer's new cross-attention randomly, N(0, 0.02) (the "
                    "original BnB), or as a copy of that layer's pre-trained self-attention"})
    output_vocab: ChoiceEnum(["full", "train"]) = field(
        default="train", metadata={
            "help": "output softmax only over the pieces that occur in the training targets (read from the "
                    "data when the model is first built; about 2x faster training on the demo and better "
                    "BLEU, docs/learning-curves.md), or over the full target vocabulary (the original BnB)"})
    output_vocab_size: int = field(default=0, metadata={
        "help": "internal: number of output pieces kept by --output-vocab train (0: full)"})
    ctc_blank: str = field(default="[PAD]", metadata={"help": "target-vocabulary token used as the CTC "
                                                       "blank ([PAD], as in the original BnB; or [MASK], [unusedN])"})
    ctc_blank_force: bool = field(default=False, metadata={
        "help": "allow an ordinary word piece (or [UNK]) as --ctc-blank; it can then never be output"})
    bert_init_done: bool = field(default=False, metadata={
        "help": "internal: set once sizes were read from --bert-checkpoint, so that a saved model is "
                "rebuilt from its own config without the HF directory"})


class BnbEncoder(FairseqEncoder):
    """A BERT encoder; parameter names equal HF BertModel's (``embeddings.*``, ``encoder.layer.N.*``)."""

    def __init__(self, cfg, dictionary):
        super().__init__(dictionary)
        self.padding_idx = dictionary.pad()
        dim = cfg.encoder_embed_dim
        self.embeddings = BertEmbeddings(len(dictionary), dim, cfg.encoder_max_positions,
                                         cfg.encoder_type_vocab_size, self.padding_idx, cfg.encoder_layer_norm_eps, cfg.dropout)
        self.encoder = BertStack(cfg.encoder_layers, dim=dim, heads=cfg.encoder_attention_heads,
                                 ffn_dim=cfg.encoder_ffn_embed_dim, activation=cfg.encoder_activation,
                                 eps=cfg.encoder_layer_norm_eps, dropout=cfg.dropout, attention_dropout=cfg.attention_dropout)
        self.max_source_positions = cfg.encoder_max_positions

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        padding_mask = src_tokens.eq(self.padding_idx)
        if padding_mask[:, 0].any():
            raise ValueError("source batch is left-padded; BERT needs right padding: use task bnb_seq2seq, "
                             "which right-pads, and do not pass --left-pad-source")
        x = self.encoder(self.embeddings(src_tokens), padding_mask=padding_mask)
        return {
            "encoder_out": [x],
            "encoder_padding_mask": [padding_mask],
            "src_lengths": [(~padding_mask).sum(1)],
        }

    def reorder_encoder_out(self, encoder_out, new_order):
        return {k: [t.index_select(0, new_order) for t in v] for k, v in encoder_out.items()}

    def max_positions(self):
        return self.max_source_positions


class BnbDecoder(FairseqDecoder):
    """Bidirectional BERT decoder with cross-attention, fed by the latents (and, by default, the
    upsampled encoder states), not by words.

    The word embeddings only serve as the tied output matrix of the MLM head. With a trimmed output
    vocabulary (``--output-vocab train``) the logits cover only ``output_ids``; ``output_index`` and
    ``output_tokens`` translate between vocabulary ids and output slots.
    """

    def __init__(self, cfg, dictionary, encoder_dim):
        super().__init__(dictionary)
        dim = cfg.decoder_embed_dim
        self.cfg = cfg
        self.latent = LatentBottleneck(encoder_dim, cfg.latent_dim, cfg.latent_dropout)
        self.latent_in = nn.Linear(cfg.latent_dim, dim)
        self.memory_proj = nn.Linear(encoder_dim, dim) if encoder_dim != dim else None
        self.memory_dropout = nn.Dropout(cfg.memory_dropout)
        self.embeddings = BertEmbeddings(len(dictionary), dim, cfg.decoder_max_positions,
                                         cfg.decoder_type_vocab_size, dictionary.pad(), cfg.decoder_layer_norm_eps, cfg.dropout)
        self.encoder = BertStack(cfg.decoder_layers, dim=dim, heads=cfg.decoder_attention_heads,
                                 ffn_dim=cfg.decoder_ffn_embed_dim, activation=cfg.decoder_activation,
                                 eps=cfg.decoder_layer_norm_eps, dropout=cfg.dropout, attention_dropout=cfg.attention_dropout,
                                 cross_attention=True)
        self.lm_head = BertLMHead(dim, len(dictionary), cfg.decoder_activation, cfg.decoder_layer_norm_eps)
        self.max_len = min(cfg.ctc_max_len or cfg.decoder_max_positions, cfg.decoder_max_positions)
        self.blank_idx = check_ctc_blank(dictionary, cfg.ctc_blank, getattr(cfg, "ctc_blank_force", False))
        # None (full vocabulary) or the kept ids; sized from the config so that a saved model reloads
        self.register_buffer("output_ids", torch.zeros(cfg.output_vocab_size, dtype=torch.long)
                             if cfg.output_vocab_size else None)

    def set_output_vocab(self, token_ids):
        """Restrict the output softmax to ``token_ids`` plus the specials and the blank."""
        d = self.dictionary
        keep = set(int(i) for i in token_ids) | {d.pad(), d.unk(), d.bos(), d.eos(), self.blank_idx}
        ids = torch.tensor(sorted(keep), dtype=torch.long)
        self.register_buffer("output_ids", ids.to(self.lm_head.bias.device))
        self.cfg.output_vocab_size = len(ids)
        self._slots = None

    def _load_from_state_dict(self, *args, **kwargs):
        self._slots = None  # output_ids may change
        super()._load_from_state_dict(*args, **kwargs)

    def _slot_table(self):
        """(id -> slot table on the ids' device, blank slot as a Python int), computed once."""
        cached = getattr(self, "_slots", None)
        if cached is None or cached[0].device != self.output_ids.device:
            ids = self.output_ids.cpu()
            table = torch.full((len(self.dictionary),), -1, dtype=torch.long)
            table[ids] = torch.arange(len(ids))
            table[table < 0] = table[self.dictionary.unk()]
            cached = self._slots = (table.to(self.output_ids.device), int(table[self.blank_idx]))
        return cached

    @property
    def blank_slot(self):
        """The blank's index among the output logits."""
        return self.blank_idx if self.output_ids is None else self._slot_table()[1]

    def output_index(self, tokens):
        """Vocabulary ids -> output slots; ids outside a trimmed output vocabulary map to [UNK]'s slot."""
        if self.output_ids is None:
            return tokens
        return self._slot_table()[0].to(tokens.device)[tokens]

    def output_tokens(self, slots):
        """Output slots -> vocabulary ids."""
        return slots if self.output_ids is None else self.output_ids.to(slots.device)[slots]

    def output_lengths(self, src_lengths):
        return ctc_output_lengths(src_lengths, self.cfg.ctc_ratio, self.cfg.ctc_min_len, self.max_len)

    def forward(self, prev_output_tokens=None, encoder_out=None, out_lengths=None, **kwargs):
        """Logits (B, T, V) for T = max output length; extra: padding mask and lengths."""
        h = encoder_out["encoder_out"][0]
        src_mask = encoder_out["encoder_padding_mask"][0]
        src_lengths = encoder_out["src_lengths"][0]
        if out_lengths is None:
            out_lengths = self.output_lengths(src_lengths)
        mode = self.cfg.decoder_input
        memory = self.memory_proj(h) if self.memory_proj is not None else h
        memory = self.memory_dropout(memory)
        pos, padding_mask = source_positions(src_lengths, out_lengths)
        last = (src_lengths - 1)[:, None]
        z = gather_rows(self.latent(h), pos, last, self.cfg.latent_upsample)
        x = F.gelu(self.latent_in(z)) if mode in ("latent", "latent+encoder") else 0
        if mode in ("encoder", "latent+encoder"):
            x = x + gather_rows(memory, pos, last, self.cfg.latent_upsample)
        position_embeds = None
        if self.cfg.decoder_positions == "source":
            table = self.embeddings.position_embeddings.weight
            position_embeds = gather_rows(table, pos, last.clamp(max=table.size(0) - 1), "linear")
        x = self.embeddings(inputs_embeds=x, position_embeds=position_embeds)
        x = self.encoder(x, padding_mask=padding_mask, memory=memory, memory_padding_mask=src_mask)
        weight, bias = self.embeddings.word_embeddings.weight, self.lm_head.bias
        if self.output_ids is not None:
            weight, bias = weight[self.output_ids], bias[self.output_ids]
        logits = self.lm_head(x, weight, bias)
        return logits, {"padding_mask": padding_mask, "out_lengths": out_lengths, "latent": z}

    def max_positions(self):
        return self.max_len


@register_model("bnb", dataclass=BnbConfig)
class BnbModel(FairseqEncoderDecoderModel):
    @classmethod
    def build_model(cls, cfg, task):
        pretrained = bool(cfg.bert_checkpoint) and not cfg.bert_init_done
        if pretrained:
            apply_bert_sizes(cfg)
        encoder = BnbEncoder(cfg, task.source_dictionary)
        decoder = BnbDecoder(cfg, task.target_dictionary, cfg.encoder_embed_dim)
        model = cls(encoder, decoder)
        init_bert_weights(model)
        if pretrained:
            model.load_bert_checkpoints(cfg)
        if cfg.output_vocab == "train" and not cfg.output_vocab_size:
            if not hasattr(task, "target_ids_in_training_data"):
                raise ValueError(f"--output-vocab train needs a task that can read its training targets "
                                 f"(bnb_seq2seq); task {type(task).__name__} cannot")
            decoder.set_output_vocab(task.target_ids_in_training_data())
            logger.info(f"output vocabulary: {cfg.output_vocab_size} of {len(task.target_dictionary)} "
                        "pieces (those in the training targets, the specials and the blank)")
        return model

    def forward(self, src_tokens, src_lengths=None, prev_output_tokens=None, **kwargs):
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths)
        return self.decoder(prev_output_tokens, encoder_out=encoder_out)

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        logits = net_output[0]
        if log_probs:
            return F.log_softmax(logits, dim=-1, dtype=torch.float32)
        return F.softmax(logits, dim=-1, dtype=torch.float32)

    def load_bert_checkpoints(self, cfg):
        enc_dir = cfg.bert_checkpoint
        dec_dir = cfg.decoder_bert_checkpoint or cfg.bert_checkpoint
        for side, path, dictionary, flag in (("source", enc_dir, self.encoder.dictionary, "--bert-checkpoint"),
                                             ("target", dec_dir, self.decoder.dictionary,
                                              "--decoder-bert-checkpoint" if cfg.decoder_bert_checkpoint else "--bert-checkpoint")):
            check_vocabulary(dictionary, path, side, flag)
        load_into(self.encoder, load_bert_weights(enc_dir), {k: k for k in self.encoder.state_dict()},
                  f"{enc_dir} (encoder)")
        dec_state = load_bert_weights(dec_dir, "--decoder-bert-checkpoint")
        mapping = {}
        for k in self.decoder.state_dict():
            if ".crossattention." in k and cfg.cross_attention_init == "self":
                mapping[k] = k.replace(".crossattention.", ".attention.")
            elif k.startswith(("embeddings.", "encoder.")):
                mapping[k] = k
            elif k.startswith("lm_head."):
                mapping[k] = "cls.predictions." + (k[len("lm_head."):] if k == "lm_head.bias"
                                                   else "transform." + k[len("lm_head."):])
            elif k == "output_ids":
                continue  # not a weight: set from the training data
            else:
                mapping[k] = None  # latent, latent_in, memory_proj: new in BnB
        load_into(self.decoder, dec_state, mapping, f"{dec_dir} (decoder)")


def check_ctc_blank(dictionary, token, force=False):
    """The blank's id: never a token every target holds; an ordinary piece only when forced."""
    if token not in dictionary.indices:
        raise ValueError(f"--ctc-blank {token!r} is not in the target vocabulary; use [PAD] (the default) or [MASK]")
    idx = dictionary.index(token)
    if idx in (dictionary.bos(), dictionary.eos()):
        raise ValueError(f"--ctc-blank {token}: every target holds it ([CLS] y [SEP]), so CTC could never emit "
                         "it; use [PAD] (the default) or [MASK]")
    reserved = idx == dictionary.pad() or token == "[MASK]" or re.fullmatch(r"\[unused\d+\]", token)
    if not reserved and not force:
        raise ValueError(f"--ctc-blank {token}: an ordinary token of the target vocabulary, which the model could "
                         "then never output; use [PAD] (the default), [MASK] or an [unusedN] entry, or pass "
                         "--ctc-blank-force to use it anyway")
    return idx


def check_vocabulary(dictionary, path, side, flag):
    """The binarized data's dictionary must be the checkpoint's vocab.txt, id for id."""
    ckpt_vocab = BertDictionary.load(os.path.join(path, "vocab.txt"))
    diff = ckpt_vocab.first_difference(dictionary)
    if diff is not None:
        i, theirs, ours = diff
        raise BertCheckpointError(
            f"the {side} dictionary of the data ({getattr(dictionary, 'source', None) or 'data dictionary'}, "
            f"{len(dictionary)} entries) does not match {flag} {path}/vocab.txt ({len(ckpt_vocab)} entries; first "
            f"difference at id {i}: {ours!r} vs {theirs!r}); binarize the data with preprocess/binarize.py "
            f"--bert {path}, or pass the checkpoint the data was made with"
        )


def apply_bert_sizes(cfg):
    """Copy widths, heads and limits from config.json; layers are the first N (at most all)."""
    for side, path, flag in (("encoder", cfg.bert_checkpoint, "--bert-checkpoint"),
                             ("decoder", cfg.decoder_bert_checkpoint or cfg.bert_checkpoint,
                              "--decoder-bert-checkpoint" if cfg.decoder_bert_checkpoint else "--bert-checkpoint")):
        sizes = read_bert_sizes(path, flag)
        layers = getattr(cfg, f"{side}_layers")
        if layers > sizes.num_hidden_layers:
            logger.info(f"{side}: {path} has {sizes.num_hidden_layers} layers; using all of them "
                        f"(--{side}-layers asked for {layers})")
            layers = sizes.num_hidden_layers
        setattr(cfg, f"{side}_layers", layers)
        setattr(cfg, f"{side}_embed_dim", sizes.hidden_size)
        setattr(cfg, f"{side}_attention_heads", sizes.num_attention_heads)
        setattr(cfg, f"{side}_ffn_embed_dim", sizes.intermediate_size)
        setattr(cfg, f"{side}_max_positions", sizes.max_position_embeddings)
        setattr(cfg, f"{side}_activation", sizes.hidden_act)
        setattr(cfg, f"{side}_type_vocab_size", sizes.type_vocab_size)
        setattr(cfg, f"{side}_layer_norm_eps", sizes.layer_norm_eps)
    cfg.bert_init_done = True


def _fill_defaults(cfg, **overrides):
    for name, value in overrides.items():
        if getattr(cfg, name, None) is None:
            setattr(cfg, name, value)
    for f in fields(BnbConfig):
        if not hasattr(cfg, f.name):
            setattr(cfg, f.name, f.default)


@register_model_architecture("bnb", "bnb_base")
def bnb_base(cfg):
    _fill_defaults(cfg)


@register_model_architecture("bnb", "bnb_large")
def bnb_large(cfg):
    _fill_defaults(cfg, encoder_layers=24, decoder_layers=24, encoder_embed_dim=1024, decoder_embed_dim=1024,
                   encoder_attention_heads=16, decoder_attention_heads=16,
                   encoder_ffn_embed_dim=4096, decoder_ffn_embed_dim=4096)


@register_model_architecture("bnb", "bnb_small")
def bnb_small(cfg):
    _fill_defaults(cfg, encoder_layers=3, decoder_layers=3, encoder_embed_dim=256, decoder_embed_dim=256,
                   encoder_attention_heads=4, decoder_attention_heads=4,
                   encoder_ffn_embed_dim=1024, decoder_ffn_embed_dim=1024)
