"""Token cross-entropy at known length plus the length classifier's loss, for BnB models with
``--length-control classify``."""

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion

from bnb_fairseq.criterions.bnb_ctc import ctc_glance
from bnb_fairseq.models.parallel_decoder import is_parallel
from bnb_fairseq.modules import ctc_aligned_steps, ctc_best_alignment, length_offset_classes
from bnb_fairseq.modules.aligned_xent import aligned_cross_entropy, aligned_slot_targets
from bnb_fairseq.modules.ctc_label_prior import CtcLabelPrior, CtcLabelPriorConfig, ctc_loss_per_sentence
from bnb_fairseq.modules.glancing import Glancing, GlancingConfig


@dataclass
class BnbNatConfig(GlancingConfig, CtcLabelPriorConfig):
    label_smoothing: float = field(
        default=0.1,
        metadata={
            "help": "epsilon: each target token's loss is (1 - eps) x NLL + eps x the mean NLL over the output "
            "vocabulary"
        },
    )
    length_loss_factor: float = field(
        default=0.1,
        metadata={
            "help": "weight of the length classifier's cross-entropy (per sentence) against the token "
            "cross-entropy (per token)"
        },
    )
    refinement_training: float = field(
        default=0.0,
        metadata={
            "help": "fraction of sentences trained as a mask-predict refinement pass (CMLM): a uniform 1..T of "
            "their T slots get [MASK], the others the gold token, and only the masked slots are "
            "scored; the rest are trained as the first, word-free pass. Without it, "
            "--iter-decode-max-iter has nothing to read"
        },
    )
    crf_loss_factor: float = field(
        default=1.0,
        metadata={
            "help": "weight of the CRF's negative log-likelihood per sentence (models with --crf-lowrank-approx), "
            "beside the token cross-entropy"
        },
    )
    axe: bool = field(
        default=False,
        metadata={
            "help": "aligned cross-entropy (AXE): score the best monotonic alignment of the target to the slots "
            "instead of slot j against token j; a slot may predict the blank (--ctc-blank, dropped at "
            "decoding) and a token may share the previous token's slot. With a CRF, the CRF scores the "
            "aligned slots"
        },
    )
    axe_skip_target_weight: float = field(
        default=1.0,
        metadata={"help": "AXE: weight of the log-probability of a target token that shares the previous one's slot"},
    )


def label_smoothed_token_loss(lprobs, target_slots, mask, eps):
    """(loss, nll) per position, 0 where ``mask`` is False: (1 - eps) x NLL + eps x the mean NLL over the
    output vocabulary, from (B, T, V) log-probabilities and (B, T) target slots."""
    nll = -lprobs.gather(-1, target_slots.unsqueeze(-1)).squeeze(-1).masked_fill(~mask, 0.0)
    smooth = (-lprobs.mean(-1)).masked_fill(~mask, 0.0)
    return (1.0 - eps) * nll + eps * smooth, nll


@register_criterion("bnb_nat", dataclass=BnbNatConfig)
class BnbNatCriterion(FairseqCriterion):
    """Teacher-forced length: the decoder gets exactly as many slots as the target ``[CLS] y [SEP]`` has
    tokens, and slot j is scored against target token j.

    With ``--axe`` the target is scored along its best monotonic alignment to the slots instead; a
    ``--classify-ctc`` model's ceil(ratio x length) slots are CTC frames, scored by the CTC loss.

    Normalisation: the returned loss is the sum over target tokens of the label-smoothed token loss
    plus ``length_loss_factor x (ntokens / nsentences) x`` the sum over sentences of the length
    cross-entropy, with sample_size = ntokens. Divided by sample_size (as fairseq does) that is the mean
    token loss plus length_loss_factor x the mean length loss per sentence, whatever the batch shape.
    With ``reduce=False`` the loss is that sum split per sentence, (B,).
    """

    def __init__(self, cfg, task):
        super().__init__(task)
        self.eps = cfg.label_smoothing
        self.length_loss_factor = cfg.length_loss_factor
        self.refinement_training = cfg.refinement_training
        if not 0.0 <= self.refinement_training <= 1.0:
            raise ValueError(f"--refinement-training {self.refinement_training}: give a fraction in [0, 1]")
        self.mask_idx = task.target_dictionary.mask() if hasattr(task.target_dictionary, "mask") else None
        if self.refinement_training and self.mask_idx is None:
            raise ValueError("--refinement-training needs a target dictionary with a [MASK] token (a BERT vocabulary)")
        self.crf_loss_factor = cfg.crf_loss_factor
        self.prior = CtcLabelPrior(cfg)  # --classify-ctc slots only
        self.glancing = Glancing(cfg)
        if self.glancing.enabled and self.refinement_training:
            raise ValueError(
                "--glat-ratio and --refinement-training: choose one (a glancing model reads words at its slots "
                "already, so mask-predict refinement can use it)"
            )
        self.axe, self.axe_skip_target_weight = cfg.axe, cfg.axe_skip_target_weight
        if self.axe and self.refinement_training:
            raise ValueError(
                "--axe with --refinement-training is not supported in this version: refinement gives the decoder "
                "gold words at their own slots, which an aligned loss may move; drop one of them"
            )

    def set_num_updates(self, num_updates):
        self.glancing.num_updates = num_updates
        self.prior.num_updates = num_updates

    def forward(self, model, sample, reduce=True):
        loss, sample_size, logging_output, _ = self.compute(model, sample, reduce)
        return loss, sample_size, logging_output

    def compute(self, model, sample, reduce=True, align=False, **model_kwargs):
        """The loss, sample size and logging output, and a dict with the pass's ``net_output``, ``lprobs``
        and, with ``align``, ``aligned_steps`` (B, T): slot j holds target token j, which the autoregressive
        step j - 1 predicts; -1 at slot 0 ([CLS]), padding and the slots the token loss does not score
        (glanced, given in a refinement pass) (bnb_janus)."""
        decoder = model.decoder
        if not is_parallel(model):
            raise ValueError(
                f"--criterion bnb_nat trains parallel decoders (--arch bnb_*); {type(model).__name__} is "
                "not one (train bert2bert with --criterion label_smoothed_cross_entropy)"
            )
        if not decoder.predicts_length:
            raise ValueError(
                "--criterion bnb_nat needs --length-control classify (this model sets its output "
                "length by CTC: train it with --criterion bnb_ctc)"
            )
        ctc_slots = decoder.merges_repeats  # --classify-ctc: the slots are CTC frames
        if self.prior.enabled and not ctc_slots:
            raise ValueError(
                "--ctc-prior-weight and --ctc-train-blank-penalty train CTC frames: they need a --classify-ctc "
                "model (or --length-control ctc with --criterion bnb_ctc)"
            )
        if ctc_slots and (self.axe or self.refinement_training):
            raise ValueError(
                f"{'--axe' if self.axe else '--refinement-training'} with a --classify-ctc model: its slots are "
                "trained with CTC, which already aligns the target to them (and has no fixed slot per token to "
                "re-mask); drop the option"
            )
        target = sample["target"]
        target_lengths = target.ne(self.padding_idx).sum(1)
        # a target longer than the decoder's positions (only outside the training set, which is
        # filtered) is scored on its first max_len tokens
        out_lengths = target_lengths.clamp(max=decoder.max_output_len)
        slot_lengths = out_lengths
        if decoder.length_slot_ratio != 1.0:
            if not (self.axe or ctc_slots):
                raise ValueError(
                    f"--length-slot-ratio {decoder.length_slot_ratio:g}: more slots than target tokens need an "
                    "aligned loss to place the target among them; train with bnb_nat --axe (or build the model "
                    "with --classify-ctc)"
                )
            slot_lengths = decoder.slots_for_lengths(out_lengths)
        target = target[:, : int(out_lengths.max())] if decoder.max_output_len < target.size(1) else target
        mask = target.ne(self.padding_idx)
        real = mask
        prev_tokens, glanced = None, []
        if model.training and self.refinement_training > 0:
            prev_tokens, mask = self.refinement_inputs(target, mask, out_lengths)
        # a trimmed output vocabulary (--output-vocab train) indexes logits by output slot, not by id
        target_slots = decoder.output_index(target)
        glance = None
        if model.training and self.glancing.enabled and ctc_slots:
            glance = ctc_glance(self.glancing, decoder, target_slots, out_lengths, glanced, self.padding_idx)
        elif model.training and self.glancing.enabled:

            def glance(first_pass):
                logits, _ = first_pass
                if not self.axe:
                    chosen = self.glancing.choose(logits.argmax(-1), target_slots, real)
                    glanced.append(chosen)
                    return target.masked_fill(~chosen, self.padding_idx)
                # AXE: the words of the first pass's best alignment, at their aligned slots (as bnb_ctc glances
                # along its Viterbi alignment); skipped slots have no word to read
                lp = model.get_normalized_probs(first_pass, log_probs=True)
                aligned, _, _ = aligned_slot_targets(
                    lp, target_slots, out_lengths, slot_lengths, decoder.blank_slot, self.axe_skip_target_weight
                )
                chosen = self.glancing.choose(
                    logits.argmax(-1),
                    aligned,
                    ~first_pass[1]["padding_mask"],
                    can_glance=aligned.ne(decoder.blank_slot),
                )
                glanced.append(chosen)
                return decoder.output_tokens(aligned).masked_fill(~chosen, self.padding_idx)

        logits, extra = model(
            **sample["net_input"], out_lengths=slot_lengths, prev_tokens=prev_tokens, glance=glance, **model_kwargs
        )
        if glanced and not (self.axe or ctc_slots):  # glanced slots are given: the token loss scores the others (GLAT)
            mask = real & ~glanced[0]
        lprobs = model.get_normalized_probs((logits, extra), log_probs=True)  # (B, T, V) fp32
        slot_of, slot_mask, fits, ctc_path = None, real, None, None
        if ctc_slots or self.axe:  # every slot is scored: a target token aligned to it, or the blank
            slot_mask = ~extra["padding_mask"]
            if ctc_slots:  # CTC over the slots
                nll, fits = ctc_loss_per_sentence(  # fits: whether a target has an alignment to its slots
                    lprobs,
                    slot_lengths,
                    target_slots,
                    out_lengths,
                    decoder.blank_slot,
                    scores=self.prior.scores(
                        lprobs, extra["padding_mask"], update=model.training, blank=decoder.blank_slot
                    ),
                )
                if decoder.has_crf or align:  # one best alignment, for the CRF and for JANUS's aligned steps
                    with torch.no_grad():
                        aligned, score, ctc_path = ctc_best_alignment(
                            lprobs, target_slots, slot_lengths, out_lengths, decoder.blank_slot, with_states=True
                        )
                    target_slots = aligned  # the CRF scores it, blanks and repeats included
            else:
                nll, target_slots, slot_of = aligned_cross_entropy(
                    lprobs, target_slots, out_lengths, slot_lengths, decoder.blank_slot, self.axe_skip_target_weight
                )
            smooth = (-lprobs.mean(-1)).masked_fill(~slot_mask, 0.0).sum(1)
            token_loss = (1.0 - self.eps) * nll + self.eps * smooth
        else:
            token_loss, nll = label_smoothed_token_loss(lprobs, target_slots, mask, self.eps)
            token_loss, nll = token_loss.sum(1), nll.sum(1)
        crf_nll = None
        if decoder.has_crf:  # the whole sentence: the CRF scores the glanced slots' neighbours too
            # CTC frames: the CRF learns its transitions along the best alignment, but the frames learn from
            # CTC alone; trained through the CRF too, they collapse onto the blank (as AXE does with spare slots)
            emissions = lprobs.detach() if ctc_slots else lprobs
            crf_nll = -decoder.crf_log_likelihood(emissions, target_slots.masked_fill(~slot_mask, 0), slot_mask)
            if ctc_slots:  # a target that cannot fit its frames has no alignment to score
                crf_nll = crf_nll.masked_fill(~fits, 0.0)
            token_loss = token_loss + self.crf_loss_factor * crf_nll

        length_logits = extra["length_logits"].float()
        src_lengths = sample["net_input"]["src_tokens"].ne(model.encoder.padding_idx).sum(1)
        gold = length_offset_classes(src_lengths, target_lengths, length_logits.size(1))
        length_loss = F.cross_entropy(length_logits, gold, reduction="none")
        length_correct = (length_logits.argmax(-1) == gold).sum()

        nsentences = target.size(0)
        if prev_tokens is not None or (glanced and not (self.axe or ctc_slots)):
            ntokens = int(mask.sum())  # the scored slots (AXE scores the whole target along its alignment)
        else:
            # the collater counted the target tokens on the host: no device synchronisation per step
            ntokens = sample["ntokens"] if "ntokens" in sample else int(target_lengths.sum())
        loss = token_loss + self.length_loss_factor * length_loss * (ntokens / max(nsentences, 1))
        logging_output = {
            "loss": loss.sum().data,
            "nll_loss": nll.sum().data,
            "length": length_loss.sum().data,  # length cross-entropy, nats
            "length_correct": length_correct.data,
            "ntokens": ntokens,
            "nsentences": nsentences,
            "sample_size": ntokens,
        }
        if crf_nll is not None:
            logging_output["crf"] = crf_nll.sum().data
            logging_output["target_tokens"] = int(real.sum())
        if glanced:
            logging_output["glanced"] = glanced[0].sum().data
            logging_output["target_tokens"] = int(real.sum())
        parts = {"net_output": (logits, extra), "lprobs": lprobs}
        if align and ctc_slots:
            parts["aligned_steps"] = ctc_aligned_steps(ctc_path, score, extra["padding_mask"])
        elif align and slot_of is not None:  # AXE: a token's slot, unless it shares the previous token's
            steps = target.new_full(slot_mask.shape, -1)
            token = torch.arange(target.size(1), device=target.device)[None].expand_as(target)
            own = mask & (token >= 1) & slot_of.ne(F.pad(slot_of[:, :-1], (1, 0), value=-1))
            # slot 0 holds [CLS], never a token of its own but token 0: the others are parked there as -1
            steps.scatter_(1, torch.where(own, slot_of, 0), torch.where(own, token - 1, -1))
            parts["aligned_steps"] = steps
        elif align:
            slot = torch.arange(mask.size(1), device=mask.device)
            parts["aligned_steps"] = torch.where(mask & (slot >= 1)[None], slot[None] - 1, torch.full_like(target, -1))
        return (loss.sum() if reduce else loss), ntokens, logging_output, parts

    def refinement_inputs(self, target, real, lengths):
        """Decoder word inputs and the slots to score: a refinement sentence gets n ~ U{1..T} of its T
        slots as [MASK] (scored) and the rest as gold (not scored); a first-pass sentence gets [PAD]
        everywhere (no word input) and all its slots scored."""
        refine = torch.rand(target.size(0), device=target.device) < self.refinement_training
        n_masked = (torch.rand(target.size(0), device=target.device) * lengths).long() + 1
        # a random order of the real slots: rank < n_masked picks n_masked of them
        noise = torch.rand(target.shape, device=target.device).masked_fill(~real, 2.0)
        rank = noise.argsort(1).argsort(1)
        masked = (rank < n_masked[:, None]) & real & refine[:, None]
        prev_tokens = torch.where(masked, torch.full_like(target, self.mask_idx), target)
        prev_tokens = prev_tokens.masked_fill(~refine[:, None] | ~real, self.padding_idx)
        scored = torch.where(refine[:, None], masked, real)
        return prev_tokens, scored

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        sample_size = total("sample_size")
        ntokens = total("ntokens")
        nsentences = total("nsentences")
        # in bits, as fairseq's other criteria
        metrics.log_scalar("loss", total("loss") / max(sample_size, 1) / math.log(2), sample_size, round=3)
        metrics.log_scalar("nll_loss", total("nll_loss") / max(ntokens, 1) / math.log(2), ntokens, round=3)
        metrics.log_scalar("length", total("length") / max(nsentences, 1) / math.log(2), nsentences, round=3)
        metrics.log_scalar("length_acc", total("length_correct") / max(nsentences, 1), nsentences, round=3)
        metrics.log_derived("ppl", lambda m: utils.get_perplexity(m["nll_loss"].avg))
        target_tokens = total("target_tokens")
        if any("crf" in log for log in logging_outputs):  # CRF negative log-likelihood per target token, bits
            metrics.log_scalar("crf", total("crf") / max(target_tokens, 1) / math.log(2), target_tokens, round=3)
        if any("glanced" in log for log in logging_outputs):  # fraction of target slots shown to the decoder
            metrics.log_scalar("glanced", total("glanced") / max(target_tokens, 1), target_tokens, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
