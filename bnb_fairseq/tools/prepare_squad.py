"""SQuAD v1.1 JSON -> question-generation files: ``answer [SEP] context`` -> question.

  python -m bnb_fairseq.tools.prepare_squad --train train-v1.1.json --dev dev-v1.1.json \\
      --tokenizer BERT_DIR --out RAW [--max-len 512] [--valid-fraction 0.1] [--seed 1]

Every question of the files becomes one line (its first answer when a question has several):

  {train,valid,test}.src   ``answer [SEP] context``; binarize.py stores it as
                           ``[CLS] answer [SEP] context [SEP]``, and the encoder gives segment id 0
                           up to the first [SEP] and 1 after it, as BERT does for sentence pairs
  {train,valid,test}.tgt   the question
  {train,valid,test}.ids   the question's SQuAD id
  prepare.json             counts and settings

Splits follow Du et al. (2017): the SQuAD dev file is the test set, and a ``--valid-fraction`` of
the training articles (chosen by a ``random.Random(seed)`` shuffle, whole articles, so no paragraph
is shared) is held out as valid. ``--valid FILE`` takes valid from a file of its own instead.

Truncation: the source must fit ``--max-len`` word pieces of ``--tokenizer``, [CLS] and both [SEP]
included. When it does not, the context is cut to the window of word pieces that fits, centred on
the answer span and moved inward at the ends of the paragraph, with both edges moved inward to
whitespace so that no word is cut; the text of that window (taken from the original characters)
is written. An answer longer than half of --max-len is cut to its first pieces. Both are counted
in the log and prepare.json. Whitespace (newlines, tabs) inside a text is collapsed to single spaces.

Bad input (a JSON syntax error, a missing field, an answer that is not in its paragraph) is one
error naming the file, the line and the question id.
"""

import argparse
import json
import math
import os
import random
import re
import sys

SPLITS = ("train", "valid", "test")


class SquadError(Exception):
    """Input that is not SQuAD v1.1: one message naming file and line, exit status 1."""


def one_line(text):
    return " ".join(text.split())


class SquadFile:
    """A parsed SQuAD JSON file that can point at the line of a question id in its text."""

    def __init__(self, path):
        self.path = path
        if not os.path.isfile(path):
            raise SquadError(f"{path}: no such file")
        with open(path, encoding="utf-8") as f:
            self.text = f.read()
        try:
            self.json = json.loads(self.text)
        except json.JSONDecodeError as e:
            raise SquadError(
                f"{path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno}); give the SQuAD v1.1 file as downloaded"
            ) from None
        if not isinstance(self.json, dict) or not isinstance(self.json.get("data"), list):
            raise SquadError(f'{path}:1: no top-level "data" list; this is not a SQuAD v1.1 file')

    def where(self, path_in_json, qid=None):
        """'file:line (json path, id ...)': the line is that of the id's first occurrence, if found."""
        line = None
        if qid is not None:
            m = re.search(r'"id"\s*:\s*' + re.escape(json.dumps(qid)), self.text)
            if m:
                line = self.text.count("\n", 0, m.start()) + 1
        place = f"{self.path}:{line}" if line else self.path
        return f"{place} ({path_in_json}" + (f", question id {qid!r}" if qid is not None else "") + ")"

    def articles(self):
        return self.json["data"]


def require(obj, key, kind, squad, path_in_json, qid=None):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is str and not value.strip()) or (kind is list and not value):
        what = {str: "a non-empty string", list: "a non-empty list", int: "an integer"}[kind]
        raise SquadError(f'{squad.where(path_in_json, qid)}: "{key}" must be {what}')
    return value


def examples(squad, article_ids):
    """(qid, question, answer text, answer start, context) of the chosen articles, checked."""
    for a in article_ids:
        article = squad.articles()[a]
        paragraphs = require(article, "paragraphs", list, squad, f"data[{a}]")
        for p, paragraph in enumerate(paragraphs):
            where = f"data[{a}].paragraphs[{p}]"
            context = require(paragraph, "context", str, squad, where)
            for q, qa in enumerate(require(paragraph, "qas", list, squad, where)):
                where_q = f"{where}.qas[{q}]"
                qid = qa.get("id") if isinstance(qa, dict) else None
                question = require(qa, "question", str, squad, where_q, qid)
                answer = require(qa, "answers", list, squad, where_q, qid)[0]
                text = require(answer, "text", str, squad, f"{where_q}.answers[0]", qid)
                start = require(answer, "answer_start", int, squad, f"{where_q}.answers[0]", qid)
                yield qid, question, text, start, context, where_q


def locate_answer(context, text, start):
    """(start, corrected): the answer's character offset, moved to the nearest occurrence when the
    given offset does not hold the answer text; None when the text is not in the context."""
    if context[start : start + len(text)] == text:
        return start, False
    found = [m.start() for m in re.finditer(re.escape(text), context)]
    if not found:
        return None, False
    return min(found, key=lambda s: abs(s - start)), True


class SourceBuilder:
    """Builds ``answer [SEP] context`` sources that fit --max-len pieces (see the module doc)."""

    def __init__(self, tokenizer, max_len):
        self.tok = tokenizer
        self.max_len = max_len
        self.sep = tokenizer.sep_token
        self._context = None

    def pieces(self, text):
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def context_pieces(self, context):
        """Tokens and character offsets of a paragraph, cached (a paragraph has several questions)."""
        if self._context is None or self._context[0] != context:
            enc = self.tok(context, add_special_tokens=False, return_offsets_mapping=True)
            self._context = (context, self.tok.convert_ids_to_tokens(enc["input_ids"]), enc["offset_mapping"])
        return self._context[1], self._context[2]

    def build(self, answer, answer_start, context):
        """(source text, context truncated?, answer truncated?)."""
        answer_ids = self.pieces(answer)
        answer_cut = len(answer_ids) > self.max_len // 2
        if answer_cut:
            answer = self.tok.decode(answer_ids[: self.max_len // 2])
            answer_ids = answer_ids[: self.max_len // 2]
        budget = self.max_len - 3 - len(answer_ids)
        tokens, offsets = self.context_pieces(context)
        if len(tokens) <= budget:
            return f"{one_line(answer)} {self.sep} {one_line(context)}", False, answer_cut
        first = next((i for i, (s, e) in enumerate(offsets) if e > answer_start), len(tokens) - 1)
        last = next((i for i in range(len(tokens) - 1, -1, -1) if offsets[i][0] < answer_start + len(answer)), first)
        while True:
            window = self.window(offsets, context, first, last, budget)
            text = context[offsets[window[0]][0] : offsets[window[1] - 1][1]]
            source = f"{one_line(answer)} {self.sep} {one_line(text)}"
            excess = len(self.tok(source)["input_ids"]) - self.max_len
            if excess <= 0:
                return source, True, answer_cut
            if budget - excess < 1:
                raise SquadError(f"--max-len {self.max_len} leaves no room for the context of answer {answer!r}")
            budget -= excess  # re-tokenizing the cut text can add a piece or two at its edges

    @staticmethod
    def window(offsets, context, first, last, budget):
        """[start, end) of at most ``budget`` pieces around pieces first..last, both edges moved
        inward to whitespace, so that no word is cut (unless the window holds only part of one)."""
        n = len(offsets)
        centre = (first + last + 1) // 2
        start = min(max(0, centre - budget // 2), max(0, n - budget))
        end = min(n, start + budget)

        def word_starts(i):
            return offsets[i][0] == 0 or context[offsets[i][0] - 1].isspace()

        def word_ends(i):
            return offsets[i][1] == len(context) or context[offsets[i][1]].isspace()

        s, e = start, end
        while s < min(first, e - 1) and not word_starts(s):
            s += 1
        while e - 1 > max(last, s) and not word_ends(e - 1):
            e -= 1
        return (s, e) if word_starts(s) and word_ends(e - 1) else (start, end)


def split_articles(n_articles, valid_fraction, seed):
    """(train article ids, valid article ids): a seeded shuffle holds ``valid_fraction`` out."""
    if not 0 < valid_fraction < 1:
        raise SquadError(f"--valid-fraction {valid_fraction} must be between 0 and 1")
    if n_articles < 2:
        raise SquadError(
            "the training file has fewer than 2 articles: nothing to hold out for valid; pass --valid FILE"
        )
    order = list(range(n_articles))
    random.Random(seed).shuffle(order)
    n_valid = min(n_articles - 1, max(1, math.ceil(valid_fraction * n_articles)))
    return sorted(order[n_valid:]), sorted(order[:n_valid])


def write_split(squad, article_ids, builder, out, split, stats):
    n = 0
    with (
        open(os.path.join(out, f"{split}.src"), "w", encoding="utf-8") as src,
        open(os.path.join(out, f"{split}.tgt"), "w", encoding="utf-8") as tgt,
        open(os.path.join(out, f"{split}.ids"), "w", encoding="utf-8") as ids,
    ):
        for qid, question, text, start, context, where in examples(squad, article_ids):
            start, corrected = locate_answer(context, text, start)
            if start is None:
                raise SquadError(
                    f"{squad.where(where, qid)}: the answer {text!r} does not occur in its paragraph's "
                    "context; fix or remove the question"
                )
            source, context_cut, answer_cut = builder.build(text, start, context)
            src.write(source + "\n")
            tgt.write(one_line(question) + "\n")
            ids.write(f"{qid}\n")
            n += 1
            stats["context_truncated"] += context_cut
            stats["answer_truncated"] += answer_cut
            if corrected:
                stats["answer_start_corrected"].append(str(qid))
    if n == 0:
        raise SquadError(f"{squad.path}: no questions for the {split} split")
    stats["sizes"][split] = n


def get_parser():
    p = argparse.ArgumentParser(
        prog="python -m bnb_fairseq.tools.prepare_squad",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--train", required=True, help="SQuAD v1.1 training JSON (train and, by default, valid)")
    p.add_argument("--dev", required=True, help="SQuAD v1.1 dev JSON (the test split)")
    p.add_argument("--valid", help="a JSON file for the valid split (default: held-out training articles)")
    p.add_argument("--tokenizer", required=True, help="the BERT checkpoint directory the data will be binarized with")
    p.add_argument("--out", required=True, help="folder to write {train,valid,test}.{src,tgt,ids} into")
    p.add_argument("--max-len", type=int, default=512, help="longest source in word pieces, special tokens included")
    p.add_argument("--valid-fraction", type=float, default=0.1, help="training articles held out as valid")
    p.add_argument("--seed", type=int, default=1)
    return p


def main(argv=None):
    args = get_parser().parse_args(argv)
    try:
        if args.max_len < 16:
            raise SquadError(f"--max-len {args.max_len} is too short for an answer and a context")
        from bnb_fairseq.bert.tokenizer import load_wordpiece_tokenizer

        train = SquadFile(args.train)
        dev = SquadFile(args.dev)
        if args.valid:
            valid = SquadFile(args.valid)
            plan = [("train", train, range(len(train.articles()))), ("valid", valid, range(len(valid.articles())))]
        else:
            train_ids, valid_ids = split_articles(len(train.articles()), args.valid_fraction, args.seed)
            plan = [("train", train, train_ids), ("valid", train, valid_ids)]
        plan.append(("test", dev, range(len(dev.articles()))))
        builder = SourceBuilder(load_wordpiece_tokenizer(args.tokenizer, what="--tokenizer"), args.max_len)
        os.makedirs(args.out, exist_ok=True)
        stats = {
            "max_len": args.max_len,
            "sizes": {},
            "context_truncated": 0,
            "answer_truncated": 0,
            "answer_start_corrected": [],
        }
        for split, squad, article_ids in plan:
            write_split(squad, article_ids, builder, args.out, split, stats)
    except (SquadError, ValueError) as e:
        print(f"prepare_squad: error: {e}", file=sys.stderr)
        return 1
    stats["valid_from"] = args.valid or f"{args.valid_fraction:g} of the articles of {args.train} (seed {args.seed})"
    with open(os.path.join(args.out, "prepare.json"), "w", encoding="utf-8") as f:
        json.dump(stats, f, indent=2)
    corrected = stats["answer_start_corrected"]
    print(
        f"| wrote {args.out}: "
        + ", ".join(f"{s} {stats['sizes'][s]}" for s in SPLITS)
        + f" questions; {stats['context_truncated']} context(s) cut to fit --max-len {args.max_len}, "
        f"{stats['answer_truncated']} answer(s) cut, {len(corrected)} answer_start(s) moved to where the answer "
        "occurs" + (f" (ids {', '.join(corrected[:10])})" if corrected else ""),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
