#!/usr/bin/env python
"""Score fairseq-generate output against the raw reference file with sacrebleu.

fairseq-generate's own BLEU compares against references rebuilt from word pieces; this
reads the detokenized D- lines, checks that every input line got exactly one hypothesis,
and scores against the untouched reference text (lowercased for uncased checkpoints), then
prints sacrebleu's signature and the speed line fairseq-generate logged.

  python examples/score_generate.py GEN_OUTPUT REFERENCE_FILE [--cased] [--hyps-out FILE]
"""
import argparse
import re
import sys


def read_generate_output(path):
    hyps, speed = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("D-"):
                head, _score, text = (line.rstrip("\n").split("\t") + ["", ""])[:3]
                idx = int(head[2:])
                if idx in hyps:
                    continue  # --nbest > 1: keep the best
                hyps[idx] = text
            m = re.search(r"Translated ([\d,]+) sentences .* in ([\d.]+)s \(([\d.]+) sentences/s", line)
            if m:
                speed = (int(m.group(1).replace(",", "")), float(m.group(2)), float(m.group(3)))
    return hyps, speed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("generate_output")
    p.add_argument("reference")
    p.add_argument("--cased", action="store_true", help="case-sensitive BLEU (cased target checkpoint)")
    p.add_argument("--hyps-out", help="write the hypotheses in input order to this file")
    args = p.parse_args(argv)
    from sacrebleu.metrics import BLEU

    hyps, speed = read_generate_output(args.generate_output)
    with open(args.reference, encoding="utf-8") as f:
        refs = [line.rstrip("\n") for line in f]
    missing = [i for i in range(len(refs)) if i not in hyps]
    if missing or len(hyps) != len(refs):
        print(f"error: {args.generate_output} has {len(hyps)} hypotheses for {len(refs)} lines of {args.reference}; "
              f"missing ids: {missing[:10]}", file=sys.stderr)
        return 1
    ordered = [hyps[i] for i in range(len(refs))]
    if args.hyps_out:
        with open(args.hyps_out, "w", encoding="utf-8") as f:
            f.writelines(h + "\n" for h in ordered)
    bleu = BLEU(lowercase=not args.cased)
    score = bleu.corpus_score(ordered, [refs])
    print(f"{score}")
    print(f"signature: {bleu.get_signature()}")
    if speed:
        print(f"speed: {speed[0]} sentences in {speed[1]:.1f}s = {speed[2]:.2f} sentences/s (fairseq-generate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
