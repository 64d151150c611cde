"""CTC over the decoder positions + beta x KL(uniform || p), BnB's length-free training loss."""

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion

from bnb_fairseq.models.parallel_decoder import is_parallel
from bnb_fairseq.modules import ctc_aligned_steps, ctc_best_alignment, ctc_best_path_nll
from bnb_fairseq.modules.ctc_label_prior import CtcLabelPrior, CtcLabelPriorConfig, ctc_loss_per_sentence
from bnb_fairseq.modules.glancing import Glancing, GlancingConfig


@dataclass
class BnbCtcConfig(GlancingConfig, CtcLabelPriorConfig):
    kl_weight: float = field(
        default=0.1, metadata={"help": "beta: weight of KL(uniform || p) (the original's 'smoothing'); 0 disables it"}
    )
    ctc_best_path_weight: float = field(
        default=0.0,
        metadata={
            "help": "add this weight x the cross-entropy of each frame's label on the best CTC alignment "
            "(per frame, scaled like the KL term): makes each word's frame certain, so that greedy decoding "
            "drops fewer words; 0: off"
        },
    )
    no_zero_infinity: bool = field(
        default=False,
        metadata={
            "help": "keep the infinite CTC loss of targets that cannot fit their decoder length; by default "
            "it is zeroed (such sentences are counted as 'unfit' in the logs)"
        },
    )


def ctc_and_kl(lprobs, padding_mask, targets, target_lengths, blank, zero_infinity=True, ctc_scores=None):
    """Summed CTC loss and summed per-position KL(uniform || p) over real positions.

    lprobs: (B, T, V) fp32 log-probabilities; targets (B, L) padded; returns also the number
    of sentences whose target is longer than CTC can align (needs T >= L + repeats). ``ctc_scores``:
    the frame scores CTC sums over instead of ``lprobs`` (log-probabilities less a weighted log prior).
    """
    input_lengths = (~padding_mask).sum(1)
    ctc, fits = ctc_loss_per_sentence(
        lprobs, input_lengths, targets, target_lengths, blank, zero_infinity=zero_infinity, scores=ctc_scores
    )
    unfit = (~fits).sum()
    ctc = ctc.sum()
    # KL(u || p) = sum_v u_v (log u_v - log p_v) = -log V - mean_v log p_v
    kl = -math.log(lprobs.size(-1)) - lprobs.mean(-1)
    kl = kl.masked_fill(padding_mask, 0.0).sum()
    return ctc, kl, unfit


def ctc_glance(glancing, decoder, target_slots, target_lengths, glanced, padding_idx):
    """GLAT for CTC frames: the first pass's argmax is compared with the best CTC alignment of the target
    under that pass, and the second pass reads the aligned words at some of the frames (a frame aligned
    to the blank has no word to read). Appends the glanced frames (B, T) to ``glanced``."""

    def choose(first_pass):
        logits, extra = first_pass
        padding_mask = extra["padding_mask"]
        lprobs = F.log_softmax(logits.float(), dim=-1)
        frames = (~padding_mask).sum(1)
        aligned, score = ctc_best_alignment(lprobs, target_slots, frames, target_lengths, decoder.blank_slot)
        fits = torch.isfinite(score)[:, None]  # a target that cannot fit gets no glance
        real = ~padding_mask & fits
        chosen = glancing.choose(logits.argmax(-1), aligned, real, aligned.ne(decoder.blank_slot))
        glanced.append(chosen)
        return decoder.output_tokens(aligned).masked_fill(~chosen, padding_idx)

    return choose


@register_criterion("bnb_ctc", dataclass=BnbCtcConfig)
class BnbCtcCriterion(FairseqCriterion):
    def __init__(self, cfg, task):
        super().__init__(task)
        self.kl_weight = cfg.kl_weight
        self.best_path_weight = cfg.ctc_best_path_weight
        if self.best_path_weight < 0:
            raise ValueError(f"--ctc-best-path-weight {self.best_path_weight}: give a weight >= 0 (0: off)")
        self.zero_infinity = not cfg.no_zero_infinity
        self.glancing = Glancing(cfg)
        self.prior = CtcLabelPrior(cfg)

    def set_num_updates(self, num_updates):
        self.glancing.num_updates = num_updates
        self.prior.num_updates = num_updates

    def glance(self, decoder, target_slots, target_lengths, glanced):
        return ctc_glance(self.glancing, decoder, target_slots, target_lengths, glanced, self.padding_idx)

    def forward(self, model, sample, reduce=True):
        loss, sample_size, logging_output, _ = self.compute(model, sample)
        return loss, sample_size, logging_output

    def compute(self, model, sample, align=False, **model_kwargs):
        """The loss, sample size and logging output, and a dict with the pass's ``net_output``, ``lprobs``
        and, with ``align``, ``aligned_steps`` (B, T): for each frame, the autoregressive step that predicts
        the target token its best CTC alignment gives it (target position - 1), -1 for blank frames, the
        [CLS] and targets that cannot fit (bnb_janus)."""
        if not is_parallel(model):
            raise ValueError(
                f"--criterion bnb_ctc trains parallel decoders (--arch bnb_*); {type(model).__name__} is "
                "not one (train bert2bert with --criterion label_smoothed_cross_entropy)"
            )
        if model.decoder.length_control != "ctc":
            raise ValueError(
                "--criterion bnb_ctc needs --length-control ctc (this model predicts its output "
                "length with a classifier: train it with --criterion bnb_nat)"
            )
        target = sample["target"]
        target_mask = target.ne(self.padding_idx)
        target_lengths = target_mask.sum(1)
        # a trimmed output vocabulary (--output-vocab train) indexes logits by output slot, not by id
        target_slots = model.decoder.output_index(target)
        glanced, glance = [], None
        if model.training and self.glancing.enabled:
            glance = self.glance(model.decoder, target_slots, target_lengths, glanced)
        net_output = model(**sample["net_input"], glance=glance, **model_kwargs)
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        padding_mask = net_output[1]["padding_mask"]
        ctc_scores = self.prior.scores(lprobs, padding_mask, update=model.training, blank=model.decoder.blank_slot)
        ctc, kl, unfit = ctc_and_kl(
            lprobs,
            padding_mask,
            target_slots,
            target_lengths,
            model.decoder.blank_slot,
            self.zero_infinity,
            ctc_scores=ctc_scores,
        )
        n_pos = (~padding_mask).sum()
        # the collater counted the target tokens on the host: no device synchronisation per step
        ntokens = sample["ntokens"] if "ntokens" in sample else int(target_lengths.sum())
        # CTC summed over sentences, KL averaged over each sentence's real positions then summed, so
        # both scale with the batch and the loss is reported per target token like fairseq's others.
        loss = ctc + self.kl_weight * kl * (ntokens / n_pos.clamp(min=1))
        frames = (~padding_mask).sum(1)
        blank = model.decoder.blank_slot
        if align:  # bnb_janus: the best alignment under the model's own log-probabilities
            with torch.no_grad():
                aligned, score, states = ctc_best_alignment(
                    lprobs, target_slots, frames, target_lengths, blank, with_states=True
                )
        best_path = None
        if self.best_path_weight > 0:
            # the same alignment serves when no prior or training penalty changes the scores CTC sums over
            known = (aligned, score) if align and ctc_scores is None else None
            best_path = ctc_best_path_nll(
                lprobs, target_slots, frames, target_lengths, blank, ctc_scores, alignment=known
            ).sum()
            loss = loss + self.best_path_weight * best_path * (ntokens / n_pos.clamp(min=1))
        sample_size = ntokens
        logging_output = {
            "loss": loss.data,
            "ctc_loss": ctc.data,
            "kl": kl.data,
            "ntokens": ntokens,
            "nsentences": target.size(0),
            "sample_size": sample_size,
            "npositions": n_pos.data,
            "unfit": unfit.data,
        }
        if best_path is not None:
            logging_output["best_path"] = best_path.data
        if glanced:
            logging_output["glanced"] = glanced[0].sum().data
        parts = {"net_output": net_output, "lprobs": lprobs}
        if align:
            parts["aligned_steps"] = ctc_aligned_steps(states, score, padding_mask)
        return loss, sample_size, logging_output, parts

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        sample_size = total("sample_size")
        ntokens = total("ntokens")
        npos = total("npositions")
        metrics.log_scalar("loss", total("loss") / max(sample_size, 1) / math.log(2), sample_size, round=3)
        metrics.log_scalar("ctc", total("ctc_loss") / max(ntokens, 1) / math.log(2), ntokens, round=3)
        metrics.log_scalar("kl", total("kl") / max(npos, 1), npos, round=3)
        # sentences whose target is longer than CTC can align at this decoder length
        metrics.log_scalar_sum("unfit", total("unfit"))
        metrics.log_derived("ppl", lambda m: utils.get_perplexity(m["ctc"].avg))
        if any("best_path" in log for log in logging_outputs):  # cross-entropy per frame on the best alignment
            metrics.log_scalar("best_path", total("best_path") / max(npos, 1) / math.log(2), npos, round=3)
        if any("glanced" in log for log in logging_outputs):  # fraction of decoder slots shown their word
            metrics.log_scalar("glanced", total("glanced") / max(npos, 1), npos, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
