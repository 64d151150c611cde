#!/usr/bin/env python
"""Score fairseq-generate output against the raw reference file with sacrebleu.

fairseq-generate's own BLEU compares against references rebuilt from word pieces; this reads the
detokenized D- lines, checks that every input line got exactly one hypothesis, scores against the
untouched reference text (lowercased unless --cased) and prints sacrebleu's signature and the speed
line fairseq-generate logged. The scoring is ``python -m bnb_fairseq.tools.score``'s (which also
gives ROUGE and METEOR).

  python examples/score_generate.py GEN_OUTPUT REFERENCE_FILE [--cased] [--hyps-out FILE]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bnb_fairseq.tools.score import (  # noqa: E402
    ScoreError,
    bleu,
    ordered_hypotheses,
    read_generate_speed,
    read_hypotheses,
    read_references,
)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("generate_output")
    p.add_argument("reference")
    p.add_argument("--cased", action="store_true", help="case-sensitive BLEU (cased target checkpoint)")
    p.add_argument("--hyps-out", help="write the hypotheses in input order to this file")
    args = p.parse_args(argv)
    try:
        refs = read_references(args.reference)
        hyps = ordered_hypotheses(read_hypotheses(args.generate_output), refs, args.generate_output, args.reference)
    except ScoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.hyps_out:
        with open(args.hyps_out, "w", encoding="utf-8") as f:
            f.writelines(h + "\n" for h in hyps)
    result = bleu(hyps, refs, lowercase=not args.cased)
    print(result["bleu_detail"])
    print(f"signature: {result['bleu_signature']}")
    speed = read_generate_speed(args.generate_output)
    if speed:
        print(f"speed: {speed[0]} sentences in {speed[1]:.1f}s = {speed[2]:.2f} sentences/s (fairseq-generate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
