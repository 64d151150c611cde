"""Token cross-entropy at known length plus the length classifier's loss, for BnB models with
``--length-control classify``."""
import math
from dataclasses import dataclass, field

import torch.nn.functional as F
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from bnb_fairseq.modules import length_offset_classes


@dataclass
class BnbNatConfig(FairseqDataclass):
    label_smoothing: float = field(default=0.1, metadata={
        "help": "epsilon: each target token's loss is (1 - eps) x NLL + eps x the mean NLL over the output "
                "vocabulary"})
    length_loss_factor: float = field(default=0.1, metadata={
        "help": "weight of the length classifier's cross-entropy (per sentence) against the token "
                "cross-entropy (per token)"})


@register_criterion("bnb_nat", dataclass=BnbNatConfig)
class BnbNatCriterion(FairseqCriterion):
    """Teacher-forced length: the decoder gets exactly as many slots as the target ``[CLS] y [SEP]`` has
    tokens, and slot j is scored against target token j.

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

    def forward(self, model, sample, reduce=True):
        decoder = model.decoder
        if not getattr(decoder, "classify", False):
            raise ValueError("--criterion bnb_nat needs --length-control classify (this model sets its output "
                             "length by CTC: train it with --criterion bnb_ctc)")
        target = sample["target"]
        target_lengths = target.ne(self.padding_idx).sum(1)
        # a target longer than the decoder's positions (only outside the training set, which is
        # filtered) is scored on its first max_len tokens
        out_lengths = target_lengths.clamp(max=decoder.max_len)
        logits, extra = model(**sample["net_input"], out_lengths=out_lengths)
        lprobs = model.get_normalized_probs((logits, extra), log_probs=True)  # (B, T, V) fp32
        target = target[:, : lprobs.size(1)]
        mask = target.ne(self.padding_idx)
        # a trimmed output vocabulary (--output-vocab train) indexes logits by output slot, not by id
        nll = -lprobs.gather(-1, decoder.output_index(target).unsqueeze(-1)).squeeze(-1)
        nll = nll.masked_fill(~mask, 0.0).sum(1)
        smooth = (-lprobs.mean(-1)).masked_fill(~mask, 0.0).sum(1)
        token_loss = (1.0 - self.eps) * nll + self.eps * smooth

        length_logits = extra["length_logits"].float()
        src_lengths = sample["net_input"]["src_tokens"].ne(model.encoder.padding_idx).sum(1)
        gold = length_offset_classes(src_lengths, target_lengths, length_logits.size(1))
        length_loss = F.cross_entropy(length_logits, gold, reduction="none")
        length_correct = (length_logits.argmax(-1) == gold).sum()

        nsentences = target.size(0)
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
        return (loss.sum() if reduce else loss), ntokens, logging_output

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

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
