"""The declared interface of a parallel (non-autoregressive) decoder.

Everything outside a model (the parallel generator, the criteria, ``bnb_pretrain``, the benchmark,
the Python API) talks to a parallel decoder through these methods and properties only, as fairseq's
own NAT generator talks to its models through ``initialize_output_tokens``/``forward_decoder``. A new
head (a CRF, an autoregressive view of the same stack, a quantized or exported runner) implements
the same interface and works with every caller unchanged.

Vocabulary ids and output slots: a decoder may score only part of its vocabulary (``--output-vocab
train``); its logits are then indexed by *slot*, and ``output_index``/``output_tokens`` translate.
"""

import contextlib

from fairseq.models import FairseqDecoder, FairseqIncrementalDecoder

LENGTH_CONTROLS = ("ctc", "classify")


class ParallelDecoder(FairseqDecoder):
    """A decoder that emits all output slots of a sentence in one pass."""

    # --- output length control ---
    @property
    def length_control(self) -> str:
        """``"ctc"``: ``output_lengths`` slots per source, blanks and repeats collapse after the argmax;
        ``"classify"``: a classifier predicts the length and each slot is one output token."""
        raise NotImplementedError

    @property
    def predicts_length(self) -> bool:
        """True when the output length is classified (one token per slot; length beam and refinement)."""
        return self.length_control == "classify"

    @property
    def max_output_len(self) -> int:
        """The most slots a sentence can get (the decoder's positions, or a lower configured cap)."""
        raise NotImplementedError

    def output_lengths(self, src_lengths):
        """(B,) CTC slots of sources of ``src_lengths`` real tokens (CTC decoders)."""
        raise NotImplementedError

    def length_rule(self) -> str:
        """How ``output_lengths`` is set, in the words of its options, for messages."""
        raise NotImplementedError

    @property
    def num_length_classes(self) -> int:
        """Classes of the length classifier (0 for a CTC decoder); ensemble members must agree."""
        return 0

    def length_logits(self, encoder_out):
        """(B, K) logits of the length classes (length-classifying decoders)."""
        raise NotImplementedError

    def length_candidates(self, length_lprobs, src_lengths, k=1):
        """(B, k) most probable distinct output lengths, as decoder slot counts (``slots_for_lengths``), and
        their log-probabilities, from (B, K) length-class log-probabilities (an ensemble's average is welcome)."""
        raise NotImplementedError

    @property
    def length_slot_ratio(self) -> float:
        """Decoder slots per token of a classified length: above 1 only for a decoder trained with an aligned
        loss (``bnb_nat --axe``) or built with ``--classify-ctc``, whose spare slots predict the blank."""
        return 1.0

    def slots_for_lengths(self, lengths):
        """Decoder slots for (B,) target lengths: the gold lengths in training (``length_candidates``
        already returns slot counts)."""
        return lengths

    @property
    def merges_repeats(self) -> bool:
        """Whether equal neighbouring slot outputs merge into one token and blanks drop (CTC frames: a CTC
        decoder, or a classify decoder whose slots are trained with CTC); otherwise each slot is one token
        or a blank."""
        return self.length_control == "ctc"

    # --- output slots and vocabulary ids ---
    @property
    def blank_idx(self) -> int:
        """The CTC blank's vocabulary id."""
        raise NotImplementedError

    @property
    def blank_slot(self) -> int:
        """The CTC blank's index among the output logits."""
        raise NotImplementedError

    @property
    def output_vocab_size(self) -> int:
        """Number of output logits per slot (the trimmed or the full vocabulary)."""
        raise NotImplementedError

    def output_index(self, tokens):
        """Vocabulary ids -> output slots."""
        raise NotImplementedError

    def output_tokens(self, slots):
        """Output slots -> vocabulary ids."""
        raise NotImplementedError

    def source_alignment(self, src_lengths, out_lengths):
        """(B, T) index of the source token each output slot reads (for --unk-policy copy-source)."""
        raise NotImplementedError

    # --- a structured output layer over the slots (a CRF) ---
    @property
    def has_crf(self) -> bool:
        """Whether a CRF couples neighbouring slots (``--crf-lowrank-approx``; one token per slot)."""
        return False

    def crf_log_likelihood(self, lprobs, target_slots, mask):
        """(B,) log-likelihood of the slot sequences ``target_slots`` (B, T) under the CRF whose emission
        scores are the slots' log-probabilities ``lprobs`` (B, T, V); ``mask`` (B, T) marks real slots."""
        raise NotImplementedError

    def crf_viterbi(self, lprobs, mask, beam=None):
        """The CRF's best slot sequence: ``(slots (B, T), its score (B,), log Z (B,))``, so that
        ``(score - log Z) / length`` is its log-likelihood per slot; over each slot's ``beam`` best tokens
        (default: the CRF's own)."""
        raise NotImplementedError

    # --- an autoregressive view of the same stack (JANUS) ---
    @property
    def has_autoregressive_view(self) -> bool:
        """Whether the decoder's stack also runs step by step, sharing its weights (``--janus``)."""
        return False

    # --- where the pass runs ---
    @property
    def outputs_log_probs(self) -> bool:
        """Whether the pass already returns log-probabilities (an exported graph ending in its log-softmax):
        the model then normalizes nothing again."""
        return False

    def generation_context(self):
        """A context held around one ``generate`` call: a decoder whose pass runs in a thread pool of its
        own (ONNX Runtime) keeps torch's work around the pass on one thread meanwhile, so that the two
        pools do not take turns on the same cores."""
        return contextlib.nullcontext()

    # --- the passes ---
    def forward(self, prev_output_tokens=None, encoder_out=None, out_lengths=None, prev_tokens=None, **kwargs):
        """The one parallel pass: ``(logits (B, T, V), extra)`` with ``extra["padding_mask"]`` (B, T),
        ``extra["out_lengths"]`` (B,) and, for length-classifying decoders, ``extra["length_logits"]``.
        ``out_lengths`` forces each sentence's number of slots (gold lengths in training, length-beam
        candidates); ``prev_tokens`` (B, T) feeds words back for a refinement pass."""
        raise NotImplementedError

    @property
    def supports_refinement(self) -> bool:
        """Whether ``refine`` can re-predict masked slots (one token per slot: length-classifying decoders
        whose slots do not merge)."""
        return self.predicts_length and not self.merges_repeats

    def refine(self, encoder_out, out_lengths, prev_tokens):
        """A mask-predict pass: the slots of ``prev_tokens`` (vocabulary ids, [MASK] where to re-predict)
        read as words; returns the pass's ``(logits, extra)``."""
        if not self.supports_refinement:
            raise ValueError(f"a {self.length_control} decoder has no fixed slot per output token to refine")
        return self(None, encoder_out=encoder_out, out_lengths=out_lengths, prev_tokens=prev_tokens)

    def ensemble_key(self):
        """What decoders averaged in an ensemble must share (length rule, classes, output vocabulary)."""
        return (self.length_control, self.num_length_classes, self.output_vocab_size, self.merges_repeats)


def is_parallel(model) -> bool:
    """True for models whose decoder emits every slot in one pass (bnb)."""
    return isinstance(model.decoder, ParallelDecoder)


def is_autoregressive(model) -> bool:
    """True for models that decode step by step with an incremental decoder (bert2bert)."""
    return isinstance(model.decoder, FairseqIncrementalDecoder)
