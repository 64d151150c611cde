"""Learning curves: train a recipe, then score held-out BLEU at fixed update counts.

Every change to training is judged by the same curve: held-out BLEU, hypothesis/reference
length ratio and training wall time at the same update counts, on the same data.

  python -m bnb_fairseq.tools.learning_curve run --data DATA_BIN -s es -t en --work WORK \\
      --eval-updates 100,300,1000 [--max-minutes 60] [--reference raw/test.en] -- FAIRSEQ_TRAIN_ARGS...
  python -m bnb_fairseq.tools.learning_curve run --copy-text FILE --bert BERT_DIR --work WORK ... -- ...
  python -m bnb_fairseq.tools.learning_curve plot WORK1/curve.json WORK2/curve.json --out curves.png

``run`` trains through fairseq-train (checkpoints every gcd(eval updates) updates, no optimizer
state), then decodes ``--subset`` with each requested checkpoint (and the last one, if
``--max-minutes`` stopped training first), and writes WORK/curve.csv, WORK/curve.json and
WORK/curve.png. ``--average-last N`` also scores, at each of those updates, the mean of the last N saves
(``--average-every K`` updates apart), in the ``averaged_*`` columns. Training seconds exclude checkpoint
writing, which fairseq logs, and include start-up. ``--copy-text`` builds src = tgt data from any text file
(a copy task).
"""

import argparse
import csv
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from functools import reduce

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN_DIR = os.path.join(ROOT, "bnb_fairseq")
SAVED = re.compile(r"Saved checkpoint (\S+) \(epoch (\d+) @ (\d+) updates.*writing took ([\d.]+) seconds")
TRAIN_INNER = re.compile(r"train_inner \|.* ctc=([\d.]+).*num_updates=(\d+)")
FIELDS = [
    "label",
    "updates",
    "train_seconds",
    "seconds_per_update",
    "train_ctc_bits",
    "bleu",
    "length_ratio",
    "repeats",
    "hyp_len",
    "ref_len",
    "sentences",
    "decode_seconds",
    "averaged_updates",
    "averaged_bleu",
    "averaged_length_ratio",
    "averaged_repeats",
]


def build_copy_data(text, bert, work, n_valid, n_test, max_len):
    """src = tgt splits of a text file (last lines held out), binarized with the BERT vocabulary."""
    with open(text, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if len(lines) <= n_valid + n_test:
        raise SystemExit(
            f"error: {text} has {len(lines)} non-empty lines; --copy-text needs more than "
            f"--valid-lines + --test-lines = {n_valid + n_test}"
        )
    splits = {
        "train": lines[: -(n_valid + n_test)],
        "valid": lines[-(n_valid + n_test) : -n_test],
        "test": lines[-n_test:],
    }
    raw = os.path.join(work, "raw")
    os.makedirs(raw, exist_ok=True)
    for split, rows in splits.items():
        for lang in ("src", "tgt"):
            with open(os.path.join(raw, f"{split}.{lang}"), "w", encoding="utf-8") as f:
                f.writelines(r + "\n" for r in rows)
    dest = os.path.join(work, "data-bin")
    subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "preprocess", "binarize.py"),
            "--bert",
            bert,
            "-s",
            "src",
            "-t",
            "tgt",
            "--trainpref",
            f"{raw}/train",
            "--validpref",
            f"{raw}/valid",
            "--testpref",
            f"{raw}/test",
            "--destdir",
            dest,
            "--max-len",
            str(max_len),
            "--quiet",
        ],
        check=True,
    )
    return dest, os.path.join(raw, "test.tgt")


def train(args, train_args, work):
    """Run fairseq-train, returning {updates: train seconds} of the saved checkpoints and the log."""
    save_dir = os.path.join(work, "checkpoints")
    every = save_interval(args)
    cmd = [
        sys.executable,
        "-m",
        "fairseq_cli.train",
        args.data,
        "--user-dir",
        PLUGIN_DIR,
        "--task",
        "bnb_seq2seq",
        "-s",
        args.source_lang,
        "-t",
        args.target_lang,
        "--save-dir",
        save_dir,
        "--save-interval-updates",
        str(every),
        "--keep-interval-updates",
        "-1",
        "--no-epoch-checkpoints",
        "--no-save-optimizer-state",
        "--disable-validation",
        "--max-update",
        str(max(args.eval_updates)),
        "--log-format",
        "simple",
        "--log-interval",
        str(min(10, every)),
    ]
    if args.max_minutes:
        cmd += ["--stop-time-hours", str(args.max_minutes / 60)]
    cmd += train_args
    log_path = os.path.join(work, "train.log")
    print("learning_curve: " + " ".join(cmd), flush=True)
    times, ctc, saving, last_ctc = {}, {}, 0.0, None
    start = time.time()
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    with (
        open(log_path, "w", encoding="utf-8") as log,
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc,
    ):
        for line in proc.stdout:
            log.write(line)
            m = TRAIN_INNER.search(line)
            if m:
                last_ctc = float(m.group(1))
                print(f"  update {m.group(2)}: ctc {m.group(1)} bits/token", flush=True)
            m = SAVED.search(line)
            if m:
                saving += float(m.group(4))
                updates = int(m.group(3))
                times[updates] = time.time() - start - saving
                ctc[updates] = last_ctc
                if updates % every == 0:
                    keep_epoch_end_save(save_dir, m.group(1), int(m.group(2)), updates)
    if proc.returncode != 0:
        raise SystemExit(f"error: fairseq-train failed ({proc.returncode}); see {log_path}")
    return save_dir, times, ctc


def keep_epoch_end_save(save_dir, saved, epoch, updates):
    """fairseq writes no interval save at an update that ends an epoch, only checkpoint_last.pt, which later
    saves overwrite: copy it now under the interval save's name, so that this update is scored with its own
    weights (fairseq logs the save once written, and the next save is at least one update away)."""
    if os.path.basename(saved) != "checkpoint_last.pt" or interval_save(save_dir, updates):
        return
    shutil.copyfile(saved, os.path.join(save_dir, f"checkpoint_{epoch}_{updates}.pt"))


def interval_save(save_dir, updates):
    """The update-interval save ``checkpoint_E_U.pt`` of update U, or None."""
    found = glob.glob(os.path.join(save_dir, f"checkpoint_*_{updates}.pt"))
    return found[0] if found else None


def save_interval(args):
    """Saves come every gcd(eval updates, --average-every) updates."""
    return reduce(math.gcd, args.eval_updates + ([args.average_every] if args.average_every else []))


def averaged_scores(args, save_dir, updates, reference, work):
    """Scores of the mean of the --average-last saves ending at ``updates``, --average-every apart (None when
    the training has not saved them all)."""
    from bnb_fairseq.tools.average_checkpoints import average

    step = args.average_every or save_interval(args)
    wanted = [updates - i * step for i in reversed(range(args.average_last))]
    paths = [interval_save(save_dir, u) if u > 0 else None for u in wanted]
    if None in paths:
        missing = wanted[paths.index(None)]
        print(f"learning_curve: {updates} updates: no save at update {missing}, nothing to average", flush=True)
        return None
    out = os.path.join(work, "averaged", f"checkpoint_mean_{updates}.pt")
    average(paths, out)
    scores = decode(out, args.data, args.subset, reference, args.cased, args.max_tokens, args.ctc_blank_penalty)
    if not args.keep_checkpoints:
        os.remove(out)
    return {
        "averaged_updates": " ".join(str(u) for u in wanted),
        "averaged_bleu": scores["bleu"],
        "averaged_length_ratio": scores["length_ratio"],
        "averaged_repeats": scores["repeats"],
    }


def load_for_decoding(checkpoint, data, subset):
    """A checkpoint and a split loaded once, to decode several times (tools/decode_score.py)."""
    from bnb_fairseq.tools import decode_score

    return decode_score.load(checkpoint, data, subset)


def decode(checkpoint, data, subset, reference, cased, max_tokens, blank_penalty=None, loaded=None, **options):
    """Hypotheses for every sentence of ``subset`` in input order, scored with sacrebleu.

    ``loaded``: the result of ``load_for_decoding`` for this checkpoint and split, to skip reloading.
    ``options``: decoding options by name (``ctc_beam=4`` ...) over the checkpoint's own.
    """
    from bnb_fairseq.tools import decode_score

    loaded = loaded or load_for_decoding(checkpoint, data, subset)
    if blank_penalty is not None:
        options["ctc_blank_penalty"] = blank_penalty
    generator = decode_score.build_generator(loaded, **options)
    hyps, seconds = decode_score.decode(loaded, generator, max_tokens=max_tokens)
    try:
        scores = decode_score.score_split(loaded, hyps, reference, cased)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    return {
        "bleu": round(scores["BLEU-4"], 2),
        "length_ratio": scores["length_ratio"],
        "repeats": scores["repeats"],
        "hyp_len": scores["sys_len"],
        "ref_len": scores["ref_len"],
        "sentences": len(loaded.dataset),
        "decode_seconds": round(seconds, 1),
        "example": scores["hypotheses"][0],
    }


def run(args, train_args):
    from bnb_fairseq.tools.average_checkpoints import saved_updates

    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    reference = args.reference
    if args.copy_text:
        if not args.bert:
            raise SystemExit("error: --copy-text needs --bert (the checkpoint whose vocabulary binarizes it)")
        args.data, copy_ref = build_copy_data(
            args.copy_text, args.bert, work, args.valid_lines, args.test_lines, args.max_len
        )
        args.source_lang, args.target_lang = "src", "tgt"
        reference = reference or copy_ref
    if not args.data or not args.source_lang or not args.target_lang:
        raise SystemExit("error: give --data, -s and -t (a binarized directory), or --copy-text and --bert")
    save_dir, times, ctc = train(args, train_args, work)
    points = [u for u in args.eval_updates if u in times]
    last = os.path.join(save_dir, "checkpoint_last.pt")
    final = saved_updates(last) if os.path.exists(last) else None
    rows = []
    for updates in sorted(set(points + ([final] if final else []))):
        path = interval_save(save_dir, updates) or last
        scores = decode(path, args.data, args.subset, reference, args.cased, args.max_tokens, args.ctc_blank_penalty)
        train_seconds = times.get(updates)
        rows.append(
            {
                "label": args.label,
                "updates": updates,
                "train_seconds": round(train_seconds, 1) if train_seconds else None,
                "seconds_per_update": round(train_seconds / updates, 3) if train_seconds else None,
                "train_ctc_bits": ctc.get(updates),
                **scores,
            }
        )
        print(
            f"learning_curve: {updates} updates, {rows[-1]['train_seconds']} s: BLEU {scores['bleu']}, "
            f"length ratio {scores['length_ratio']}, repeats {scores['repeats']}  e.g. {scores['example']!r}",
            flush=True,
        )
        if args.average_last > 1:
            averaged = averaged_scores(args, save_dir, updates, reference, work)
            if averaged:
                rows[-1].update(averaged)
                print(
                    f"learning_curve: {updates} updates, the mean of the saves at {averaged['averaged_updates']}: "
                    f"BLEU {averaged['averaged_bleu']}, length ratio {averaged['averaged_length_ratio']}, "
                    f"repeats {averaged['averaged_repeats']}",
                    flush=True,
                )
    if not args.keep_checkpoints:
        for path in glob.glob(os.path.join(save_dir, "checkpoint*.pt")):
            os.remove(path)
    meta = {
        "label": args.label,
        "data": args.data,
        "subset": args.subset,
        "reference": reference,
        "ctc_blank_penalty": args.ctc_blank_penalty,
        "train_args": train_args,
        "threads": _threads(),
        "rows": rows,
    }
    with open(os.path.join(work, "curve.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(work, "curve.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    plot([os.path.join(work, "curve.json")], os.path.join(work, "curve.png"))
    print(f"learning_curve: wrote {work}/curve.csv, curve.json, curve.png")
    return rows


def _threads():
    import torch

    return torch.get_num_threads()


def plot(curve_files, out):
    """BLEU and length ratio against updates and against training time, one line per curve."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # fairseq's import sets DEBUG on the root
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for path in curve_files:
        with open(path, encoding="utf-8") as f:
            curve = json.load(f)
        rows = curve["rows"]
        label = curve.get("label") or os.path.basename(os.path.dirname(path))
        x = [r["updates"] for r in rows]
        axes[0].plot(x, [r["bleu"] for r in rows], marker="o", label=label)
        axes[1].plot(x, [r["length_ratio"] for r in rows], marker="o", label=label)
        timed = [r for r in rows if r.get("train_seconds")]
        axes[2].plot([r["train_seconds"] / 60 for r in timed], [r["bleu"] for r in timed], marker="o", label=label)
    for ax, (xl, yl) in zip(
        axes, (("updates", "BLEU"), ("updates", "hypothesis / reference length"), ("training minutes", "BLEU"))
    ):
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    train_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, train_args = argv[:i], argv[i + 1 :]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train a recipe and score its checkpoints (fairseq-train args after --)")
    r.add_argument("--data", help="binarized data directory (preprocess/binarize.py)")
    r.add_argument("-s", "--source-lang")
    r.add_argument("-t", "--target-lang")
    r.add_argument("--work", required=True, help="output folder: train.log, curve.csv/json/png")
    r.add_argument("--label", default=None, help="name of this curve in plots and tables")
    r.add_argument(
        "--eval-updates",
        default="100,300,1000",
        help="comma-separated update counts to score (training stops at the largest)",
    )
    r.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
    r.add_argument("--subset", default="test", help="held-out split to decode")
    r.add_argument(
        "--reference", default=None, help="raw reference file of --subset (default: the binarized targets, detokenized)"
    )
    r.add_argument("--cased", action="store_true", help="case-sensitive BLEU (cased target checkpoint)")
    r.add_argument("--max-tokens", type=int, default=4096, help="decoding batch size in tokens")
    r.add_argument(
        "--ctc-blank-penalty",
        type=float,
        default=None,
        help="decode with this --ctc-blank-penalty (default: the task's, 0)",
    )
    r.add_argument("--copy-text", default=None, help="build a copy task (src = tgt) from this text file")
    r.add_argument("--bert", default=None, help="BERT checkpoint directory that binarizes --copy-text")
    r.add_argument("--valid-lines", type=int, default=200, help="copy mode: held-out valid lines")
    r.add_argument("--test-lines", type=int, default=300, help="copy mode: held-out test lines")
    r.add_argument("--max-len", type=int, default=128, help="copy mode: binarize --max-len")
    r.add_argument("--keep-checkpoints", action="store_true")
    r.add_argument(
        "--average-last",
        type=int,
        default=1,
        help="also score, at each evaluated update, the mean of the last N saves (tools/average_checkpoints.py)",
    )
    r.add_argument(
        "--average-every",
        type=int,
        default=None,
        help="updates between the averaged saves (default: the save interval, gcd of --eval-updates)",
    )
    pl = sub.add_parser("plot", help="draw several curve.json files in one figure")
    pl.add_argument("curves", nargs="+")
    pl.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if args.command == "plot":
        print(plot(args.curves, args.out))
        return 0
    if args.label is None:
        args.label = os.path.basename(os.path.abspath(args.work))
    try:
        args.eval_updates = sorted({int(u) for u in args.eval_updates.split(",")})
    except ValueError:
        p.error(f"--eval-updates {args.eval_updates!r}: give comma-separated integers, e.g. 100,300,1000")
    if not args.eval_updates or args.eval_updates[0] <= 0:
        p.error("--eval-updates: update counts must be positive")
    if args.average_last < 1 or (args.average_every is not None and args.average_every <= 0):
        p.error("--average-last and --average-every: give positive integers")
    run(args, train_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
