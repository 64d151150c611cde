"""JANUS (Liang et al., EMNLP 2022) for BnB: one set of weights decodes in one parallel pass or step by step.

A ``--janus`` BnB model's decoder stack (embeddings, layers with cross-attention, tied MLM head) is a
BERT that runs bidirectionally over the slots; its *autoregressive view* runs the very same modules
causally over ``[CLS] y``, with a key/value cache, as the bert2bert decoder does. The view owns no
parameter and is not part of the model's state: a checkpoint holds each weight once, and a ``--janus``
model's state has exactly the keys of a plain BnB model's. ``bnb_janus`` trains both views together.
"""

import torch
from fairseq.models import FairseqEncoderDecoderModel

from bnb_fairseq.models.bert2bert import Bert2BertDecoder
from bnb_fairseq.models.bert_seq2seq import BertSeq2SeqMixin
from bnb_fairseq.models.parallel_decoder import is_parallel


class JanusArDecoder(Bert2BertDecoder):
    """The causal view of a BnB decoder: its modules, not copies of them.

    Logits cover the BnB decoder's output slots (its trimmed vocabulary) for training; with
    ``full_vocabulary`` they are spread over the whole vocabulary (-inf for the pieces never output),
    as fairseq's SequenceGenerator and the reranker index them by vocabulary id."""

    def __init__(self, nar_decoder, full_vocabulary=False):
        shared = (nar_decoder.embeddings, nar_decoder.encoder, nar_decoder.lm_head, nar_decoder.memory_proj)
        super().__init__(nar_decoder.cfg, nar_decoder.dictionary, shared=shared)
        # a plain attribute, not a submodule: the view's parameters are the BnB decoder's, listed once
        self.__dict__["nar_decoder"] = nar_decoder
        self.full_vocabulary = full_vocabulary
        self.segment = 1 if getattr(nar_decoder.cfg, "janus_ar_segment", False) else 0

    def output_weight(self):
        return self.nar_decoder.output_weight()

    def scored_logits(self, features, targets):
        """Targets are scored over the output slots only (the same log-probabilities: the other pieces'
        logits are -inf), without spreading the logits over the whole vocabulary first."""
        return super().output_layer(features), self.nar_decoder.output_index(targets)

    def output_layer(self, features):
        logits = super().output_layer(features)
        ids = self.nar_decoder.output_ids
        if not self.full_vocabulary or ids is None:
            return logits
        full = logits.new_full(logits.shape[:-1] + (len(self.dictionary),), float("-inf"))
        return full.index_copy_(-1, ids, logits)


class JanusArModel(BertSeq2SeqMixin, FairseqEncoderDecoderModel):
    """The autoregressive view of a ``--janus`` BnB model (its encoder, its decoder run causally), as an
    autoregressive model that fairseq's SequenceGenerator and the parallel generator's reranker decode.
    Built on demand from the model; never saved."""

    def __init__(self, model):
        super().__init__(model.encoder, JanusArDecoder(model.decoder, full_vocabulary=True))
        self.cfg = model.decoder.cfg

    def max_positions(self):
        # the decoder reads [CLS] y: a target of n tokens ([CLS] y [SEP]) needs n - 1 positions
        return (self.encoder.max_positions(), self.decoder.max_positions() + 1)


def has_autoregressive_view(model):
    """True for a BnB model trained with ``--janus``."""
    return is_parallel(model) and model.decoder.has_autoregressive_view


def autoregressive_view(model):
    """The AR view of a ``--janus`` BnB model, or one clear error."""
    if not has_autoregressive_view(model):
        raise ValueError(
            f"--decode-mode ar and self-reranking need a BnB model trained with --janus (--criterion bnb_janus); "
            f"this {type(model).__name__} has no autoregressive view. Decode it with --decode-mode nar, or rerank "
            "with a separate bert2bert model: --path bnb.pt:ar.pt --iter-decode-with-external-reranker"
        )
    return JanusArModel(model)


@torch.no_grad()
def shares_every_parameter(model):
    """Whether the AR view's parameters are all the BnB decoder's own tensors (for tests and checks)."""
    view = autoregressive_view(model)
    ours = {id(p) for p in model.parameters()}
    return all(id(p) in ours for p in view.parameters())
