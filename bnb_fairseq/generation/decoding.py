"""The one home of the parallel generator's decoding options: their declaration, how they are read and
their checks against the models.

``ParallelDecodingConfig`` declares every option once; the ``bnb_seq2seq`` task config includes it, so
fairseq-train (``--eval-bleu``), the Python API (``from_pretrained(..., ctc_beam=4)``) and
fairseq-generate/-interactive all accept the same names. fairseq-generate declares some of them itself
(``--iter-decode-*``, ``--retain-iter-history``): its value then arrives in the generation config, and
``DecodingOptions.resolve`` reads each option once, the generation config first, the task's second.
``DecodingOptions.check_models`` is the one place that refuses an option the models cannot use; the
generator runs it when it is built (and again only for other models).
"""

import logging
from dataclasses import dataclass, field, fields, replace
from typing import Optional

from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.dataclass.configs import GenerationConfig

from bnb_fairseq.models.janus import autoregressive_view, has_autoregressive_view
from bnb_fairseq.models.parallel_decoder import is_autoregressive, is_parallel

logger = logging.getLogger(__name__)

# fairseq's own default for --iter-decode-max-iter; checkpoints saved before this task declared the
# option carry it in their generation config without anyone having asked for it
FAIRSEQ_MAX_ITER = GenerationConfig.__dataclass_fields__["iter_decode_max_iter"].default


@dataclass
class ParallelDecodingConfig(FairseqDataclass):
    ctc_blank_penalty: Optional[float] = field(
        default=None,
        metadata={
            "help": "decoding: subtract this from the blank's log-probability at every slot before the argmax "
            "(CTC models, and classify models trained with blanks by bnb_nat --axe); "
            "> 0 lengthens outputs of a model that under-generates (choose it on the valid split with "
            "tools.tune_blank_penalty --save; default: the value stored in the checkpoint, else 0)"
        },
    )
    ctc_beam: Optional[int] = field(
        default=None,
        metadata={
            "help": "decoding: CTC prefix beam search with this many prefixes (1: greedy argmax and collapse); "
            "--nbest N returns the N best (default: the value stored in the checkpoint, else 1)"
        },
    )
    ctc_beam_length_normalize: bool = field(
        default=False,
        metadata={"help": "decoding: rank CTC beam hypotheses by log-probability per token instead of in total"},
    )
    ctc_beam_blank_penalties: str = field(
        default="",
        metadata={
            "help": "decoding, CTC models with a reranker (--iter-decode-with-external-reranker): run the CTC "
            'beam search once per blank penalty of this comma-separated list ("0,1,2,3"; one batched search, '
            "in place of --ctc-blank-penalty) and give the reranker every distinct output of them all: outputs "
            "of several lengths, where one penalty's beam holds outputs of about one length"
        },
    )
    iter_decode_with_beam: int = field(
        default=1,
        metadata={
            "help": "decoding, --length-control classify models: decode the k most probable lengths of each "
            "sentence in one batched pass and keep the best by mean log-probability per slot; --nbest N "
            "returns the N best (fairseq's own option of the same name sets it in fairseq-generate)"
        },
    )
    iter_decode_max_iter: int = field(
        default=0,
        metadata={
            "help": "decoding, --length-control classify models: mask-predict refinement passes after the first: "
            "pass t of N feeds each candidate's tokens back with its floor(T (N - t + 1) / (N + 1)) least "
            "probable ones replaced by [MASK] and re-predicts those (fairseq's option of the same name; "
            "under this task its default is 0, not fairseq's 10)"
        },
    )
    iter_decode_force_max_iter: bool = field(
        default=False,
        metadata={
            "help": "decoding: run all --iter-decode-max-iter passes; by default a candidate stops when a pass "
            "changes none of its tokens"
        },
    )
    retain_iter_history: bool = field(
        default=False,
        metadata={"help": "decoding: add each hypothesis' output after every pass (fairseq-generate prints E- lines)"},
    )
    unk_policy: ChoiceEnum(["drop", "keep", "copy-source"]) = field(
        default="drop",
        metadata={
            "help": "decoding: what becomes of an output [UNK] (a piece the target vocabulary lacks): dropped from "
            "the output, kept as the literal token, or replaced by the source piece its slot reads (when the "
            "target vocabulary has that piece; greedy CTC and length-classify decoding, else dropped)"
        },
    )
    crf_decode: ChoiceEnum(["viterbi", "argmax"]) = field(
        default="viterbi",
        metadata={
            "help": "decoding, models with a CRF (--crf-lowrank-approx): the CRF's best sequence over each slot's "
            "top --crf-decode-beam tokens (length-beam candidates ranked by CRF log-likelihood per slot), or "
            "each slot's own argmax (the CRF unused)"
        },
    )
    crf_decode_beam: int = field(
        default=0,
        metadata={
            "help": "decoding, models with a CRF: candidates per slot for the CRF's Viterbi path and log Z (0: 16, "
            "or the model's --crf-beam-approx if smaller); the path rarely leaves a slot's top 16, which decode "
            "2-3x faster than 64; more candidates approximate log Z (the hypothesis scores and the length "
            "beam's ranking) more closely"
        },
    )
    dedup: bool = field(
        default=False,
        metadata={
            "help": "decoding: merge adjacent equal output tokens into one (the NAT post-processing of Gu et al. "
            "2018 and Mask-Predict's --dedup): a length-classify model that hedges between neighbouring slots "
            "repeats words; the final hypotheses only (not the --retain-iter-history passes)"
        },
    )
    inference_precision: ChoiceEnum(["fp32", "bf16", "int8", "int4", "onnx", "onnx-int8"]) = field(
        default="fp32",
        metadata={
            "help": "decoding: convert the loaded model(s) for inference: bf16 weights, int8 (dynamic int8 "
            "Linear layers, the tied output projection included, and int8 word embeddings; CPU) or int4 "
            "(weight-only 4-bit Linear layers and embeddings in groups of --inference-group-size; CPU: the "
            "smallest model, not the fastest), BnB and bert2bert models alike; or the one pass exported to ONNX "
            "and run by ONNX Runtime, as is or int8-quantized by it (onnx, onnx-int8; BnB models; "
            "docs/inference.md)"
        },
    )
    inference_group_size: int = field(
        default=32, metadata={"help": "decoding, --inference-precision int4: inputs per quantization group"}
    )
    iter_decode_with_external_reranker: bool = field(
        default=False,
        metadata={
            "help": "decoding: the last --path is an autoregressive model (bert2bert) that rescores every candidate "
            "of the BnB model(s) before it (length-beam or CTC-beam candidates) by its mean token "
            "log-probability, with teacher forcing; --path bnb.pt:ar.pt. With --janus BnB models alone, the "
            "last one's autoregressive view rescores them (self-reranking, one checkpoint)"
        },
    )
    decode_mode: ChoiceEnum(["nar", "ar"]) = field(
        default="nar",
        metadata={
            "help": "decoding a --janus BnB model: in one parallel pass (nar) or step by step by its "
            "autoregressive view with fairseq's beam search (ar: --beam, --lenpen, --max-len-a/b, --nbest)"
        },
    )


DECODING_OPTION_NAMES = tuple(f.name for f in fields(ParallelDecodingConfig))
# options a tuner may store in a checkpoint (``decoding_defaults``), with their built-in values; their
# flags default to None, so that an option given explicitly (even at its built-in value) wins
STORABLE_DEFAULTS = {"ctc_blank_penalty": 0.0, "ctc_beam": 1}
BUILT_IN = {f.name: STORABLE_DEFAULTS.get(f.name, f.default) for f in fields(ParallelDecodingConfig)}


@dataclass(frozen=True)
class DecodingOptions:
    """The resolved decoding options of one generator (values, not flags)."""

    blank_penalty: float = 0.0
    blank_penalties: tuple = ()  # --ctc-beam-blank-penalties: one CTC beam search per penalty, pooled
    ctc_beam: int = 1
    length_normalize: bool = False
    nbest: int = 1
    length_beam: int = 1
    max_iter: int = 0
    force_max_iter: bool = False
    retain_history: bool = False
    reranking: bool = False
    unk_policy: str = "drop"
    crf_decode: str = "viterbi"
    crf_decode_beam: int = 0
    dedup: bool = False
    # fairseq's own generation options, read from the generation config
    sampling: bool = False
    sampling_topk: int = -1
    sampling_topp: float = -1.0
    temperature: float = 1.0

    def __post_init__(self):
        if self.unk_policy not in ("drop", "keep", "copy-source"):
            raise ValueError(f"--unk-policy {self.unk_policy}: choose drop, keep or copy-source")
        if self.crf_decode not in ("viterbi", "argmax"):
            raise ValueError(f"--crf-decode {self.crf_decode}: choose viterbi or argmax")
        if self.crf_decode_beam < 0 or self.crf_decode_beam == 1:
            raise ValueError(
                f"--crf-decode-beam {self.crf_decode_beam}: give at least 2 candidates per slot (0: 16, or the "
                "model's --crf-beam-approx if smaller)"
            )
        if self.temperature <= 0:
            raise ValueError(f"--temperature {self.temperature}: must be greater than 0")
        if self.sampling_topk == 0 or self.sampling_topk < -1:
            raise ValueError(f"--sampling-topk {self.sampling_topk}: give k >= 1 (-1: no limit)")
        if self.sampling_topp != -1.0 and not 0.0 < self.sampling_topp <= 1.0:
            raise ValueError(f"--sampling-topp {self.sampling_topp}: give p in (0, 1] (-1: no limit)")
        if (self.sampling_topk != -1 or self.sampling_topp != -1.0) and not self.sampling:
            raise ValueError("--sampling-topk/--sampling-topp restrict sampling: pass --sampling too")
        if self.sampling and self.ctc_beam > 1:
            raise ValueError(
                f"--sampling draws each slot's token; --ctc-beam {self.ctc_beam} searches for the best ones: choose one"
            )
        if self.ctc_beam < 1:
            raise ValueError(f"--ctc-beam {self.ctc_beam}: must be at least 1")
        if self.blank_penalties and not self.reranking:
            raise ValueError(
                "--ctc-beam-blank-penalties pools the outputs of several blank penalties for a reranker to choose "
                "from: pass --iter-decode-with-external-reranker too (or give one --ctc-blank-penalty)"
            )
        if self.blank_penalties and self.sampling:
            raise ValueError("--ctc-beam-blank-penalties is a beam search option; --sampling draws: choose one")
        if self.length_beam < 1:
            raise ValueError(f"--iter-decode-with-beam {self.length_beam}: must be at least 1")
        if self.max_iter < 0:
            raise ValueError(f"--iter-decode-max-iter {self.max_iter}: must be at least 0")
        if self.force_max_iter and not self.max_iter:
            raise ValueError(
                "--iter-decode-force-max-iter needs refinement passes: pass --iter-decode-max-iter N with N > 0"
            )
        if self.nbest > max(self.ctc_candidates, self.length_beam) and not self.sampling:
            raise ValueError(
                f"--nbest {self.nbest} needs a CTC beam at least as wide: pass --ctc-beam {self.nbest} "
                "or more (greedy CTC decoding gives one hypothesis); a --length-control classify model "
                f"needs --iter-decode-with-beam {self.nbest} or more"
            )

    @property
    def ctc_candidates(self):
        """The most outputs a CTC beam search gives per sentence: --ctc-beam per pooled blank penalty."""
        return self.ctc_beam * max(1, len(self.blank_penalties))

    @classmethod
    def resolve(cls, task_cfg=None, args=None, stored=None):
        """The options of a generator built with generation config ``args`` (fairseq-generate's, the hub's
        with its keyword arguments, a Namespace of overrides, or None) over the task config ``task_cfg``,
        over ``stored``, the decoding defaults a tuner saved in the checkpoint (``StoredDecodingDefaults``),
        over the built-in values. Logs where each value that is not built in came from."""
        sources = []

        def option(name):
            value, source = option_value(task_cfg, args, name, stored)
            overrides_stored = stored is not None and name in stored.values and source == "given"
            if overrides_stored:
                source = f"given, over the {stored.values[name]} stored in the checkpoint"
            if (source != "built-in" and value != BUILT_IN[name]) or overrides_stored:
                sources.append(f"--{name.replace('_', '-')} {value} ({source})")
            return value

        options = cls(
            blank_penalty=float(option("ctc_blank_penalty")),
            blank_penalties=parse_penalties(option("ctc_beam_blank_penalties")),
            ctc_beam=int(option("ctc_beam")),
            length_normalize=bool(option("ctc_beam_length_normalize")),
            nbest=int(getattr(args, "nbest", None) or 1) if args is not None else 1,
            length_beam=int(option("iter_decode_with_beam")),
            max_iter=refinement_passes(task_cfg, args),
            force_max_iter=bool(option("iter_decode_force_max_iter")),
            retain_history=bool(option("retain_iter_history")),
            reranking=bool(option("iter_decode_with_external_reranker")),
            unk_policy=str(option("unk_policy")),
            crf_decode=str(option("crf_decode")),
            crf_decode_beam=int(option("crf_decode_beam")),
            dedup=bool(option("dedup")),
            **generation_sampling(args),
        )
        if sources:
            logger.info("decoding with " + "; ".join(sources))
        return options

    def with_overrides(self, **changes):
        return replace(self, **changes)

    def split_models(self, models):
        """(the parallel models, the autoregressive reranker or None)."""
        autoregressive = [is_autoregressive(m) for m in models]
        if not self.reranking:
            if any(autoregressive):
                raise ValueError(
                    "bnb_seq2seq: an ensemble must be all autoregressive (bert2bert) or all "
                    "non-autoregressive (bnb); got a mix. To rerank BnB's candidates with an "
                    "autoregressive model, give it last (--path bnb.pt:ar.pt) and pass "
                    "--iter-decode-with-external-reranker"
                )
            return list(models), None
        if not any(autoregressive) and has_autoregressive_view(models[-1]):  # self-reranking (JANUS)
            return list(models), autoregressive_view(models[-1])
        if len(models) < 2 or not autoregressive[-1] or sum(autoregressive) != 1:
            raise ValueError(
                "--iter-decode-with-external-reranker needs the BnB model(s) first and one "
                "autoregressive model (bert2bert) last: --path bnb.pt:ar.pt, or a BnB model trained with "
                "--janus alone (it reranks with its own autoregressive view); got "
                + ":".join("autoregressive" if a else "bnb" for a in autoregressive)
            )
        return list(models[:-1]), models[-1]

    def check_models(self, models):
        """Refuse options that the models cannot use; returns (parallel models, reranker, length control)."""
        parallel, reranker = self.split_models(models)
        strangers = [type(m).__name__ for m in parallel if not is_parallel(m)]
        if strangers:
            raise ValueError(
                f"the parallel generator decodes models with a ParallelDecoder; got {', '.join(strangers)}"
            )
        kinds = {m.decoder.length_control for m in parallel}
        if len(kinds) > 1:
            raise ValueError("an ensemble must share its --length-control (all ctc or all classify)")
        if len({m.decoder.ensemble_key() for m in parallel}) > 1:
            raise ValueError(
                "ensemble members differ in their --length-classes or output vocabularies; use models "
                "trained with the same --length-control, --length-classes and --output-vocab on the "
                "same data"
            )
        decoder = parallel[0].decoder
        if decoder.predicts_length:
            # the blank penalty stays: a classify model has the blank among its outputs (bnb_nat --axe)
            if self.blank_penalties:
                raise ValueError(
                    "--ctc-beam-blank-penalties: a CTC beam search option, but the model predicts its length "
                    "with a classifier (--length-control classify); use --iter-decode-with-beam"
                )
            if self.ctc_beam != 1:
                raise ValueError(
                    f"--ctc-beam {self.ctc_beam}: CTC decoding options, but the model predicts its length "
                    "with a classifier (--length-control classify); use --iter-decode-with-beam"
                )
        else:
            if self.length_beam > 1:
                raise ValueError(
                    f"--iter-decode-with-beam {self.length_beam} is a length beam for "
                    "--length-control classify models; this model sets its length by CTC: use "
                    "--ctc-beam instead"
                )
            if self.nbest > self.ctc_candidates and not self.sampling:
                raise ValueError(
                    f"--nbest {self.nbest} needs a CTC beam at least as wide: pass --ctc-beam "
                    f"{self.nbest} or more (greedy CTC decoding gives one hypothesis)"
                )
        if self.max_iter and not decoder.supports_refinement:
            raise ValueError(
                f"--iter-decode-max-iter {self.max_iter}: mask-predict refinement needs a "
                "--length-control classify model without --classify-ctc; a CTC model has no fixed slot for "
                "each output token (blanks and repeats collapse after the argmax), so there is no token to "
                "re-mask in place"
            )
        crf = [m for m in parallel if m.decoder.has_crf]
        if crf and self.crf_decode == "viterbi":
            if len(parallel) > 1:
                raise ValueError(
                    "CRF Viterbi decoding takes one model; for an ensemble pass --crf-decode argmax (the averaged "
                    "slot log-probabilities, the CRFs unused)"
                )
            if self.max_iter:
                raise ValueError(
                    f"--iter-decode-max-iter {self.max_iter} with a CRF model: refinement passes re-predict "
                    "slots one by one, which the CRF does not support in this version; decode by Viterbi "
                    "without refinement, or pass --crf-decode argmax"
                )
            if self.sampling:
                raise ValueError(
                    "--sampling with a CRF model draws each slot from its own distribution: pass --crf-decode "
                    "argmax to say so (sampling from the CRF is not supported in this version)"
                )
        return parallel, reranker, decoder.length_control


def parse_penalties(value):
    """--ctc-beam-blank-penalties "0,1,2" (or a list of numbers from the Python API) -> (0.0, 1.0, 2.0),
    each once, in the order given."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        penalties = [float(x) for x in items]
    except (TypeError, ValueError):
        raise ValueError(
            f"--ctc-beam-blank-penalties {value!r}: give blank penalties as comma-separated numbers, e.g. 0,1,2,3"
        ) from None
    return tuple(dict.fromkeys(penalties))


def generation_sampling(args):
    """fairseq's sampling options (declared by fairseq-generate/-interactive, or keyword arguments of the
    Python API) from a generation config, with fairseq's defaults."""

    def get(name, default):
        value = getattr(args, name, None) if args is not None else None
        return default if value is None else value

    return {
        "sampling": bool(get("sampling", False)),
        "sampling_topk": int(get("sampling_topk", -1)),
        "sampling_topp": float(get("sampling_topp", -1.0)),
        "temperature": float(get("temperature", 1.0)),
    }


def option_value(task_cfg, args, name, stored=None):
    """(value, where it came from) of one decoding option: the generation config (command line, keyword
    arguments of the Python API), else the task config, else the checkpoint's stored defaults, else built in."""
    value = getattr(args, name, None) if args is not None else None
    if value is not None:
        return value, "given"
    value = getattr(task_cfg, name, None) if task_cfg is not None else None
    if value is not None:
        return value, "given"
    if stored is not None and name in stored.values:
        return stored.values[name], f"stored in the checkpoint by {stored.chosen_by}"
    return BUILT_IN[name], "built-in"


@dataclass(frozen=True)
class StoredDecodingDefaults:
    """Decoding settings chosen for a checkpoint (on a held-out split) and saved in it, so that every way of
    decoding it (fairseq-generate/-interactive, the Python API, the tools) uses them unless told otherwise."""

    values: dict
    chosen_by: str = "a tuner"

    KEY = "decoding_defaults"  # in the checkpoint's task state

    def __post_init__(self):
        unknown = sorted(set(self.values) - set(STORABLE_DEFAULTS))
        if unknown:
            raise ValueError(f"decoding defaults {unknown}: only {sorted(STORABLE_DEFAULTS)} can be stored")

    def to_state(self):
        return {"values": dict(self.values), "chosen_by": self.chosen_by}

    @classmethod
    def from_state(cls, state):
        return None if not state else cls(dict(state["values"]), state.get("chosen_by", "a tuner"))

    def save_into(self, checkpoint):
        """Write these defaults into a fairseq checkpoint file (its task state), beside any stored before
        (a value stored again is replaced); the file is replaced whole, never left half-written."""
        import os

        import torch

        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        task_state = dict(state.get("task_state") or {})
        before = StoredDecodingDefaults.from_state(task_state.get(self.KEY))
        merged = StoredDecodingDefaults({**(before.values if before else {}), **self.values}, self.chosen_by)
        task_state[self.KEY] = merged.to_state()
        state["task_state"] = task_state
        partial = checkpoint + ".partial"
        torch.save(state, partial)
        os.replace(partial, checkpoint)
        return merged


def refinement_passes(task_cfg, args):
    """--iter-decode-max-iter. fairseq-generate/-interactive pass this task's default (0); a checkpoint's
    stored generation config (the Python API, the tools) may instead hold fairseq's own default, 10, from
    before this task declared the option: that one is no request, and the task's value (from the
    checkpoint or from_pretrained(..., iter_decode_max_iter=N)) applies."""
    value = getattr(args, "iter_decode_max_iter", None) if args is not None else None
    own = getattr(task_cfg, "iter_decode_max_iter", None) if task_cfg is not None else None
    own = 0 if own is None else int(own)
    if value is None:
        return own
    if value == FAIRSEQ_MAX_ITER and own != value:
        logger.info(
            f"iter_decode_max_iter {value} in the generation config is fairseq's default: using "
            f"the task's {own} (pass iter_decode_max_iter to from_pretrained to change it)"
        )
        return own
    return int(value)
