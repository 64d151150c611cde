"""Peak memory of fairseq-generate as the test set grows: it must not grow with the number of sentences.

The test split of a binarized data directory is repeated to each requested size (written as a fairseq
mmap dataset beside copies of the dictionaries and tokenizers), then ``fairseq-generate --max-tokens M``
decodes each one in a fresh process, one at a time. The peak resident set size of that process comes
from the kernel (``wait4``), so it covers the whole run: imports, model, data and every batch.

  python -m bnb_fairseq.tools.peak_rss CHECKPOINT DATA_BIN [--sizes 1000,10000] [--max-tokens 4096] \\
      [--subset test] [--threads 2] [--work DIR] [--json out.json] [-- extra fairseq-generate options]

It prints one line a size (sentences, peak RSS, seconds, sentences answered) and the ratio of the
largest to the smallest peak; the exit status is 1 if a run failed or did not answer every sentence.
The environment is passed on: with glibc's default malloc, CPU decoding's peak creeps up with the
number of batches (heap fragmentation); ``MALLOC_MMAP_THRESHOLD_=4194304`` keeps it flat (README).
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def language_pair(data, subset):
    """(src, tgt) from the file names binarize.py writes: SUBSET.SRC-TGT.SRC.bin."""
    for path in sorted(glob.glob(os.path.join(data, f"{subset}.*-*.*.bin"))):
        m = re.fullmatch(rf"{re.escape(subset)}\.([^.-]+)-([^.-]+)\.\1\.bin", os.path.basename(path))
        if m:
            return m.group(1), m.group(2)
    raise SystemExit(f"peak_rss: no binarized {subset} split ({subset}.SRC-TGT.SRC.bin) in {data}")


def repeated_split(data, subset, src, tgt, n, out):
    """``out``: the dictionaries and tokenizers of ``data`` and its ``subset`` repeated to ``n`` sentences,
    written as the test split."""
    from fairseq.data import data_utils, indexed_dataset

    os.makedirs(out, exist_ok=True)
    for name in os.listdir(data):
        path = os.path.join(data, name)
        if name.startswith("dict.") and name.endswith(".txt"):
            shutil.copy(path, os.path.join(out, name))
        elif name.startswith("tokenizer.") and os.path.isdir(path):
            shutil.copytree(path, os.path.join(out, name), dirs_exist_ok=True)
    for lang in (src, tgt):
        prefix = os.path.join(data, f"{subset}.{src}-{tgt}.{lang}")
        dataset = data_utils.load_indexed_dataset(prefix, None)
        if dataset is None or len(dataset) == 0:
            raise SystemExit(f"peak_rss: {prefix}.bin is missing or empty")
        with open(os.path.join(data, f"dict.{lang}.txt"), encoding="utf-8") as f:
            vocab_size = sum(1 for _ in f)
        base = os.path.join(out, f"test.{src}-{tgt}.{lang}")
        builder = indexed_dataset.make_builder(base + ".bin", impl="mmap", vocab_size=vocab_size)
        for i in range(n):
            builder.add_item(dataset[i % len(dataset)])
        builder.finalize(base + ".idx")


def measure(cmd, log_path, env):
    """(exit status, peak RSS in kB, seconds) of ``cmd``, its output written to ``log_path``."""
    start = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the maximum over all children
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss, time.time() - start


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("data", help="binarized data directory (preprocess/binarize.py) holding --subset")
    p.add_argument("--subset", default="test", help="split to repeat (default: test)")
    p.add_argument("--sizes", default="1000,10000", help="comma-separated numbers of sentences")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of fairseq-generate")
    p.add_argument("--work", default=None, help="keep the repeated data and the logs here (default: a temp dir)")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    src, tgt = language_pair(args.data, args.subset)
    import bnb_fairseq

    user_dir = os.path.dirname(os.path.abspath(bnb_fairseq.__file__))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false")
    work = args.work or tempfile.mkdtemp(prefix="peak_rss.")
    rows, ok = [], True
    try:
        for n in sizes:
            data = os.path.join(work, f"n{n}")
            repeated_split(args.data, args.subset, src, tgt, n, data)
            cmd = [
                "fairseq-generate",
                data,
                "--user-dir",
                user_dir,
                "--task",
                "bnb_seq2seq",
                "-s",
                src,
                "-t",
                tgt,
                "--path",
                args.checkpoint,
                "--gen-subset",
                "test",
                "--max-tokens",
                str(args.max_tokens),
                "--num-workers",
                "0",
                *extra,
            ]
            log = os.path.join(work, f"generate-{n}.txt")
            status, peak_kb, seconds = measure(cmd, log, env)
            with open(log, encoding="utf-8", errors="replace") as f:
                answered = sum(1 for line in f if line.startswith("H-"))
            rows.append(
                {
                    "sentences": n,
                    "peak_rss_kb": peak_kb,
                    "seconds": round(seconds, 1),
                    "answered": answered,
                    "status": status,
                }
            )
            print(
                f"{n:>8} sentences: peak RSS {peak_kb / 1024:8.1f} MB, {seconds:6.1f} s, {answered} answered"
                + ("" if status == 0 else f", exit status {status} (see {log})"),
                flush=True,
            )
            ok &= status == 0 and answered == n
        peaks = [r["peak_rss_kb"] for r in rows]
        ratio = max(peaks) / min(peaks)
        print(
            f"largest / smallest peak RSS: {ratio:.3f} over {min(sizes)} -> {max(sizes)} sentences "
            f"(--max-tokens {args.max_tokens}, {args.threads} thread(s))"
        )
        if args.json:
            with open(args.json, "w") as f:
                json.dump(
                    {
                        "checkpoint": args.checkpoint,
                        "max_tokens": args.max_tokens,
                        "threads": args.threads,
                        "runs": rows,
                        "peak_ratio": round(ratio, 4),
                    },
                    f,
                    indent=1,
                )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
