#!/usr/bin/env python
"""Raw parallel text -> BERT WordPiece -> fairseq binarized data (mmap) with BERT dictionaries.

Every sentence is stored as ``[CLS] pieces [SEP]`` with the checkpoint's own ids; the data
directory also receives ``dict.<lang>.txt`` (the checkpoint's vocabulary, its vocab.txt or its
tokenizer's, one token a line: id i = line i) and ``tokenizer.<lang>/`` (for ``--bpe bert_wordpiece``
at generation time). Any supported family works (BERT, ELECTRA, DistilBERT, RoBERTa, XLM-R, ALBERT,
ModernBERT, MobileBERT); the text is lowercased only if the checkpoint's own tokenizer lowercases.
With ``--only-source`` (monolingual text for ``--task bnb_pretrain``) it reads PREFIX.SRC only
and writes ``{split}.SRC.bin/.idx`` beside ``dict.SRC.txt`` and ``tokenizer.SRC/``.

Input policy (all splits are checked before any is encoded; output is staged beside --destdir
and moved in only when everything succeeded, so an error leaves --destdir as it was):
  * a missing or empty file, or one that is not UTF-8: error naming it;
  * line counts that differ between the two sides: error (file names and both counts);
  * empty (or whitespace-only) lines: error, listing file:line of each;
  * lines longer than --max-len pieces (special tokens included): truncated, keeping [SEP],
    with a count and file:line list printed; ``--overlong error`` refuses them instead.
Files are read and written in chunks of lines, so memory does not grow with the corpus.
"""

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bnb_fairseq.bert.checkpoint import BertCheckpointError, read_bert_sizes  # noqa: E402
from bnb_fairseq.bert.dictionary import BertDictionary, check_tokenizer_matches, checkpoint_dictionary  # noqa: E402
from bnb_fairseq.bert.tokenizer import load_wordpiece_tokenizer, lowercases  # noqa: E402
from bnb_fairseq.data.staging import commit  # noqa: E402

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
    p.add_argument("-t", "--target-lang", help="target language suffix (required unless --only-source)")
    p.add_argument(
        "--only-source",
        action="store_true",
        help="monolingual text (pre-training): read PREFIX.SRC only, write SPLIT.SRC.bin/.idx",
    )
    p.add_argument("--trainpref", help="train file prefix: PREFIX.SRC and PREFIX.TGT")
    p.add_argument("--validpref", help="comma-separated valid prefixes (valid, valid1, ...)")
    p.add_argument("--testpref", help="comma-separated test prefixes (test, test1, ...)")
    p.add_argument("--destdir", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--max-len",
        type=int,
        default=512,
        help="longest sentence in word pieces, [CLS] and [SEP] included (with --only-source it may "
        "exceed the checkpoint's positions: pre-training cuts lines into blocks)",
    )
    p.add_argument(
        "--overlong",
        choices=["truncate", "error"],
        default="truncate",
        help="what to do with sentences longer than --max-len",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def iter_lines(path):
    """The lines of a UTF-8 file without their line ending, one at a time (bounded memory)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{path}:{lineno}: not valid UTF-8 ({e.reason}); re-encode the file as UTF-8"
                ) from None


def listing(places, total=None):
    """'a, b, c (and N more)': a bounded list of file:line places for one message."""
    total = len(places) if total is None else total
    shown = places[:MAX_LISTED]
    more = f" (and {total - len(shown)} more)" if total > len(shown) else ""
    return ", ".join(shown) + more


def scan_file(path):
    """(line count, empty-line count, first empty places): a streaming pass that writes nothing."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    n = n_empty = 0
    places = []
    for n, line in enumerate(iter_lines(path), 1):
        if not line.strip():
            n_empty += 1
            if len(places) < MAX_LISTED:
                places.append(f"{path}:{n}")
    if n == 0:
        raise InputError(f"{path}: the file is empty; give one sentence a line (or leave this split out)")
    return n, n_empty, places


def check_pair(src_file, tgt_file):
    """All checks of one split that need no tokenizer; returns the number of lines."""
    (n_src, e_src, p_src), (n_tgt, e_tgt, p_tgt) = scan_file(src_file), scan_file(tgt_file)
    if n_src != n_tgt:
        raise InputError(
            f"{src_file} has {n_src} lines but {tgt_file} has {n_tgt}: the files are "
            "misaligned; line N of one must be the translation of line N of the other"
        )
    if e_src + e_tgt:
        raise InputError(
            f"{e_src + e_tgt} empty line(s): {listing(p_src + p_tgt, e_src + e_tgt)}; remove the pair or fill "
            "in the text (an empty sentence cannot be encoded or generated)"
        )
    return n_src


def check_single(path):
    """The checks of one monolingual file; returns the number of lines."""
    n, n_empty, places = scan_file(path)
    if n_empty:
        raise InputError(
            f"{n_empty} empty line(s): {listing(places, n_empty)}; remove them or fill in the text "
            "(an empty line holds nothing to encode)"
        )
    return n


_worker_tok = None


def _init_worker(tok_dir):
    global _worker_tok
    _worker_tok = load_wordpiece_tokenizer(tok_dir)


def _encode_chunk(lines):
    return _worker_tok(lines, add_special_tokens=True)["input_ids"]


def line_chunks(path):
    chunk = []
    for line in iter_lines(path):
        chunk.append(line)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def encoded_chunks(tok, tok_dir, path, n_lines, workers):
    """Token ids of the lines of ``path``, a chunk at a time and in order.

    At most 2 x workers chunks are in flight (``Pool.imap`` would read the whole file ahead), so
    memory does not grow with the corpus.
    """
    if workers <= 1 or n_lines <= CHUNK:
        for lines in line_chunks(path):
            yield tok(lines, add_special_tokens=True)["input_ids"]
        return
    with Pool(workers, initializer=_init_worker, initargs=(tok_dir,)) as pool:
        pending = deque()
        for lines in line_chunks(path):
            pending.append(pool.apply_async(_encode_chunk, (lines,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def binarize_file(args, split, lang, path, n_lines, side, out_base):
    """Encode ``path`` into ``out_base``.bin/.idx, streaming; applies the --max-len policy."""
    from fairseq.data import indexed_dataset

    tok, tok_dir, dictionary = side
    eos, unk = dictionary.eos(), dictionary.unk()
    builder = indexed_dataset.make_builder(out_base + ".bin", impl="mmap", vocab_size=len(dictionary))
    n = n_tok = n_unk = longest = n_long = 0
    long_places = []
    bar = tqdm(total=n_lines, desc=f"{split}.{lang}", unit="line", disable=args.quiet, file=sys.stderr)
    for ids in encoded_chunks(tok, tok_dir, path, n_lines, args.workers):
        for s in ids:
            n += 1
            if len(s) > args.max_len:
                n_long += 1
                if len(long_places) < MAX_LISTED:
                    long_places.append(f"{path}:{n} ({len(s)} pieces)")
                s = s[: args.max_len - 1] + [eos]
            a = np.asarray(s, dtype=np.int64)
            n_tok += len(a)
            n_unk += int((a == unk).sum())
            longest = max(longest, len(a))
            builder.add_item(torch.from_numpy(a))
        bar.update(len(ids))
    bar.close()
    builder.finalize(out_base + ".idx")
    if n_long:
        where = listing(long_places, n_long)
        if args.overlong == "error":
            raise InputError(
                f"{n_long} sentence(s) longer than --max-len {args.max_len} word pieces: {where}; "
                "shorten them, raise --max-len, or pass --overlong truncate"
            )
        print(
            f"| {split}.{lang}: truncated {n_long} sentence(s) to {args.max_len} word pieces: {where}", file=sys.stderr
        )
    print(
        f"| {split}.{lang}: {n} sentences, {n_tok} tokens, {100.0 * n_unk / max(n_tok, 1):.2f}% [UNK], "
        f"length mean {n_tok / max(n, 1):.1f} max {longest}, {n_long} truncated",
        file=sys.stderr,
    )


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
    """Check everything, encode into a staging folder beside --destdir, then move it in.

    Any error (a bad file in any split, an over-long sentence with --overlong error) therefore
    leaves --destdir as it was.
    """
    start = time.time()
    if not (args.trainpref or args.validpref or args.testpref):
        raise InputError("nothing to do: give --trainpref, --validpref and/or --testpref")
    if args.max_len < 3:
        raise InputError("--max-len must be at least 3 ([CLS] piece [SEP])")
    if args.only_source and (args.target_lang or args.target_bert):
        raise InputError("--only-source reads one language: drop -t/--target-lang and --target-bert")
    if not args.only_source and not args.target_lang:
        raise InputError("give -t/--target-lang (or --only-source for monolingual text)")
    if args.source_lang == args.target_lang:
        raise InputError("--source-lang and --target-lang must differ (they name the files PREFIX.LANG)")
    sides = {}
    for lang, bert, flag in (
        (args.source_lang, args.bert, "--bert"),
        (args.target_lang, args.target_bert or args.bert, "--target-bert"),
    )[: 1 if args.only_source else 2]:  # --only-source: the source side only
        sizes = read_bert_sizes(bert, what=flag)
        if args.max_len > sizes.max_position_embeddings and not args.only_source:  # bnb_pretrain cuts lines into blocks
            raise InputError(
                f"--max-len {args.max_len} exceeds {bert}'s max_position_embeddings {sizes.max_position_embeddings}"
            )
        tok = load_wordpiece_tokenizer(bert, what=flag)
        dictionary = checkpoint_dictionary(bert, what=flag)
        if len(dictionary) != sizes.vocab_size:
            raise InputError(
                f"{dictionary.source} has {len(dictionary)} tokens but config.json says vocab_size "
                f"{sizes.vocab_size}: the vocabulary does not belong to this checkpoint"
            )
        check_tokenizer_matches(tok, dictionary, f"{flag} {bert}")
        print(
            f"| {lang}: {sizes.model_type} checkpoint, {'uncased (lowercased)' if lowercases(tok) else 'cased'} "
            f"{type(tok.backend_tokenizer.model).__name__} tokenizer, {len(dictionary)} tokens",
            file=sys.stderr,
        )
        sides[lang] = (tok, bert, dictionary)
    splits = []
    if args.trainpref:
        splits.append(("train", args.trainpref))
    for name, prefs in (("valid", args.validpref), ("test", args.testpref)):
        for k, pref in enumerate((prefs or "").split(",") if prefs else []):
            splits.append((name if k == 0 else f"{name}{k}", pref))
    checked = []
    for split, prefix in splits:
        if args.only_source:
            files = {args.source_lang: f"{prefix}.{args.source_lang}"}
            n_lines = check_single(files[args.source_lang])
        else:
            files = {lang: f"{prefix}.{lang}" for lang in (args.source_lang, args.target_lang)}
            n_lines = check_pair(files[args.source_lang], files[args.target_lang])
        checked.append((split, files, n_lines))
    checked.sort(key=lambda c: c[2])  # small splits first: an over-long sentence there fails fast

    parent = os.path.dirname(os.path.abspath(args.destdir))
    os.makedirs(parent, exist_ok=True)
    stage = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(args.destdir))}.binarize-", dir=parent)
    try:
        for lang, (tok, bert, dictionary) in sides.items():
            tok_out = os.path.join(stage, f"tokenizer.{lang}")
            tok.save_pretrained(tok_out)
            if os.path.isfile(os.path.join(bert, "vocab.txt")):
                shutil.copy(os.path.join(bert, "vocab.txt"), os.path.join(tok_out, "vocab.txt"))
            dict_file = os.path.join(stage, f"dict.{lang}.txt")
            try:
                dictionary.save(dict_file)
            except ValueError as e:
                raise InputError(str(e)) from None
            reloaded = BertDictionary.load(dict_file)  # as the task will read it, beside tokenizer.<lang>/
            if reloaded.first_difference(dictionary) is not None or reloaded.specials != dictionary.specials:
                raise InputError(
                    f"dict.{lang}.txt does not read back as the vocabulary of {bert} (ids or special "
                    f"tokens {dictionary.specials} change)"
                )
        for split, files, n_lines in checked:
            for lang, path in files.items():
                base = os.path.join(
                    stage,
                    f"{split}.{lang}" if args.only_source else f"{split}.{args.source_lang}-{args.target_lang}.{lang}",
                )
                binarize_file(args, split, lang, path, n_lines, sides[lang], base)
        commit(stage, args.destdir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print(f"| wrote {args.destdir} in {time.time() - start:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
