"""One-pass parallel decoding for BnB: argmax every decoder position, then collapse (CTC), or a
CTC prefix beam search over the same single pass (``--ctc-beam``). A model with
``--length-control classify`` decodes its k most probable lengths in one batched pass and keeps the
best (``--iter-decode-with-beam k``).

Returns fairseq's hypothesis format, so fairseq-generate/-interactive print H-/D-/P- lines.
"""
import torch
import torch.nn.functional as F

from bnb_fairseq.modules import ctc_collapse, length_candidates
from bnb_fairseq.modules.ctc_beam_search import ctc_prefix_beam_search


class ParallelGenerator:
    def __init__(self, tgt_dict, blank_penalty=0.0, ctc_beam=1, ctc_beam_length_normalize=False, nbest=1,
                 length_beam=1):
        if ctc_beam < 1:
            raise ValueError(f"--ctc-beam {ctc_beam}: must be at least 1")
        if length_beam < 1:
            raise ValueError(f"--iter-decode-with-beam {length_beam}: must be at least 1")
        if nbest > max(ctc_beam, length_beam):
            raise ValueError(f"--nbest {nbest} needs a CTC beam at least as wide: pass --ctc-beam {nbest} or more "
                             "(greedy CTC decoding gives one hypothesis); a --length-control classify model needs "
                             f"--iter-decode-with-beam {nbest} or more")
        self.blank_penalty = blank_penalty
        self.ctc_beam = ctc_beam
        self.length_beam = length_beam
        self.length_normalize = ctc_beam_length_normalize
        self.nbest = nbest
        self.bos = tgt_dict.bos()
        self.eos = tgt_dict.eos()
        self.pad = tgt_dict.pad()
        # fairseq-generate strips these from printed hypotheses and references
        self.symbols_to_strip_from_output = {self.bos, self.eos}

    def _log_probs(self, models, src_tokens, src_lengths):
        """Average the models' log-probabilities (an ensemble must share the length rule)."""
        total, extra = None, None
        for model in models:
            encoder_out = model.encoder(src_tokens, src_lengths=src_lengths)
            net_output = model.decoder(None, encoder_out=encoder_out)
            lprobs = model.get_normalized_probs(net_output, log_probs=True)
            if total is not None and lprobs.shape != total.shape:
                raise ValueError("ensemble members give different output lengths or output vocabularies; use "
                                 "models trained with the same --ctc-ratio/--ctc-min-len/--ctc-max-len and "
                                 "--output-vocab on the same data")
            total = lprobs if total is None else total + lprobs
            extra = net_output[1]
        return total / len(models), extra

    def check_models(self, models):
        """Refuse options that the models' length control cannot use; True for classify models."""
        kinds = {bool(getattr(m.decoder, "classify", False)) for m in models}
        if len(kinds) > 1:
            raise ValueError("an ensemble must share its --length-control (all ctc or all classify)")
        classify = kinds == {True}
        if classify:
            wrong = [f"--{name} {value}" for name, value, default in
                     (("ctc-beam", self.ctc_beam, 1), ("ctc-blank-penalty", self.blank_penalty, 0.0))
                     if value != default]
            if wrong:
                raise ValueError(f"{' and '.join(wrong)}: CTC decoding options, but the model predicts its length "
                                 "with a classifier (--length-control classify); use --iter-decode-with-beam")
            if len({m.decoder.length_classifier.num_classes for m in models}) > 1:
                raise ValueError("ensemble members have different --length-classes")
        else:
            if self.length_beam > 1:
                raise ValueError(f"--iter-decode-with-beam {self.length_beam} is a length beam for "
                                 "--length-control classify models; this model sets its length by CTC: use "
                                 "--ctc-beam instead")
            if self.nbest > self.ctc_beam:
                raise ValueError(f"--nbest {self.nbest} needs a CTC beam at least as wide: pass --ctc-beam "
                                 f"{self.nbest} or more (greedy CTC decoding gives one hypothesis)")
        return classify

    @torch.no_grad()
    def generate(self, models, sample, prefix_tokens=None, constraints=None, **kwargs):
        if prefix_tokens is not None or constraints is not None:
            raise NotImplementedError("prefix tokens and constraints are not supported by parallel decoding")
        for m in models:
            m.eval()
        net_input = sample["net_input"]
        if self.check_models(models):
            return self._length_beam(models, net_input["src_tokens"], net_input.get("src_lengths"))
        lprobs, extra = self._log_probs(models, net_input["src_tokens"], net_input.get("src_lengths"))
        padding_mask = extra["padding_mask"]
        decoder = models[0].decoder
        if self.ctc_beam > 1:
            return self._beam_search(lprobs, padding_mask, decoder)
        if self.blank_penalty:
            # a CTC model that under-generates puts too much mass on the blank: handicap it in the
            # argmax only; the printed scores stay the model's own log-probabilities
            handicapped = lprobs.clone()
            handicapped[..., decoder.blank_slot] -= self.blank_penalty
            slots = handicapped.argmax(-1)
            scores = lprobs.gather(-1, slots.unsqueeze(-1)).squeeze(-1)
        else:
            scores, slots = lprobs.max(-1)
        tokens = decoder.output_tokens(slots)  # output slots -> vocabulary ids (trimmed output vocabulary)
        blank = decoder.blank_idx
        out_tokens, out_scores, lengths = ctc_collapse(tokens, scores, padding_mask, blank,
                                                       drop=(self.bos, self.eos, self.pad))
        # [SEP] closes every hypothesis (fairseq's convention); its score is that of the last real frame
        last = (~padding_mask).sum(1) - 1
        eos_slot = decoder.output_index(torch.tensor([self.eos]))[0]
        eos_scores = lprobs[torch.arange(lprobs.size(0), device=lprobs.device), last, eos_slot]
        eos = out_tokens.new_full((1,), self.eos)
        lengths = lengths.tolist()
        hypos = []
        for b, n in enumerate(lengths):
            toks = torch.cat([out_tokens[b, :n], eos])
            pos_scores = torch.cat([out_scores[b, :n], eos_scores[b : b + 1]])
            hypos.append([{
                "tokens": toks,
                "positional_scores": pos_scores,
                "score": pos_scores.mean(),
                "alignment": None,
                "steps": 0,
            }])
        return hypos

    def _beam_search(self, lprobs, padding_mask, decoder):
        """Prefix beam search; a hypothesis' positional scores are its total log-probability spread evenly
        over its tokens (CTC sums over alignments, so no single token owns a share of it)."""
        search = lprobs
        if self.blank_penalty:
            search = lprobs.clone()
            search[..., decoder.blank_slot] -= self.blank_penalty
        beams = ctc_prefix_beam_search(search, (~padding_mask).sum(1), decoder.blank_slot, self.ctc_beam,
                                       length_normalize=self.length_normalize)
        drop = torch.tensor([self.bos, self.eos, self.pad])
        hypos = []
        for beam in beams:
            nbest, seen = [], set()
            for h in beam:
                toks = decoder.output_tokens(h["tokens"])  # on the CPU
                toks = toks[~torch.isin(toks, drop)]
                key = tuple(toks.tolist())
                if key in seen:  # [CLS] a and a are the same output once the specials are dropped
                    continue
                seen.add(key)
                toks = torch.cat([toks, toks.new_full((1,), self.eos)]).to(lprobs.device)
                pos_scores = torch.full((len(toks),), h["log_prob"] / len(toks), device=lprobs.device)
                nbest.append({"tokens": toks, "positional_scores": pos_scores, "score": pos_scores[0].clone(),
                              "alignment": None, "steps": 0})
                if len(nbest) == self.nbest:
                    break
            hypos.append(nbest)
        return hypos

    def _length_beam(self, models, src_tokens, src_lengths):
        """Decode the k most probable lengths of every sentence in one batched pass (B x k rows), take the
        argmax token of every slot, and rank each sentence's candidates by their mean slot log-probability.

        Candidates are distinct lengths (see length_candidates). A hypothesis' tokens are the slot outputs
        without [CLS]/[PAD]/[SEP], closed by one [SEP]; its positional scores are those tokens'
        log-probabilities and, for the [SEP], the last slot's log-probability of [SEP]; its score is the
        candidate's mean log-probability over all its slots (the ranking score).
        """
        decoder = models[0].decoder
        encoder_outs = [m.encoder(src_tokens, src_lengths=src_lengths) for m in models]
        length_lprobs = sum(F.log_softmax(m.decoder.length_logits(enc), dim=-1, dtype=torch.float32)
                            for m, enc in zip(models, encoder_outs)) / len(models)
        real_src = encoder_outs[0]["src_lengths"][0]
        lengths, _ = length_candidates(length_lprobs, real_src, self.length_beam,
                                       min(m.decoder.max_len for m in models))
        bsz, k = lengths.shape
        order = torch.arange(bsz, device=lengths.device).repeat_interleave(k)
        flat = lengths.reshape(-1)
        lprobs = None
        for m, enc in zip(models, encoder_outs):
            net_output = m.decoder(None, encoder_out=m.encoder.reorder_encoder_out(enc, order), out_lengths=flat)
            lp = m.get_normalized_probs(net_output, log_probs=True)
            if lprobs is not None and lp.shape != lprobs.shape:
                raise ValueError("ensemble members give different output vocabularies; use models trained "
                                 "with the same --output-vocab on the same data")
            lprobs = lp if lprobs is None else lprobs + lp
        lprobs = lprobs / len(models)
        padding_mask = net_output[1]["padding_mask"]
        scores, slots = lprobs.max(-1)
        ranking = scores.masked_fill(padding_mask, 0.0).sum(1) / flat.to(scores.dtype)
        tokens = decoder.output_tokens(slots)
        specials = torch.tensor([self.bos, self.eos, self.pad], device=tokens.device)
        keep = ~padding_mask & ~torch.isin(tokens, specials)
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
        tokens, scores, n_kept = tokens.gather(1, order), scores.gather(1, order), keep.sum(1)
        eos_slot = int(decoder.output_index(torch.tensor([self.eos]))[0])
        eos_scores = lprobs[torch.arange(lprobs.size(0), device=lprobs.device), flat - 1, eos_slot]
        best = ranking.view(bsz, k).argsort(dim=1, descending=True)[:, : self.nbest]
        rows = (best + torch.arange(bsz, device=best.device)[:, None] * k).tolist()
        n_kept = n_kept.tolist()
        eos = tokens.new_full((1,), self.eos)
        hypos = []
        for sentence in rows:
            nbest = []
            for r in sentence:
                n = n_kept[r]
                nbest.append({
                    "tokens": torch.cat([tokens[r, :n], eos]),
                    "positional_scores": torch.cat([scores[r, :n], eos_scores[r : r + 1]]),
                    "score": ranking[r],
                    "alignment": None,
                    "steps": 0,
                })
            hypos.append(nbest)
        return hypos
