"""BERT2BERT: the autoregressive baseline, warm-started from the same BERT checkpoints as BnB.

The encoder is BnB's. The decoder is a BERT whose self-attention is made causal, with a new
cross-attention in every layer (as in Rothe et al., 2020; here started as a copy of the layer's
self-attention unless ``--cross-attention-init random``) and the tied MLM head as output layer.
It keeps a key/value cache, so fairseq's SequenceGenerator (``--beam``, ``--lenpen``,
``--max-len-a/b``, ``--nbest``) runs it one step per token. A deep-encoder / shallow-decoder
baseline is ``--decoder-layers 1``.

Data convention (BERT2BERT's, as in Hugging Face's EncoderDecoderModel): the decoder reads
``[CLS] y`` and predicts ``y [SEP]``. Binarized targets are ``[CLS] y [SEP]`` and fairseq's collater
feeds ``[SEP] [CLS] y``; ``forward`` and ``get_targets`` drop that first column, and the
``bnb_seq2seq`` task starts generation with ``[CLS]``.
"""

import logging
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.dataclass import ChoiceEnum
from fairseq.models import (
    FairseqEncoderDecoderModel,
    FairseqIncrementalDecoder,
    register_model,
    register_model_architecture,
)

from bnb_fairseq.models.bert_seq2seq import (
    SIZES,
    BertSeq2SeqConfig,
    BertSeq2SeqMixin,
    bert_decoder_parts,
    fill_defaults,
)

logger = logging.getLogger(__name__)


@dataclass
class Bert2BertConfig(BertSeq2SeqConfig):
    cross_attention_init: ChoiceEnum(["random", "self"]) = field(
        default="self",
        metadata={
            "help": "initialise each decoder layer's new cross-attention as a copy of its pre-trained "
            "self-attention (default: on the demo es->en data, bert2bert_small reached in 360 updates "
            "the training loss that random N(0, 0.02) initialisation reached after 660), or randomly"
        },
    )


class Bert2BertDecoder(FairseqIncrementalDecoder):
    """A causal BERT decoder with cross-attention; parameter names follow HF BERT's."""

    def __init__(self, cfg, dictionary, shared=None):
        """``shared``: the (embeddings, layer stack, MLM head, memory projection) of another decoder to run
        causally instead of new ones (the AR view of a JANUS BnB model, models/janus.py)."""
        super().__init__(dictionary)
        dim = cfg.decoder_embed_dim
        if shared is not None:
            self.embeddings, self.encoder, self.lm_head, self.memory_proj = shared
        else:
            self.embeddings, self.encoder, self.lm_head, _ = bert_decoder_parts(cfg, dictionary)
            # encoder and decoder checkpoints of different widths (e.g. an XLM-R encoder, a BERT decoder)
            self.memory_proj = nn.Linear(cfg.encoder_embed_dim, dim) if cfg.encoder_embed_dim != dim else None
        self.max_target_positions = cfg.decoder_max_positions
        self.segment = 0  # the segment id of the words read (a JANUS AR view may read them as segment 1)

    def forward(self, prev_output_tokens, encoder_out=None, incremental_state=None, features_only=False, **kwargs):
        """``prev_output_tokens``: ``[CLS] y1 .. yt`` (right-padded in training). Incrementally,
        only the last token is computed, against the cached keys and values of the earlier ones."""
        memory = encoder_out["encoder_out"][0]
        if self.memory_proj is not None:
            memory = self.memory_proj(memory)
        memory_mask = encoder_out["encoder_padding_mask"][0]
        caches = None
        if incremental_state is not None:
            caches = self.get_incremental_state(incremental_state, "cache")
            if caches is None:
                caches = self.encoder.new_caches()
            step = prev_output_tokens.size(1) - 1
            if step >= self.max_target_positions:
                raise ValueError(
                    f"output longer than the decoder's {self.max_target_positions} positions; "
                    "lower --max-len-b / --max-len-a"
                )
            # the step's token, after the earlier ones its input embedding reads (MobileBERT's trigram input)
            first = max(step - self.embeddings.left_context, 0)
            position_embeds = None  # a rotary family's attention takes the step's position from the cache
            if self.embeddings.position_embeddings is not None:
                position_embeds = self.embeddings.position_embeddings.weight[first : step + 1].unsqueeze(0)
            x = self.embeddings(
                prev_output_tokens[:, first:], position_embeds=position_embeds, token_types=self.segment, causal=True
            )
            x = x[:, -1:]
        else:
            x = self.embeddings(prev_output_tokens, token_types=self.segment, causal=True)
        x = self.encoder(x, memory=memory, memory_padding_mask=memory_mask, causal=True, caches=caches)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "cache", caches)
        if features_only:
            return x, {"attn": [None]}
        return self.output_layer(x), {"attn": [None]}

    def target_log_probs(self, prev_output_tokens, targets, encoder_out):
        """fp32 log-probabilities of ``targets`` (B, T) read by teacher forcing from ``prev_output_tokens``:
        what a reranker scores candidates with."""
        features, _ = self(prev_output_tokens, encoder_out=encoder_out, features_only=True)
        logits, columns = self.scored_logits(features, targets)
        return F.log_softmax(logits, dim=-1, dtype=torch.float32).gather(-1, columns.unsqueeze(-1)).squeeze(-1)

    def scored_logits(self, features, targets):
        """The logits that targets are scored over, and each target's column in them."""
        return self.output_layer(features), targets

    def output_layer(self, features):
        if self.lm_head.output_projection is not None:  # a quantized copy (--inference-precision)
            return self.lm_head(features)
        return self.lm_head(features, *self.output_weight())

    def output_weight(self):
        """The tied output matrix and bias (the word embeddings, the MLM head's bias)."""
        return self.lm_head.output_matrix(self.embeddings.word_embeddings.weight), self.lm_head.bias

    def reorder_incremental_state(self, incremental_state, new_order):
        caches = self.get_incremental_state(incremental_state, "cache")
        if caches is None:
            return
        for layer in caches:
            for part in layer.values():
                for key in part:
                    part[key] = part[key].index_select(0, new_order)
        self.set_incremental_state(incremental_state, "cache", caches)

    def max_positions(self):
        return self.max_target_positions


@register_model("bert2bert", dataclass=Bert2BertConfig)
class Bert2BertModel(BertSeq2SeqMixin, FairseqEncoderDecoderModel):
    @classmethod
    def build_decoder(cls, cfg, dictionary):
        return Bert2BertDecoder(cfg, dictionary)

    def forward(self, src_tokens, src_lengths=None, prev_output_tokens=None, **kwargs):
        """``prev_output_tokens`` as fairseq's collater makes it from ``[CLS] y [SEP]``: ``[SEP] [CLS] y``."""
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths)
        return self.decoder(prev_output_tokens[:, 1:].contiguous(), encoder_out=encoder_out)

    def get_targets(self, sample, net_output):
        """``y [SEP]``: the target without its leading [CLS], which the decoder reads and never predicts."""
        return sample["target"][:, 1:].contiguous()

    def max_positions(self):
        # the decoder reads [CLS] y: a target of n tokens ([CLS] y [SEP]) needs n - 1 positions
        return (self.encoder.max_positions(), self.decoder.max_positions() + 1)


@register_model_architecture("bert2bert", "bert2bert_base")
def bert2bert_base(cfg):
    fill_defaults(cfg, Bert2BertConfig, **SIZES["base"])


@register_model_architecture("bert2bert", "bert2bert_large")
def bert2bert_large(cfg):
    fill_defaults(cfg, Bert2BertConfig, **SIZES["large"])


@register_model_architecture("bert2bert", "bert2bert_small")
def bert2bert_small(cfg):
    fill_defaults(cfg, Bert2BertConfig, **SIZES["small"])
