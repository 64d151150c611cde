"""Choose --ctc-blank-penalty on a held-out split (never on the test split).

A CTC model early in training under-generates: the blank wins slots where a word belongs. This
decodes the valid split with each candidate penalty and prints the one with the best BLEU; with
``--save`` it also stores the value in the checkpoint (``decoding_defaults`` in its task state), where
fairseq-generate/-interactive, the Python API, tools/package.py and the tools find it: they decode with
it unless given --ctc-blank-penalty, and log where the value came from.

  python -m bnb_fairseq.tools.tune_blank_penalty CHECKPOINT DATA_BIN --reference raw/valid.en \\
      [--subset valid] [--candidates 0,0.5,1,1.5,2] [--cased] [--save]

The last line of the output is the chosen value alone.
"""

import argparse
import sys

from bnb_fairseq.tools.learning_curve import decode, load_for_decoding


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("data", help="binarized data directory")
    p.add_argument("--subset", default="valid")
    p.add_argument("--reference", default=None, help="raw reference of --subset (default: binarized targets)")
    p.add_argument("--candidates", default="0,0.5,1,1.5,2")
    p.add_argument("--cased", action="store_true")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--save", action="store_true", help="store the chosen value in CHECKPOINT as its decoding default")
    args = p.parse_args(argv)
    if args.subset == "test":
        p.error("--subset test: choose decoding settings on a held-out split other than the one you report")
    try:
        candidates = [float(c) for c in args.candidates.split(",")]
    except ValueError:
        p.error(f"--candidates {args.candidates!r}: give comma-separated numbers, e.g. 0,0.5,1")
    best = None
    loaded = load_for_decoding(args.checkpoint, args.data, args.subset)  # once for all candidates
    for penalty in candidates:
        scores = decode(
            args.checkpoint, args.data, args.subset, args.reference, args.cased, args.max_tokens, penalty, loaded=loaded
        )
        print(
            f"blank penalty {penalty:g}: {args.subset} BLEU {scores['bleu']}, length ratio {scores['length_ratio']}",
            file=sys.stderr,
            flush=True,
        )
        if best is None or scores["bleu"] > best[1]:
            best = (penalty, scores["bleu"])
    if args.save:
        from bnb_fairseq.generation.decoding import StoredDecodingDefaults

        chosen_by = f"tune_blank_penalty on {args.subset} (BLEU {best[1]})"
        StoredDecodingDefaults({"ctc_blank_penalty": best[0]}, chosen_by).save_into(args.checkpoint)
        print(f"stored --ctc-blank-penalty {best[0]:g} in {args.checkpoint} ({chosen_by})", file=sys.stderr, flush=True)
    print(f"{best[0]:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
