#!/usr/bin/env python
"""Raw parallel text -> BERT WordPiece -> fairseq binarized data (mmap) with BERT dictionaries.

Every sentence is stored as ``[CLS] pieces [SEP]`` with the checkpoint's own ids; the data
directory also receives ``dict.<lang>.txt`` (the checkpoint's vocab.txt, id i = line i) and
``tokenizer.<lang>/`` (for ``--bpe bert_wordpiece`` at generation time).

Input policy, applied before anything is written:
  * line counts that differ between the two sides: error (file names and both counts);
  * empty (or whitespace-only) lines: error, listing file:line of each;
  * lines longer than --max-len pieces (special tokens included): truncated, keeping [SEP],
    with a count and file:line list printed; ``--overlong error`` refuses them instead.
"""
import argparse
import logging
import os
import shutil
import sys
import time
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bnb_fairseq.bert.checkpoint import BertCheckpointError, read_bert_sizes  # noqa: E402
from bnb_fairseq.bert.dictionary import BertDictionary  # noqa: E402
from bnb_fairseq.bert.tokenizer import load_wordpiece_tokenizer  # noqa: E402

logger = logging.getLogger("bnb_fairseq.binarize")
MAX_LISTED = 10
CHUNK = 2000


class InputError(Exception):
    """Bad user input: printed as one message, exit status 1."""


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bert", required=True, help="source-side BERT checkpoint directory")
    p.add_argument("--target-bert", default=None, help="target-side BERT checkpoint directory (default: --bert)")
    p.add_argument("-s", "--source-lang", required=True)
    p.add_argument("-t", "--target-lang", required=True)
    p.add_argument("--trainpref", help="train file prefix: PREFIX.SRC and PREFIX.TGT")
    p.add_argument("--validpref", help="comma-separated valid prefixes (valid, valid1, ...)")
    p.add_argument("--testpref", help="comma-separated test prefixes (test, test1, ...)")
    p.add_argument("--destdir", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--max-len", type=int, default=512,
                   help="longest sentence in word pieces, [CLS] and [SEP] included")
    p.add_argument("--overlong", choices=["truncate", "error"], default="truncate",
                   help="what to do with sentences longer than --max-len")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def read_lines(path):
    """All lines of a UTF-8 file, with a clear message on a missing file or a bad byte."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    lines = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                lines.append(raw.decode("utf-8").rstrip("\r\n"))
            except UnicodeDecodeError as e:
                raise InputError(f"{path}:{lineno}: not valid UTF-8 ({e.reason}); re-encode the file as UTF-8") from None
    return lines


def listing(places):
    """'a, b, c (and N more)': a bounded list of file:line places for one message."""
    more = f" (and {len(places) - MAX_LISTED} more)" if len(places) > MAX_LISTED else ""
    return ", ".join(places[:MAX_LISTED]) + more


def check_pair(src_file, tgt_file, src_lines, tgt_lines):
    if len(src_lines) != len(tgt_lines):
        raise InputError(
            f"{src_file} has {len(src_lines)} lines but {tgt_file} has {len(tgt_lines)}: the files are "
            "misaligned; line N of one must be the translation of line N of the other"
        )
    empty = [f"{name}:{i + 1}" for name, lines in ((src_file, src_lines), (tgt_file, tgt_lines))
             for i, line in enumerate(lines) if not line.strip()]
    if empty:
        raise InputError(
            f"{len(empty)} empty line(s): {listing(empty)}; remove the pair or fill in the text "
            "(an empty sentence cannot be encoded or generated)"
        )


_worker_tok = None


def _init_worker(tok_dir):
    global _worker_tok
    _worker_tok = load_wordpiece_tokenizer(tok_dir)


def _encode_chunk(lines):
    return _worker_tok(lines, add_special_tokens=True)["input_ids"]


def encode_file(tok, tok_dir, lines, workers, desc, quiet):
    chunks = [lines[i:i + CHUNK] for i in range(0, len(lines), CHUNK)]
    bar = tqdm(total=len(lines), desc=desc, unit="line", disable=quiet, file=sys.stderr)
    out = []
    if workers > 1 and len(chunks) > 1:
        with Pool(workers, initializer=_init_worker, initargs=(tok_dir,)) as pool:
            for ids in pool.imap(_encode_chunk, chunks):
                out.extend(ids)
                bar.update(len(ids))
    else:
        for chunk in chunks:
            ids = tok(chunk, add_special_tokens=True)["input_ids"]
            out.extend(ids)
            bar.update(len(ids))
    bar.close()
    return out


def binarize_split(args, split, prefix, sides):
    from fairseq.data import indexed_dataset

    files = {lang: f"{prefix}.{lang}" for lang in (args.source_lang, args.target_lang)}
    lines = {lang: read_lines(path) for lang, path in files.items()}
    check_pair(files[args.source_lang], files[args.target_lang], lines[args.source_lang], lines[args.target_lang])
    for lang, (tok, tok_dir, dictionary) in sides.items():
        ids = encode_file(tok, tok_dir, lines[lang], args.workers, f"{split}.{lang}", args.quiet)
        truncated = [i for i, s in enumerate(ids) if len(s) > args.max_len]
        if truncated:
            where = listing([f"{files[lang]}:{i + 1} ({len(ids[i])} pieces)" for i in truncated])
            if args.overlong == "error":
                raise InputError(
                    f"{len(truncated)} sentence(s) longer than --max-len {args.max_len} word pieces: {where}; "
                    "shorten them, raise --max-len, or pass --overlong truncate"
                )
            print(f"| {split}.{lang}: truncated {len(truncated)} sentence(s) to {args.max_len} word pieces: {where}",
                  file=sys.stderr)
            for i in truncated:
                ids[i] = ids[i][: args.max_len - 1] + [dictionary.eos()]
        base = os.path.join(args.destdir, f"{split}.{args.source_lang}-{args.target_lang}.{lang}")
        builder = indexed_dataset.make_builder(base + ".bin", impl="mmap", vocab_size=len(dictionary))
        n_tok = n_unk = 0
        for s in ids:
            t = torch.IntTensor(s)
            n_tok += len(s)
            n_unk += int((t == dictionary.unk()).sum())
            builder.add_item(t)
        builder.finalize(base + ".idx")
        lengths = np.array([len(s) for s in ids])
        print(f"| {split}.{lang}: {len(ids)} sentences, {n_tok} tokens, {100.0 * n_unk / max(n_tok, 1):.2f}% [UNK], "
              f"length mean {lengths.mean():.1f} max {lengths.max()}, {len(truncated)} truncated", file=sys.stderr)


def main(argv=None):
    args = get_parser().parse_args(argv)
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO)
    try:
        run(args)
    except (InputError, BertCheckpointError, FileNotFoundError) as e:
        print(f"binarize.py: error: {e}", file=sys.stderr)
        return 1
    return 0


def run(args):
    start = time.time()
    if not (args.trainpref or args.validpref or args.testpref):
        raise InputError("nothing to do: give --trainpref, --validpref and/or --testpref")
    if args.max_len < 3:
        raise InputError("--max-len must be at least 3 ([CLS] piece [SEP])")
    if args.source_lang == args.target_lang:
        raise InputError("--source-lang and --target-lang must differ (they name the files PREFIX.LANG)")
    os.makedirs(args.destdir, exist_ok=True)
    sides = {}
    for lang, bert, flag in ((args.source_lang, args.bert, "--bert"),
                             (args.target_lang, args.target_bert or args.bert, "--target-bert")):
        sizes = read_bert_sizes(bert, what=flag)
        if args.max_len > sizes.max_position_embeddings:
            raise InputError(f"--max-len {args.max_len} exceeds {bert}'s max_position_embeddings "
                             f"{sizes.max_position_embeddings}")
        tok = load_wordpiece_tokenizer(bert, what=flag)
        dictionary = BertDictionary.load(os.path.join(bert, "vocab.txt"))
        if len(dictionary) != sizes.vocab_size:
            raise InputError(f"{bert}/vocab.txt has {len(dictionary)} tokens but config.json says vocab_size "
                             f"{sizes.vocab_size}: the vocabulary does not belong to this checkpoint")
        dictionary.save(os.path.join(args.destdir, f"dict.{lang}.txt"))
        tok_out = os.path.join(args.destdir, f"tokenizer.{lang}")
        tok.save_pretrained(tok_out)
        shutil.copy(os.path.join(bert, "vocab.txt"), os.path.join(tok_out, "vocab.txt"))
        sides[lang] = (tok, bert, dictionary)
    splits = []
    if args.trainpref:
        splits.append(("train", args.trainpref))
    for name, prefs in (("valid", args.validpref), ("test", args.testpref)):
        for k, pref in enumerate((prefs or "").split(",") if prefs else []):
            splits.append((name if k == 0 else f"{name}{k}", pref))
    for split, prefix in splits:
        binarize_split(args, split, prefix, sides)
    print(f"| wrote {args.destdir} in {time.time() - start:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
