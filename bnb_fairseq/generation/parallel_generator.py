"""Parallel decoding for BnB: argmax every decoder position, then collapse (CTC), or a CTC prefix beam
search over the same single pass (``--ctc-beam``). A model with ``--length-control classify`` decodes
its k most probable lengths in one batched pass and keeps the best (``--iter-decode-with-beam k``),
optionally refined by mask-predict (``--iter-decode-max-iter N``). An autoregressive model given last
(``--iter-decode-with-external-reranker``) rescores every candidate by teacher forcing.

Returns fairseq's hypothesis format, so fairseq-generate/-interactive print H-/D-/P- (and E-) lines.
"""

import contextlib

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from bnb_fairseq.generation.decoding import DecodingOptions
from bnb_fairseq.generation.sampling import sample_slots
from bnb_fairseq.models.parallel_decoder import is_autoregressive  # noqa: F401  (importable here)
from bnb_fairseq.modules import ctc_collapse
from bnb_fairseq.modules.ctc_beam_search import ctc_prefix_beam_search
from bnb_fairseq.modules.slot_argmax import slot_argmax, slot_max


def masked_count(lengths, step, max_iter):
    """Slots re-masked at refinement pass ``step`` (1..N) of N: floor(T (N - step + 1) / (N + 1)),
    mask-predict's linear schedule over N + 1 passes, whose pass 0 (all [MASK] there) reads no words here."""
    return (lengths * (max_iter - step + 1)).div(max_iter + 1, rounding_mode="floor").clamp(min=0)


def blank_handicapped(lprobs, blank_slot, penalty):
    """``lprobs`` with ``penalty`` (a number, or a tensor of one per row) subtracted from the blank's
    log-probability at every slot, in a copy; ``lprobs`` itself when the penalty is 0."""
    if not torch.is_tensor(penalty) and not penalty:
        return lprobs
    out = lprobs.clone()
    out[..., blank_slot] -= penalty[:, None] if torch.is_tensor(penalty) else penalty
    return out


class ParallelGenerator:
    """Decodes models with a ParallelDecoder (models/parallel_decoder.py) through its declared methods only.

    ``options``: the resolved DecodingOptions (generation/decoding.py), which the task builds from its
    config and the generation config; keyword arguments build them directly (tests, scripts).
    ``models``, when given, are checked against the options now, so that a wrong option fails before
    any batch; other models are checked once, at their first batch."""

    def __init__(self, tgt_dict, options=None, models=None, **option_values):
        if options is None:
            options = DecodingOptions(**option_values)
        elif option_values:
            options = options.with_overrides(**option_values)
        self.options = options
        self.bos = tgt_dict.bos()
        self.eos = tgt_dict.eos()
        self.pad = tgt_dict.pad()
        self.tgt_dict = tgt_dict
        # ids no hypothesis prints: the specials, and [UNK] unless --unk-policy keep
        self.unprinted = (self.bos, self.eos, self.pad) + ((tgt_dict.unk(),) if options.unk_policy != "keep" else ())
        self._source_to_target = None
        self.mask = None
        if options.max_iter:
            if not hasattr(tgt_dict, "mask"):
                raise ValueError("--iter-decode-max-iter: refinement needs a [MASK] token in the target dictionary")
            self.mask = tgt_dict.mask()
        # fairseq-generate strips these from printed hypotheses and references
        self.symbols_to_strip_from_output = {self.bos, self.eos}
        self._checked = None
        if models is not None:
            self.check_models(models)

    def __getattr__(self, name):
        # the options read as the generator's attributes (generator.ctc_beam, generator.nbest ...)
        options = self.__dict__.get("options")
        if options is not None and name in DecodingOptions.__dataclass_fields__:
            return getattr(options, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in DecodingOptions.__dataclass_fields__:
            raise AttributeError(
                f"{name} is a decoding option: build the generator with it (task.build_generator "
                "with the option in its generation config, or ParallelGenerator(..., "
                f"{name}=...)) so that it is checked against the models"
            )
        super().__setattr__(name, value)

    def check_models(self, models):
        """(parallel models, reranker, length control), checked once per set of models."""
        key = tuple(id(m) for m in models)
        if self._checked is None or self._checked[0] != key:
            self._checked = (key, self.options.check_models(models))
        return self._checked[1]

    def _log_probs(self, models, src_tokens, src_lengths):
        """Average the models' log-probabilities (an ensemble must share the length rule); also the models'
        encoder outputs."""
        total, extra, encoder_outs = None, None, []
        for model in models:
            encoder_out = model.encoder(src_tokens, src_lengths=src_lengths)
            encoder_outs.append(encoder_out)
            net_output = model.decoder(None, encoder_out=encoder_out)
            lprobs = model.get_normalized_probs(net_output, log_probs=True)
            if total is not None and lprobs.shape != total.shape:
                raise ValueError(
                    "ensemble members give different output lengths or output vocabularies; use "
                    "models trained with the same --ctc-ratio/--ctc-min-len/--ctc-max-len and "
                    "--output-vocab on the same data"
                )
            total = lprobs if total is None else total + lprobs
            extra = net_output[1]
        # (one model: no division, which copies all the log-probabilities: 0.065 ms for 40 x 4,548 on one thread)
        return (total / len(models) if len(models) > 1 else total), extra, encoder_outs

    @torch.no_grad()
    def generate(self, models, sample, prefix_tokens=None, constraints=None, **kwargs):
        if prefix_tokens is not None or constraints is not None:
            raise NotImplementedError("prefix tokens and constraints are not supported by parallel decoding")
        for m in models:
            if m.training:  # (eval() walks every module: half a millisecond at batch 1)
                m.eval()
        models, reranker, _ = self.check_models(models)
        with contextlib.ExitStack() as scope:
            for m in models:
                scope.enter_context(m.decoder.generation_context())
            return self._generate(models, reranker, sample)

    def _generate(self, models, reranker, sample):
        """``models``: the parallel models (``check_models``), ``reranker`` the model that rescores them."""
        net_input = sample["net_input"]
        src_tokens, src_lengths = net_input["src_tokens"], net_input.get("src_lengths")
        keep = None if reranker is not None else self.options.nbest  # the reranker sees every candidate
        if models[0].decoder.predicts_length:
            hypos, encoder_outs = self._length_beam(models, src_tokens, src_lengths, keep)
        else:
            lprobs, extra, encoder_outs = self._log_probs(models, src_tokens, src_lengths)
            if self.options.ctc_candidates > 1:  # a beam, or one best output per pooled blank penalty
                hypos = self._beam_search(lprobs, extra["padding_mask"], models[0].decoder, keep)
            elif self.options.sampling:
                hypos = self._sample_ctc(lprobs, extra["padding_mask"], models[0], src_tokens, keep)
            else:
                hypos = self._greedy(lprobs, extra["padding_mask"], models[0], src_tokens)
        if self.options.dedup:
            hypos = [[self._dedup(h) for h in nbest] for nbest in hypos]
        if self.options.retain_history:  # one pass: its history is itself (refinement records its passes)
            for h in (h for nbest in hypos for h in nbest if "history" not in h):
                h["history"] = [{key: h[key] for key in ("tokens", "positional_scores", "score", "alignment")}]
        if reranker is not None:
            # a JANUS model's own AR view shares its encoder: its output is not computed twice
            shared = next((enc for m, enc in zip(models, encoder_outs) if m.encoder is reranker.encoder), None)
            hypos = self._rerank(reranker, src_tokens, src_lengths, hypos, shared)
        return hypos

    def _hypothesis(self, tokens, scores, eos_score, score=None, steps=0):
        """fairseq's hypothesis dict; ``tokens`` without specials, closed here by [SEP] scored ``eos_score``."""
        pos_scores = torch.cat([scores, eos_score.reshape(1).to(scores)])
        return {
            "tokens": torch.cat([tokens, tokens.new_full((1,), self.eos)]),
            "positional_scores": pos_scores,
            "score": pos_scores.mean() if score is None else score,
            "alignment": None,
            "steps": steps,
        }

    @staticmethod
    def _dedup(hypo):
        """--dedup: the hypothesis with each run of equal tokens merged into its first (and that one's score)."""
        tokens = hypo["tokens"]
        keep = torch.ones_like(tokens, dtype=torch.bool)
        keep[1:] = tokens[1:].ne(tokens[:-1])
        if bool(keep.all()):
            return hypo
        return dict(hypo, tokens=tokens[keep], positional_scores=hypo["positional_scores"][keep])

    def _copy_source(self, tokens, padding_mask, model, src_tokens):
        """--unk-policy copy-source on (rows, T) slot outputs: an [UNK] slot takes the source piece it reads
        (the decoder's source_alignment) when the target vocabulary has that piece."""
        unk_slots = tokens.eq(self.tgt_dict.unk()) & ~padding_mask
        if self.options.unk_policy != "copy-source" or not unk_slots.any():
            return tokens
        src_dict = model.encoder.dictionary
        if self._source_to_target is None or self._source_to_target.device != tokens.device:
            table = [self.tgt_dict.indices.get(symbol, self.tgt_dict.unk()) for symbol in src_dict.symbols]
            self._source_to_target = torch.tensor(table, dtype=torch.long, device=tokens.device)
        src_lengths = src_tokens.ne(src_dict.pad()).sum(1)
        aligned = model.decoder.source_alignment(src_lengths, (~padding_mask).sum(1))
        copied = self._source_to_target[src_tokens.gather(1, aligned)]
        return torch.where(unk_slots, copied, tokens)

    @property
    def draws(self):
        """Samples drawn per sentence (per length candidate) with --sampling: one for one hypothesis,
        else twice --nbest, of which the --nbest best distinct ones are kept."""
        return 1 if self.options.nbest == 1 and not self.options.reranking else 2 * max(self.options.nbest, 2)

    def _draw(self, lprobs):
        o = self.options
        slots = sample_slots(lprobs, o.temperature, o.sampling_topk, o.sampling_topp)
        return lprobs.gather(-1, slots.unsqueeze(-1)).squeeze(-1), slots

    @staticmethod
    def _distinct(candidates, keep):
        """The ``keep`` best (None: all) of one sentence's candidates by score, each output once."""
        out, seen = [], set()
        for h in sorted(candidates, key=lambda h: -float(h["score"])):
            key = tuple(h["tokens"].tolist())
            if key not in seen:
                seen.add(key)
                out.append(h)
            if len(out) == keep:
                break
        return out

    def _sample_ctc(self, lprobs, padding_mask, model, src_tokens, keep):
        """--sampling for a CTC model: each frame drawn from its distribution (the blank handicapped by
        --ctc-blank-penalty), then collapsed; ``draws`` per sentence, distinct outputs kept."""
        n = self.draws
        lprobs, padding_mask = lprobs.repeat_interleave(n, 0), padding_mask.repeat_interleave(n, 0)
        _, slots = self._draw(blank_handicapped(lprobs, model.decoder.blank_slot, self.options.blank_penalty))
        flat = self._greedy(lprobs, padding_mask, model, src_tokens.repeat_interleave(n, 0), slots=slots)
        return [self._distinct([h for (h,) in flat[b * n : (b + 1) * n]], keep) for b in range(len(flat) // n)]

    def _greedy(self, lprobs, padding_mask, model, src_tokens, slots=None):
        """Argmax (or the given ``slots``) of every frame, collapsed."""
        decoder = model.decoder
        if slots is None:
            # a CTC model that under-generates puts too much mass on the blank: handicap it in the
            # argmax only (no copy at penalty 0); the printed scores stay the model's own log-probabilities
            slots = slot_argmax(blank_handicapped(lprobs, decoder.blank_slot, self.options.blank_penalty))
        scores = lprobs.gather(-1, slots.unsqueeze(-1)).squeeze(-1)
        tokens = decoder.output_tokens(slots)  # output slots -> vocabulary ids (trimmed output vocabulary)
        tokens = self._copy_source(tokens, padding_mask, model, src_tokens)
        out_tokens, out_scores, lengths = ctc_collapse(
            tokens, scores, padding_mask, decoder.blank_idx, drop=self.unprinted
        )
        # [SEP] closes every hypothesis (fairseq's convention); its score is that of the last real frame
        last = (~padding_mask).sum(1) - 1
        eos_slot = decoder.output_index(torch.tensor([self.eos]))[0]
        eos_scores = lprobs[torch.arange(lprobs.size(0), device=lprobs.device), last, eos_slot]
        return [
            [self._hypothesis(out_tokens[b, :n], out_scores[b, :n], eos_scores[b])]
            for b, n in enumerate(lengths.tolist())
        ]

    def _beam_search(self, lprobs, padding_mask, decoder, keep):
        """Prefix beam search; a hypothesis' positional scores are its total log-probability spread evenly
        over its tokens (CTC sums over alignments, so no single token owns a share of it). ``keep``: how
        many distinct outputs to return per sentence (None: all). With --ctc-beam-blank-penalties, one
        search per penalty (all in one batch, rows sentence-major), each sentence's outputs pooled."""
        penalties = self.options.blank_penalties or (self.options.blank_penalty,)
        search, lengths = lprobs, (~padding_mask).sum(1)
        if len(penalties) > 1:
            search, lengths = lprobs.repeat_interleave(len(penalties), 0), lengths.repeat_interleave(len(penalties))
            penalty = torch.tensor(penalties, dtype=search.dtype, device=search.device).repeat(len(lprobs))
            search = blank_handicapped(search, decoder.blank_slot, penalty)
        else:
            search = blank_handicapped(search, decoder.blank_slot, penalties[0])
        beams = ctc_prefix_beam_search(
            search, lengths, decoder.blank_slot, self.options.ctc_beam, length_normalize=self.options.length_normalize
        )
        drop = torch.tensor(self.unprinted)
        hypos = []
        for b in range(len(lprobs)):
            nbest, seen = [], set()
            for h in (h for beam in beams[b * len(penalties) : (b + 1) * len(penalties)] for h in beam):
                toks = decoder.output_tokens(h["tokens"])  # on the CPU
                toks = toks[~torch.isin(toks, drop)]
                key = tuple(toks.tolist())
                if key in seen:  # [CLS] a and a are the same output once the specials are dropped
                    continue
                seen.add(key)
                share = torch.full((len(toks) + 1,), h["log_prob"] / (len(toks) + 1), device=lprobs.device)
                nbest.append(self._hypothesis(toks.to(lprobs.device), share[:-1], share[-1], score=share[0].clone()))
                if len(nbest) == keep:
                    break
            hypos.append(nbest)
        return hypos

    def _slot_log_probs(self, models, encoder_outs, lengths, prev_tokens=None):
        """Averaged (rows, T, V) log-probabilities of the models' slots (a refinement pass when
        ``prev_tokens`` is given), and the padding mask."""
        lprobs = None
        for m, enc in zip(models, encoder_outs):
            if prev_tokens is None:
                net_output = m.decoder(None, encoder_out=enc, out_lengths=lengths)
            else:
                net_output = m.decoder.refine(enc, lengths, prev_tokens)
            lp = m.get_normalized_probs(net_output, log_probs=True)
            if lprobs is not None and lp.shape != lprobs.shape:
                raise ValueError(
                    "ensemble members give different output vocabularies; use models trained "
                    "with the same --output-vocab on the same data"
                )
            lprobs = lp if lprobs is None else lprobs + lp
        return lprobs / len(models), net_output[1]["padding_mask"]

    def _length_beam(self, models, src_tokens, src_lengths, keep):
        """Decode the k most probable lengths of every sentence in one batched pass (B x k rows), take the
        argmax token of every slot (the CRF's Viterbi path for a CRF model; a draw with --sampling, ``draws``
        rows per length), refine (``--iter-decode-max-iter``), and rank each sentence's candidates by their
        mean slot log-probability (a CRF model: the path's CRF log-likelihood per slot); return the ``keep``
        best (None: all), distinct ones when sampling.

        Candidates are distinct lengths (see length_candidates). A hypothesis' tokens are the slot outputs
        without [CLS]/[PAD]/[SEP], closed by one [SEP]; its positional scores are those tokens'
        log-probabilities and, for the [SEP], the last slot's log-probability of [SEP]; its score is the
        candidate's mean log-probability over all its slots (the ranking score).
        """
        decoder = models[0].decoder
        encoder_outs = first_outs = [m.encoder(src_tokens, src_lengths=src_lengths) for m in models]
        length_lprobs = sum(
            F.log_softmax(m.decoder.length_logits(enc), dim=-1, dtype=torch.float32)
            for m, enc in zip(models, encoder_outs)
        ) / len(models)
        real_src = encoder_outs[0]["src_lengths"][0]
        shortest = min(models, key=lambda m: m.decoder.max_output_len).decoder  # every member takes its lengths
        lengths, _ = shortest.length_candidates(length_lprobs, real_src, self.options.length_beam)
        if self.options.sampling:
            lengths = lengths.repeat_interleave(self.draws, 1)
        bsz, k = lengths.shape
        order = torch.arange(bsz, device=lengths.device).repeat_interleave(k)
        flat = lengths.reshape(-1)
        encoder_outs = [m.encoder.reorder_encoder_out(enc, order) for m, enc in zip(models, encoder_outs)]
        lprobs, padding_mask = self._slot_log_probs(models, encoder_outs, flat)
        # a model trained with blanks at skipped slots (bnb_nat --axe) has a blank to handicap
        search = blank_handicapped(lprobs, decoder.blank_slot, self.options.blank_penalty)
        crf_log_likelihood = None
        if decoder.has_crf and self.options.crf_decode == "viterbi":
            slots, path_score, log_z = decoder.crf_viterbi(search, ~padding_mask, self.options.crf_decode_beam or None)
            crf_log_likelihood = path_score - log_z
        elif self.options.sampling:
            _, slots = self._draw(search)
        else:
            slots = slot_argmax(search)
        scores = lprobs.gather(-1, slots.unsqueeze(-1)).squeeze(-1)
        tokens = decoder.output_tokens(slots).masked_fill(padding_mask, self.pad)
        eos_slot = int(decoder.output_index(torch.tensor([self.eos]))[0])
        rows = torch.arange(len(flat), device=flat.device)
        eos_scores = lprobs[rows, flat - 1, eos_slot]
        steps = torch.zeros_like(flat)
        passes = [(tokens.clone(), scores.clone(), eos_scores.clone())] if self.options.retain_history else None
        if self.options.max_iter:
            steps = self._refine(models, encoder_outs, flat, tokens, scores, eos_scores, padding_mask, eos_slot, passes)
        if decoder.merges_repeats:  # CTC frames (--classify-ctc): a repeat of the slot before adds no token
            tokens = tokens.masked_fill(tokens.eq(F.pad(tokens[:, :-1], (1, 0), value=-1)), self.pad)
        tokens = tokens.masked_fill(tokens.eq(decoder.blank_idx), self.pad)  # blank slots (and a [MASK] blank)
        ranking = scores.masked_fill(padding_mask, 0.0).sum(1) if crf_log_likelihood is None else crf_log_likelihood
        ranking = ranking / flat.to(ranking.dtype)
        best = ranking.view(bsz, k).argsort(dim=1, descending=True)[:, : None if self.options.sampling else keep]
        chosen = (best + torch.arange(bsz, device=best.device)[:, None] * k).tolist()
        steps = steps.tolist()
        tokens = self._copy_source(tokens, padding_mask, models[0], src_tokens.index_select(0, order))
        toks, scs, n = self._real_tokens_first(tokens, scores, flat)
        history = [self._real_tokens_first(*p[:2], flat) + (p[2],) for p in passes] if passes is not None else None
        hypos = []
        for sentence in chosen:
            nbest = []
            for r in sentence:
                hypo = self._hypothesis(
                    toks[r, : n[r]], scs[r, : n[r]], eos_scores[r], score=ranking[r], steps=steps[r]
                )
                if history is not None:  # the candidate after each pass it took part in
                    hypo["history"] = [
                        self._hypothesis(pass_toks[r, : pass_n[r]], pass_scs[r, : pass_n[r]], eos[r])
                        for pass_toks, pass_scs, pass_n, eos in history[: steps[r] + 1]
                    ]
                nbest.append(hypo)
            hypos.append(self._distinct(nbest, keep) if self.options.sampling else nbest)
        return hypos, first_outs

    def _real_tokens_first(self, tokens, scores, lengths):
        """Each row's tokens other than the unprinted ones ([CLS]/[SEP]/[PAD], [UNK] but with --unk-policy
        keep) among its first ``lengths`` slots moved to its
        front in order, with their scores, and their counts (a list: one device sync for all rows)."""
        specials = torch.tensor(self.unprinted, device=tokens.device)
        slots = torch.arange(tokens.size(1), device=tokens.device)
        keep = (slots < lengths[:, None]) & ~torch.isin(tokens, specials)
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
        return tokens.gather(1, order), scores.gather(1, order), keep.sum(1).tolist()

    def _refine(self, models, encoder_outs, lengths, tokens, scores, eos_scores, padding_mask, eos_slot, passes):
        """Mask-predict on the candidates, in place: at pass t of N, feed each candidate's tokens back with
        its n = floor(T (N - t + 1) / (N + 1)) least probable slots replaced by [MASK], re-predict those
        slots and keep the others (tokens and log-probabilities). A candidate whose tokens did not change
        stops (unless --iter-decode-force-max-iter), and the batch stops when all have. Returns the passes
        each candidate ran; appends the state after each pass to ``passes`` (None: no history).

        The decoder reads the tokens as word embeddings added to its slot inputs (BnbDecoder's
        ``prev_tokens``). A model trained without such inputs never learnt to use them.
        """
        n_rows, width = tokens.shape
        steps = torch.zeros_like(lengths)
        active = torch.arange(n_rows, device=tokens.device)
        ranks = torch.arange(width, device=tokens.device).expand(n_rows, width)
        for t in range(1, self.options.max_iter + 1):
            sub = lengths[active]
            w = int(sub.max())  # the active rows' slots: the decoder returns no more
            n_mask = masked_count(sub, t, self.options.max_iter)
            # each slot's rank by probability, lowest first; padding (+inf) ranks last
            old, old_scores = tokens[active, :w], scores[active, :w]
            by_prob = old_scores.masked_fill(padding_mask[active, :w], float("inf")).argsort(dim=1, stable=True)
            rank = torch.empty_like(by_prob).scatter_(1, by_prob, ranks[: len(active), :w])
            masked = rank < n_mask[:, None]
            encs = [m.encoder.reorder_encoder_out(enc, active) for m, enc in zip(models, encoder_outs)]
            lprobs, _ = self._slot_log_probs(models, encs, sub, prev_tokens=old.masked_fill(masked, self.mask))
            # Gibbs-style with --sampling: the re-masked slots are drawn again, given the others
            new_scores, new_slots = self._draw(lprobs) if self.options.sampling else slot_max(lprobs)
            new = torch.where(masked, models[0].decoder.output_tokens(new_slots), old)
            tokens[active, :w] = new
            scores[active, :w] = torch.where(masked, new_scores, old_scores)
            rows, last = torch.arange(len(active), device=active.device), sub - 1
            eos_scores[active] = torch.where(masked[rows, last], lprobs[rows, last, eos_slot], eos_scores[active])
            steps[active] += 1
            if passes is not None:
                passes.append((tokens.clone(), scores.clone(), eos_scores.clone()))
            if not self.options.force_max_iter:
                active = active[(new != old).any(1)]
                if not len(active):
                    break
        return steps

    def _rerank(self, reranker, src_tokens, src_lengths, hypos, encoder_out=None):
        """Score every candidate of every sentence with the autoregressive model by teacher forcing, in one
        batched pass (its encoder runs once per batch and is expanded per candidate): the decoder reads
        ``[CLS] y`` and the score is the mean log-probability of ``y [SEP]`` (length-normalised, so short
        candidates get no advantage). Candidates are reordered by it; it becomes each hypothesis' score and
        its token log-probabilities the positional scores.

        A candidate longer than the reranker's decoder positions is scored on the part that fits; its
        remaining positional scores stay the parallel model's. ``encoder_out``: the reranker's encoder output
        when it is at hand already (self-reranking shares the encoder).
        """
        owner = [b for b, cands in enumerate(hypos) for _ in cands]
        cands = [h for c in hypos for h in c]
        if not cands:
            return hypos
        limit = reranker.decoder.max_positions()
        device = src_tokens.device
        targets = pad_sequence(
            [h["tokens"][:limit].to(device) for h in cands], batch_first=True, padding_value=self.pad
        )  # y [SEP]
        inputs = torch.cat([targets.new_full((len(cands), 1), self.bos), targets[:, :-1]], dim=1)  # [CLS] y
        enc = encoder_out if encoder_out is not None else reranker.encoder(src_tokens, src_lengths=src_lengths)
        enc = reranker.encoder.reorder_encoder_out(enc, torch.tensor(owner, device=device))
        token_lprobs = reranker.decoder.target_log_probs(inputs, targets, enc)
        real = targets.ne(self.pad)
        scores = token_lprobs.masked_fill(~real, 0.0).sum(1) / real.sum(1).to(token_lprobs.dtype)
        for i, (h, n, value) in enumerate(zip(cands, real.sum(1).tolist(), scores.tolist())):
            h["positional_scores"] = torch.cat(
                [token_lprobs[i, :n].to(h["positional_scores"]), h["positional_scores"][n:]]
            )
            h["score"], h["_rerank"] = scores[i], value
        ranked = [sorted(c, key=lambda h: -h["_rerank"])[: self.options.nbest] for c in hypos]
        for h in cands:
            del h["_rerank"]
        return ranked
