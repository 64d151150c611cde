"""Sample sentences from a plain BERT masked LM by Gibbs sampling (BERT as a Markov random field).

  python -m bnb_fairseq.tools.gibbs_sample --bert DIR [--length 12] [--num-samples 4] [--sweeps 10]
      [--temperature 1.0] [--topk -1] [--seed 1] [--order random|sequential] [--init mask|random] [--json]

Following Wang & Cho (2019), "BERT has a Mouth, and It Must Speak": the N samples start as
``[CLS] [MASK]*L [SEP]`` (or uniformly random word pieces with ``--init random``); each sweep visits
the L positions of every sample (in a fresh random order per sample, or left to right with ``--order
sequential``), masks the position and redraws its token from the MLM's conditional given all the
other tokens, sharpened by ``--temperature`` and cut to the ``--topk`` most probable. Special tokens
and ``[unusedN]`` are never drawn. All N samples advance together: one forward pass per step.

Each output line is the detokenized sample, a tab, and its pseudo-log-likelihood
sum_t log p(x_t | x without t) (the model's conditional over the whole vocabulary, at temperature 1,
with x_t masked): the MRF view's score of the sentence, comparable between samples of one model and
one length, not a normalised log-probability.
"""

import argparse
import json
import os
import re
import sys

import torch

BERT_MASK_ID = 103  # [MASK] of BERT's English vocabularies (and MiniLM's)


class GibbsError(Exception):
    """An unusable checkpoint or option: one ``error:`` line, exit status 2."""


def candidates(tokenizer, vocab_size):
    """Boolean (vocab_size,) mask of the tokens a sample may hold: a word piece, not a special token,
    not ``[unusedN]``, and known to the tokenizer (so that it can be decoded)."""
    allowed = torch.zeros(vocab_size, dtype=torch.bool)
    for token, i in tokenizer.get_vocab().items():
        if i < vocab_size and not re.fullmatch(r"\[unused\d+\]", token):
            allowed[i] = True
    allowed[[i for i in tokenizer.all_special_ids if i is not None and i < vocab_size]] = False
    if not allowed.any():
        raise GibbsError("the tokenizer has no ordinary word pieces to sample")
    return allowed


def _draw(logits, allowed, temperature, topk, generator):
    """One token per row from softmax(logits / T) over the allowed tokens, cut to the top k."""
    logits = logits.float().masked_fill(~allowed, float("-inf")) / temperature
    if topk > 0:
        kth = logits.topk(min(topk, int(allowed.sum())), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)


def _logits_at(model, ids, pos):
    """(B, V) logits at position ``pos[b]`` of each row; a BertForMaskedLM's head runs on those positions
    only (over a 30k vocabulary it costs as much as a small encoder)."""
    rows = torch.arange(ids.size(0), device=ids.device)
    if hasattr(model, "bert") and hasattr(model, "cls"):
        return model.cls(model.bert(input_ids=ids).last_hidden_state[rows, pos])
    return model(input_ids=ids).logits[rows, pos]


@torch.no_grad()
def gibbs_sample(
    model, tokenizer, length, num_samples, sweeps, temperature=1.0, topk=-1, order="random", init="mask", generator=None
):
    """(num_samples, length + 2) token ids ``[CLS] x_1 .. x_L [SEP]`` after ``sweeps`` Gibbs sweeps.

    Each step masks one position of every sample (positions may differ between samples) and redraws
    it from the model's conditional: one batched forward pass per step, L steps per sweep."""
    if length < 1:
        raise GibbsError(f"--length must be at least 1 (got {length})")
    if temperature <= 0:
        raise GibbsError(f"--temperature must be positive (got {temperature})")
    if order not in ("random", "sequential") or init not in ("mask", "random"):
        raise GibbsError(f"unknown --order {order!r} or --init {init!r}")
    model.eval()
    device = next(model.parameters()).device
    allowed = candidates(tokenizer, model.config.vocab_size).to(device)
    mask_id = tokenizer.mask_token_id
    ids = torch.full((num_samples, length + 2), mask_id, dtype=torch.long, device=device)
    ids[:, 0], ids[:, -1] = tokenizer.cls_token_id, tokenizer.sep_token_id
    if init == "random":
        uniform = torch.zeros(num_samples * length, allowed.numel(), device=device)
        ids[:, 1:-1] = _draw(uniform, allowed, 1.0, -1, generator).view(num_samples, length)
    rows = torch.arange(num_samples, device=device)
    for _ in range(sweeps):
        if order == "random":  # a fresh visiting order for every sample
            visit = torch.rand(num_samples, length, generator=generator, device=device).argsort(-1) + 1
        else:
            visit = torch.arange(1, length + 1, device=device).expand(num_samples, length)
        for step in range(length):
            pos = visit[:, step]
            masked = ids.clone()
            masked[rows, pos] = mask_id
            ids[rows, pos] = _draw(_logits_at(model, masked, pos), allowed, temperature, topk, generator)
    return ids


@torch.no_grad()
def pseudo_log_likelihood(model, ids, mask_id=BERT_MASK_ID, batch_size=256):
    """(N,) sum over the inner positions t of log p(x_t | x without t) for ``[CLS] .. [SEP]`` rows.

    All L masked copies of a sentence go through the model together (``batch_size`` copies a pass)."""
    model.eval()
    n, width = ids.shape
    length = width - 2
    copies = ids.repeat_interleave(length, dim=0)  # sentence i's copies are rows i*L .. i*L + L-1
    pos = torch.arange(1, length + 1, device=ids.device).repeat(n)
    rows = torch.arange(copies.size(0), device=ids.device)
    target = copies[rows, pos].clone()
    copies[rows, pos] = mask_id
    scores = []
    for start in range(0, copies.size(0), batch_size):
        chunk, at = copies[start : start + batch_size], pos[start : start + batch_size]
        lprobs = _logits_at(model, chunk, at).float().log_softmax(-1)
        scores.append(lprobs.gather(1, target[start : start + batch_size, None]).squeeze(1))
    return torch.cat(scores).view(n, length).sum(1)


def load(bert_dir, device="cpu"):
    """BertForMaskedLM and tokenizer of a local directory; refuses one without its MLM head, whose
    weights transformers would otherwise initialise at random (and sample noise)."""
    from transformers import AutoConfig, AutoTokenizer, BertForMaskedLM
    from transformers.utils import logging as hf_logging

    if not os.path.isfile(os.path.join(bert_dir, "config.json")):
        raise GibbsError(f"{bert_dir}: no config.json; give a local BERT directory as save_pretrained writes it")
    config = AutoConfig.from_pretrained(bert_dir)
    if config.model_type != "bert":
        raise GibbsError(f"{bert_dir}: a {config.model_type!r} checkpoint, not a BERT masked language model")
    level, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the missing head is reported below, as one error line
    hf_logging.disable_progress_bar()
    try:
        model, info = BertForMaskedLM.from_pretrained(bert_dir, output_loading_info=True)
    finally:
        hf_logging.set_verbosity(level)
        if bar:
            hf_logging.enable_progress_bar()
    if info["missing_keys"]:
        missing = sorted(info["missing_keys"])
        raise GibbsError(
            f"{bert_dir}: no MLM head weights (missing {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}; "
            f"architectures {config.architectures}): give a BertForMaskedLM or BertForPreTraining checkpoint"
        )
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    if None in (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id):
        raise GibbsError(f"{bert_dir}: the tokenizer has no [CLS], [SEP] or [MASK] token")
    return model.to(device).eval(), tokenizer


def get_parser():
    p = argparse.ArgumentParser(
        prog="python -m bnb_fairseq.tools.gibbs_sample",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bert", metavar="DIR", required=True, help="a local BERT MLM directory (save_pretrained)")
    p.add_argument("--length", type=int, default=12, help="word pieces per sample, [CLS] and [SEP] aside")
    p.add_argument("--num-samples", type=int, default=4, help="samples drawn together")
    p.add_argument("--sweeps", type=int, default=10, help="passes over all positions")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of the draws")
    p.add_argument("--topk", type=int, default=-1, help="draw from the k most probable tokens only (-1: all)")
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same samples")
    p.add_argument("--order", choices=["random", "sequential"], default="random", help="visiting order of a sweep")
    p.add_argument("--init", choices=["mask", "random"], default="mask", help="all [MASK], or random word pieces")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--json", action="store_true", help="print a JSON list of {text, tokens, pseudo_log_likelihood}")
    return p


def main(argv=None):
    args = get_parser().parse_args(argv)
    try:
        if args.length < 1:
            raise GibbsError(f"--length must be at least 1 (got {args.length})")
        if args.num_samples < 1:
            raise GibbsError(f"--num-samples must be at least 1 (got {args.num_samples})")
        model, tokenizer = load(args.bert, args.device)
        if args.length + 2 > model.config.max_position_embeddings:
            raise GibbsError(
                f"--length {args.length} + [CLS] and [SEP] exceeds the model's "
                f"{model.config.max_position_embeddings} positions"
            )
        torch.manual_seed(args.seed)
        generator = torch.Generator(device=args.device).manual_seed(args.seed)
        options = dict(temperature=args.temperature, topk=args.topk, order=args.order, init=args.init)
        ids = gibbs_sample(model, tokenizer, args.length, args.num_samples, args.sweeps, generator=generator, **options)
        pll = pseudo_log_likelihood(model, ids, tokenizer.mask_token_id)
    except (GibbsError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    samples = [
        {
            "text": tokenizer.decode(row.tolist(), skip_special_tokens=True),
            "tokens": tokenizer.convert_ids_to_tokens(row[1:-1].tolist()),
            "pseudo_log_likelihood": score,
        }
        for row, score in zip(ids.cpu(), pll.tolist())
    ]
    if args.json:
        print(json.dumps(samples, ensure_ascii=False, indent=1))
    else:
        for s in samples:
            print(f"{s['text']}\t{s['pseudo_log_likelihood']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
