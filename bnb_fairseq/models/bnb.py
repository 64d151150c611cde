"""BERT-NAR-BERT: a BERT encoder, a per-token latent bottleneck and a bidirectional BERT
decoder with cross-attention that emits every output position in one parallel pass."""

import logging
import re
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.dataclass import ChoiceEnum
from fairseq.models import FairseqEncoderDecoderModel, register_model, register_model_architecture

from bnb_fairseq.models.bert_seq2seq import (
    SIZES,
    BertEncoder,
    BertSeq2SeqConfig,
    BertSeq2SeqMixin,
    bert_decoder_parts,
    fill_defaults,
)
from bnb_fairseq.models.janus import JanusArDecoder, autoregressive_view
from bnb_fairseq.models.parallel_decoder import ParallelDecoder
from bnb_fairseq.modules import (
    GaussianLengthConverter,
    LatentBottleneck,
    LengthClassifier,
    LowRankCRF,
    ctc_output_lengths,
    gather_rows,
    length_candidates,
    source_positions,
)

logger = logging.getLogger(__name__)


@dataclass
class BnbConfig(BertSeq2SeqConfig):
    latent_dim: int = field(default=8, metadata={"help": "size of the per-token latent z"})
    latent_dropout: float = field(default=0.5, metadata={"help": "dropout on z (the paper's 0.5)"})
    memory_dropout: float = field(
        default=0.5, metadata={"help": "dropout on the encoder states fed to cross-attention (the paper's 0.5)"}
    )
    length_control: ChoiceEnum(["ctc", "classify"]) = field(
        default="ctc",
        metadata={
            "help": "how the output length is set: CTC over ceil(--ctc-ratio x source) slots (the paper's default), "
            "or a classifier of target - source length (train with --criterion bnb_nat)"
        },
    )
    length_classes: int = field(
        default=256,
        metadata={
            "help": "classify: number K of length classes; class c means target_len = source_len + c - K//2 "
            "(offsets beyond are clamped)"
        },
    )
    sg_length_pred: bool = field(
        default=False, metadata={"help": "classify: stop the length loss's gradient into the encoder"}
    )
    length_converter: ChoiceEnum(["gaussian", "nearest", "linear"]) = field(
        default="gaussian",
        metadata={
            "help": "classify: how source rows are mapped to the predicted length: a Gaussian over source "
            "positions with a learnt width (the paper's), or nearest/linear resampling "
            "(CTC uses --latent-upsample)"
        },
    )
    length_slot_ratio: float = field(
        default=1.0,
        metadata={
            "help": "classify: a length L gets ceil(ratio x L) decoder slots; > 1 leaves room for blank slots, "
            "for models trained with bnb_nat --axe (the aligned loss places the target among the slots)"
        },
    )
    classify_ctc: bool = field(
        default=False,
        metadata={
            "help": "classify: read the ceil(--length-slot-ratio x L) slots of a classified length L as CTC "
            "frames: bnb_nat trains them with CTC (a ratio of 1.5-2 leaves room for blanks and repeats) and "
            "decoding merges repeats and drops blanks, so the length classifier sets the room and CTC the words"
        },
    )
    ctc_ratio: float = field(default=2.0, metadata={"help": "decoder length = ceil(ratio x source length)"})
    ctc_min_len: int = field(default=4, metadata={"help": "shortest decoder length"})
    ctc_max_len: Optional[int] = field(
        default=None, metadata={"help": "longest decoder length (default and cap: the decoder's positions)"}
    )
    latent_upsample: ChoiceEnum(["nearest", "linear"]) = field(
        default="nearest", metadata={"help": "how latents are resampled to the decoder length"}
    )
    decoder_input: ChoiceEnum(["latent", "encoder", "latent+encoder"]) = field(
        default="latent+encoder",
        metadata={
            "help": "what each decoder slot is fed: GELU(W z) of the latent (the original BnB), the "
            "upsampled encoder states (as CTC NAT models do), or their sum (docs/learning-curves.md)"
        },
    )
    decoder_positions: ChoiceEnum(["slot", "source"]) = field(
        default="slot",
        metadata={
            "help": "decoder position embedding of slot j: position j (the original BnB) or BERT's "
            "embedding at the source position the slot reads, j x S/T, interpolated; for a rotary "
            "decoder (ModernBERT) the rotary position of slot j: j or the fractional j x S/T"
        },
    )
    output_vocab: ChoiceEnum(["full", "train"]) = field(
        default="train",
        metadata={
            "help": "output softmax only over the pieces that occur in the training targets (read from the "
            "data when the model is first built; about 2x faster training on the demo and better "
            "BLEU, docs/learning-curves.md), or over the full target vocabulary (the original BnB)"
        },
    )
    output_vocab_size: int = field(
        default=0, metadata={"help": "internal: number of output pieces kept by --output-vocab train (0: full)"}
    )
    ctc_blank: str = field(
        default="[PAD]",
        metadata={
            "help": "target-vocabulary token used as the CTC "
            "blank ([PAD], as in the original BnB; or [MASK], [unusedN])"
        },
    )
    ctc_blank_force: bool = field(
        default=False,
        metadata={"help": "allow an ordinary word piece (or [UNK]) as --ctc-blank; it can then never be output"},
    )
    crf_lowrank_approx: int = field(
        default=0,
        metadata={
            "help": "classify: add a linear-chain CRF over the slots whose transition matrix has this rank "
            "(E1 E2^T, NART-DCRF; 32 is the paper's); train with bnb_nat (--crf-loss-factor), decode by "
            "Viterbi (--crf-decode). 0: no CRF"
        },
    )
    crf_beam_approx: int = field(
        default=64,
        metadata={
            "help": "CRF: the partition function and Viterbi run over each slot's this many most probable "
            "tokens (the gold one forced in during training)"
        },
    )
    janus: bool = field(
        default=False,
        metadata={
            "help": "JANUS: the decoder stack also runs autoregressively (causal attention over [CLS] y, key/value "
            "cache), sharing every weight, so that one checkpoint decodes in one pass or by beam search "
            "(--decode-mode ar) and reranks its own candidates; train with --criterion bnb_janus "
            "(docs/janus.md). Adds no parameter"
        },
    )
    cross_attention_init: ChoiceEnum(["auto", "random", "self"]) = field(
        default="auto",
        metadata={
            "help": "initialise each decoder layer's new cross-attention randomly, N(0, 0.02) (the original "
            "BnB), or as a copy of that layer's pre-trained self-attention; auto (default): self with --janus "
            "(its AR view then starts as a bert2bert does: +3-4 BLEU at 1,500 demo updates, docs/janus.md), "
            "random otherwise (the copy measured far worse for the one pass alone); the checkpoint keeps the choice"
        },
    )
    janus_ar_segment: bool = field(
        default=False,
        metadata={
            "help": "JANUS: the AR view reads its words as BERT's second segment (token type 1) and the one-pass "
            "view its slots as the first, so that the shared stack can tell the two apart; adds no parameter "
            "(the checkpoint's segment embeddings)"
        },
    )


BnbEncoder = BertEncoder  # the encoder is plain BERT; the old name stays importable


class BnbDecoder(ParallelDecoder):
    """Bidirectional BERT decoder with cross-attention, fed by the latents (and, by default, the
    upsampled encoder states), not by words; implements the ParallelDecoder interface.

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
        embeddings, stack, lm_head, width = bert_decoder_parts(cfg, dictionary)
        self.embeddings = embeddings
        # the slots' inputs enter the embeddings in their width: narrower than the hidden states for ELECTRA
        self.slot_to_embedding = nn.Linear(dim, width) if width != dim else None
        self.encoder, self.lm_head = stack, lm_head
        self._max_len = min(cfg.ctc_max_len or cfg.decoder_max_positions, cfg.decoder_max_positions)
        self._length_control = getattr(cfg, "length_control", "ctc")
        self.length_classifier = self.length_converter = None
        if self.predicts_length:  # CTC models keep their parameter set (and checkpoints) unchanged
            self.length_classifier = LengthClassifier(encoder_dim, cfg.length_classes, cfg.sg_length_pred)
            if cfg.length_converter == "gaussian":
                self.length_converter = GaussianLengthConverter()
        self._blank_idx = check_ctc_blank(dictionary, cfg.ctc_blank, getattr(cfg, "ctc_blank_force", False))
        if getattr(cfg, "classify_ctc", False):
            if not self.predicts_length:
                raise ValueError(
                    "--classify-ctc reads a classified number of slots as CTC frames: it needs --length-control "
                    "classify (a --length-control ctc model is CTC over ceil(--ctc-ratio x source) frames already)"
                )
            if self.length_slot_ratio <= 1.0:
                raise ValueError(
                    f"--classify-ctc with --length-slot-ratio {self.length_slot_ratio:g}: CTC needs more frames than "
                    "target tokens (blanks between repeats, room to place the words); give 1.5 or 2"
                )
        if getattr(cfg, "janus_ar_segment", False):
            if not self.has_autoregressive_view:
                raise ValueError("--janus-ar-segment marks the AR view's input: it needs --janus")
            if cfg.decoder_type_vocab_size < 2:
                raise ValueError(
                    f"--janus-ar-segment: the decoder's BERT has {cfg.decoder_type_vocab_size} segment embeddings, "
                    "not a second one to give the AR view; leave the option out for this checkpoint family"
                )
        self.crf = None
        crf_rank = getattr(cfg, "crf_lowrank_approx", 0) or 0  # 0 in checkpoints from before the option
        if crf_rank:
            if not self.predicts_length:
                raise ValueError(
                    f"--crf-lowrank-approx {crf_rank}: the CRF scores one token per slot, which needs "
                    "--length-control classify (with --criterion bnb_nat); CTC + CRF is not supported in this "
                    "version (CTC outputs collapse blanks and repeats, so neighbouring slots are not neighbouring "
                    "tokens)"
                )
            self.crf = LowRankCRF(len(dictionary), crf_rank, cfg.crf_beam_approx)
        # None (full vocabulary) or the kept ids; sized from the config so that a saved model reloads
        self.register_buffer(
            "output_ids", torch.zeros(cfg.output_vocab_size, dtype=torch.long) if cfg.output_vocab_size else None
        )

    def set_output_vocab(self, token_ids):
        """Restrict the output softmax to ``token_ids`` plus the specials and the blank."""
        d = self.dictionary
        keep = set(int(i) for i in token_ids) | {d.pad(), d.unk(), d.bos(), d.eos(), self._blank_idx}
        ids = torch.tensor(sorted(keep), dtype=torch.long)
        self.register_buffer("output_ids", ids.to(self.lm_head.bias.device))
        self.cfg.output_vocab_size = len(ids)
        self._slots = self._trimmed = None
        self.output_vocab_chosen = True  # chosen for this model (from its training data), not a placeholder

    def upgrade_state_dict_named(self, state_dict, name):
        """Fine-tuning from another run's checkpoint (``--finetune-from-model``, e.g. bnb_pretrain's): a
        model whose output vocabulary was chosen from this run's training targets keeps it, and a
        full-vocabulary model needs none; the weights cover the whole vocabulary either way."""
        key = f"{name}.output_ids" if name else "output_ids"
        theirs = state_dict.get(key)
        if self.output_ids is None and theirs is not None:
            logger.info(
                f"output vocabulary: the full {len(self.dictionary)} pieces (the checkpoint kept {len(theirs)})"
            )
            del state_dict[key]
        elif getattr(self, "output_vocab_chosen", False) and (
            theirs is None or not torch.equal(theirs.cpu(), self.output_ids.cpu())
        ):
            logger.info(
                f"output vocabulary: this run's {len(self.output_ids)} pieces, not the checkpoint's "
                f"{len(theirs) if theirs is not None else len(self.dictionary)}"
            )
            state_dict[key] = self.output_ids.detach().clone()
        return super().upgrade_state_dict_named(state_dict, name)

    def _load_from_state_dict(self, *args, **kwargs):
        self._slots = self._trimmed = None  # output_ids and weights may change
        super()._load_from_state_dict(*args, **kwargs)

    def train(self, mode=True):
        if mode:  # weights change in training: gather them afresh (eval(), called by every generate, keeps them)
            self._trimmed = None
        return super().train(mode)

    def output_weight(self):
        """Output matrix and bias, restricted to ``output_ids``. In inference (eval mode, no grad) the
        gathered rows are kept until the module trains again or its weights move or reload: gathering
        them (a copy of 4,548 x 384 floats for MiniLM on the demo) took 4 ms of each 35 ms batch-1 pass."""
        weight, bias = self.embeddings.word_embeddings.weight, self.lm_head.bias
        matrix = self.lm_head.output_matrix  # the embeddings, with MobileBERT's extra output columns
        if self.output_ids is None:
            return matrix(weight), bias
        if self.training or torch.is_grad_enabled():
            return matrix(weight[self.output_ids], self.output_ids), bias[self.output_ids]
        extra = self.lm_head.extra_output
        key = (
            weight.data_ptr(),
            weight._version,
            bias.data_ptr(),
            bias._version,
            self.output_ids.data_ptr(),
            weight.dtype,
            None if extra is None else (extra.data_ptr(), extra._version),
        )
        cached = getattr(self, "_trimmed", None)
        if cached is None or cached[0] != key:
            rows = weight[self.output_ids]
            cached = self._trimmed = (key, matrix(rows, self.output_ids), bias[self.output_ids])
        return cached[1], cached[2]

    def _slot_table(self):
        """(id -> slot table on the ids' device, blank slot as a Python int), computed once."""
        cached = getattr(self, "_slots", None)
        if cached is None or cached[0].device != self.output_ids.device:
            ids = self.output_ids.cpu()
            table = torch.full((len(self.dictionary),), -1, dtype=torch.long)
            table[ids] = torch.arange(len(ids))
            table[table < 0] = table[self.dictionary.unk()]
            cached = self._slots = (table.to(self.output_ids.device), int(table[self._blank_idx]))
        return cached

    # --- ParallelDecoder ---
    @property
    def length_control(self):
        return self._length_control

    @property
    def max_output_len(self):
        return self._max_len

    @property
    def num_length_classes(self):
        return self.length_classifier.num_classes if self.length_classifier is not None else 0

    @property
    def blank_idx(self):
        return self._blank_idx

    @property
    def blank_slot(self):
        """The blank's index among the output logits."""
        return self._blank_idx if self.output_ids is None else self._slot_table()[1]

    @property
    def output_vocab_size(self):
        return len(self.dictionary) if self.output_ids is None else len(self.output_ids)

    def ensemble_key(self):
        if self.predicts_length:
            return super().ensemble_key() + (self.length_slot_ratio,)
        ctc_rule = (self.cfg.ctc_ratio, self.cfg.ctc_min_len, self._max_len)
        return super().ensemble_key() + (ctc_rule,)

    def source_alignment(self, src_lengths, out_lengths):
        pos, _ = source_positions(src_lengths, out_lengths)
        return torch.minimum(pos.floor().long(), (src_lengths - 1)[:, None])

    @property
    def merges_repeats(self):
        return self.length_control == "ctc" or bool(getattr(self.cfg, "classify_ctc", False))

    @property
    def has_crf(self):
        return self.crf is not None

    @property
    def has_autoregressive_view(self):
        return bool(getattr(self.cfg, "janus", False))  # False in checkpoints from before the option

    def crf_log_likelihood(self, lprobs, target_slots, mask):
        return self.crf.log_likelihood(lprobs, target_slots, mask, self.output_tokens)

    def crf_viterbi(self, lprobs, mask, beam=None):
        return self.crf.viterbi(lprobs, mask, self.output_tokens, beam)

    def length_rule(self):
        return (
            f"ceil(--ctc-ratio {self.cfg.ctc_ratio:g} x length), at least --ctc-min-len {self.cfg.ctc_min_len}, "
            f"at most the decoder's {self._max_len}"
        )

    def output_index(self, tokens):
        """Vocabulary ids -> output slots; ids outside a trimmed output vocabulary map to [UNK]'s slot."""
        if self.output_ids is None:
            return tokens
        return self._slot_table()[0].to(tokens.device)[tokens]

    def output_tokens(self, slots):
        """Output slots -> vocabulary ids."""
        return slots if self.output_ids is None else self.output_ids.to(slots.device)[slots]

    def output_lengths(self, src_lengths):
        return ctc_output_lengths(src_lengths, self.cfg.ctc_ratio, self.cfg.ctc_min_len, self._max_len)

    def length_logits(self, encoder_out):
        """(B, K) logits of the length offset classes (classify models only)."""
        return self.length_classifier(encoder_out["encoder_out"][0], encoder_out["encoder_padding_mask"][0])

    @property
    def length_slot_ratio(self):
        return float(getattr(self.cfg, "length_slot_ratio", 1.0) or 1.0)  # 1 in checkpoints from before it

    def slots_for_lengths(self, lengths):
        """Decoder slots for target lengths: ceil(--length-slot-ratio x length), at most the decoder's."""
        if self.length_slot_ratio == 1.0:
            return lengths
        return torch.ceil(lengths.float() * self.length_slot_ratio).long().clamp(max=self._max_len)

    def length_candidates(self, length_lprobs, src_lengths, k=1):
        """The k most probable lengths as decoder slot counts (distinct: the lengths are capped where
        their slots would pass the decoder's)."""
        longest = int(self._max_len // self.length_slot_ratio)
        lengths, scores = length_candidates(length_lprobs, src_lengths, k, longest)
        return self.slots_for_lengths(lengths), scores

    def predicted_lengths(self, length_logits, src_lengths, k=1):
        """(B, k) most probable decoder lengths (see length_candidates) and their log-probabilities."""
        return self.length_candidates(F.log_softmax(length_logits, dim=-1, dtype=torch.float32), src_lengths, k)

    def forward(self, prev_output_tokens=None, encoder_out=None, out_lengths=None, prev_tokens=None, **kwargs):
        """Logits (B, T, V) for T = max output length; extra: padding mask and lengths (and, for a
        classify model, the length logits).

        ``out_lengths`` (B,) sets each sentence's number of slots: the gold target length in training
        a classify model, candidate lengths in a length beam. Without it a CTC model uses
        ceil(ratio x source length) and a classify model its most probable length.

        ``prev_tokens`` (B, T) vocabulary ids, for mask-predict refinement: their word embeddings are
        added to the slots' inputs ([MASK] at the slots to re-predict; [PAD] adds nothing, so a row of
        [PAD] is a first pass, as in ``bnb_nat --refinement-training``). ``prev_output_tokens`` cannot
        serve: fairseq's collater fills it with the shifted target, which the decoder must not read.
        """
        h = encoder_out["encoder_out"][0]
        src_mask = encoder_out["encoder_padding_mask"][0]
        src_lengths = encoder_out["src_lengths"][0]
        length_logits = None
        if self.predicts_length:
            length_logits = self.length_logits(encoder_out)
            if out_lengths is None:
                out_lengths = self.predicted_lengths(length_logits, src_lengths)[0][:, 0]
        elif out_lengths is None:
            out_lengths = self.output_lengths(src_lengths)
        mode = self.cfg.decoder_input
        memory = self.memory_proj(h) if self.memory_proj is not None else h
        memory = self.memory_dropout(memory)
        pos, padding_mask = source_positions(src_lengths, out_lengths)
        last = (src_lengths - 1)[:, None]
        if self.length_converter is not None:
            weights = self.length_converter.weights(pos, src_lengths, h.size(1))
            convert = lambda rows: self.length_converter(rows, weights)  # noqa: E731
        else:
            resample = self.cfg.length_converter if self.predicts_length else self.cfg.latent_upsample
            convert = lambda rows: gather_rows(rows, pos, last, resample)  # noqa: E731
        z = convert(self.latent(h))
        x = F.gelu(self.latent_in(z)) if mode in ("latent", "latent+encoder") else 0
        if mode in ("encoder", "latent+encoder"):
            x = x + convert(memory)
        if self.slot_to_embedding is not None:
            x = self.slot_to_embedding(x)
        if prev_tokens is not None:
            if prev_tokens.shape != padding_mask.shape:
                raise ValueError(
                    f"prev_tokens {tuple(prev_tokens.shape)}: need one token per slot, {tuple(padding_mask.shape)}"
                )
            given = prev_tokens.ne(self.embeddings.word_embeddings.padding_idx).unsqueeze(-1)
            x = x + self.embeddings.word_embeddings(prev_tokens) * given
        position_embeds = rotary_positions = None
        if self.cfg.decoder_positions == "source":
            if self.embeddings.position_embeddings is None:  # a rotary family: fractional rotary positions
                rotary_positions = pos
            else:
                table = self.embeddings.position_embeddings.weight
                position_embeds = gather_rows(table, pos, last.clamp(max=table.size(0) - 1), "linear")
        x = self.embeddings(inputs_embeds=x, position_embeds=position_embeds)
        x = self.encoder(
            x, padding_mask=padding_mask, memory=memory, memory_padding_mask=src_mask, positions=rotary_positions
        )
        if self.lm_head.output_projection is not None:  # a quantized copy (--inference-precision)
            logits = self.lm_head(x)
        else:
            logits = self.lm_head(x, *self.output_weight())
        extra = {"padding_mask": padding_mask, "out_lengths": out_lengths, "latent": z}
        if length_logits is not None:
            extra["length_logits"] = length_logits
        return logits, extra

    def max_positions(self):
        return self._max_len


@register_model("bnb", dataclass=BnbConfig)
class BnbModel(BertSeq2SeqMixin, FairseqEncoderDecoderModel):
    """The output vocabulary (``--output-vocab train``) is chosen by the task, which reads the training
    targets, through ``BnbDecoder.set_output_vocab``: the model never reads data."""

    @classmethod
    def build_model(cls, cfg, task):
        if getattr(cfg, "cross_attention_init", "random") == "auto":  # saved resolved: reloads build the same
            cfg.cross_attention_init = "self" if getattr(cfg, "janus", False) else "random"
        return super().build_model(cfg, task)

    @classmethod
    def build_decoder(cls, cfg, dictionary):
        return BnbDecoder(cfg, dictionary, cfg.encoder_embed_dim)

    @property
    def wants_output_vocab(self):
        """True when ``--output-vocab train`` still awaits the training targets' pieces."""
        return self.cfg.output_vocab == "train" and not self.cfg.output_vocab_size

    def set_output_vocab(self, token_ids):
        """Restrict the output softmax to ``token_ids`` (plus the specials and the blank)."""
        self.decoder.set_output_vocab(token_ids)

    def forward(
        self,
        src_tokens,
        src_lengths=None,
        prev_output_tokens=None,
        out_lengths=None,
        prev_tokens=None,
        glance=None,
        autoregressive=False,
        **kwargs,
    ):
        """``glance`` (glancing training, GLAT): a function of a first, gradient-free decoder pass's
        ``(logits, extra)`` that returns the ``prev_tokens`` of the pass that is returned (the same
        encoder output serves both passes). It runs inside the model's forward, as distributed training
        requires.

        ``autoregressive`` (``--janus`` models, bnb_janus): also run the decoder's AR view, teacher-forced on
        ``prev_output_tokens`` as fairseq's collater makes them (``[SEP] [CLS] y``; the view reads
        ``[CLS] y``), over the same encoder output; its logits (over the output slots) are
        ``extra["ar_logits"]``."""
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths)
        if glance is not None:
            with torch.no_grad():
                first = self.decoder(None, encoder_out=encoder_out, out_lengths=out_lengths, prev_tokens=prev_tokens)
            prev_tokens = glance(first)
        logits, extra = self.decoder(
            prev_output_tokens, encoder_out=encoder_out, out_lengths=out_lengths, prev_tokens=prev_tokens
        )
        if autoregressive:
            if not self.decoder.has_autoregressive_view:
                raise ValueError("the autoregressive view needs a model built with --janus")
            if prev_output_tokens is None:
                raise ValueError("the autoregressive view reads the previous target words: pass prev_output_tokens")
            view = JanusArDecoder(self.decoder)
            extra["ar_logits"], _ = view(prev_output_tokens[:, 1:].contiguous(), encoder_out=encoder_out)
        return logits, extra

    def autoregressive_view(self):
        """This model decoding step by step (``--janus`` models): an autoregressive model sharing its weights."""
        return autoregressive_view(self)


def check_ctc_blank(dictionary, token, force=False):
    """The blank's id: never a token every target holds; an ordinary piece only when forced. [PAD] and
    [MASK] name the vocabulary's own pad and mask tokens (<pad> and <mask> for RoBERTa and XLM-R)."""
    if hasattr(dictionary, "special_token"):
        token = dictionary.special_token(token)
    if token not in dictionary.indices:
        raise ValueError(f"--ctc-blank {token!r} is not in the target vocabulary; use [PAD] (the default) or [MASK]")
    idx = dictionary.index(token)
    if idx in (dictionary.bos(), dictionary.eos()):
        raise ValueError(
            f"--ctc-blank {token}: every target holds it ([CLS] y [SEP]), so CTC could never emit "
            "it; use [PAD] (the default) or [MASK]"
        )
    reserved = (
        idx == dictionary.pad()
        or token == "[MASK]"
        or idx == getattr(dictionary, "mask_index", None)
        or re.fullmatch(r"\[unused\d+\]", token)
    )
    if not reserved and not force:
        raise ValueError(
            f"--ctc-blank {token}: an ordinary token of the target vocabulary, which the model could "
            "then never output; use [PAD] (the default), [MASK] or an [unusedN] entry, or pass "
            "--ctc-blank-force to use it anyway"
        )
    return idx


@register_model_architecture("bnb", "bnb_base")
def bnb_base(cfg):
    fill_defaults(cfg, BnbConfig, **SIZES["base"])


@register_model_architecture("bnb", "bnb_large")
def bnb_large(cfg):
    fill_defaults(cfg, BnbConfig, **SIZES["large"])


@register_model_architecture("bnb", "bnb_small")
def bnb_small(cfg):
    fill_defaults(cfg, BnbConfig, **SIZES["small"])
