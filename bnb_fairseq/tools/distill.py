"""Sequence-level knowledge distillation: re-translate the training set with a teacher.

Non-autoregressive models (bnb) learn far better from a teacher's translations than from the
original references, whose many valid word orders a parallel decoder cannot choose between (Kim &
Rush, 2016; Gu et al., 2018). This decodes the chosen splits of a binarized data directory with a
trained checkpoint and writes a new data directory, ready for ``fairseq-train --arch bnb_*``:

  python -m bnb_fairseq.tools.distill --teacher ckpt/checkpoint_best.pt --data data-bin -s es -t en \\
      --out data-bin-distilled [--subsets train] [--beam 4] [--lenpen 1.0] [--max-len-a 1.2] \\
      [--max-len-b 10] [--batch-size 64] [--shard-size 1000] [--valid-subset valid] \\
      [--valid-reference raw/valid.en] [--cpu] [--threads N]

The teacher is a bert2bert (beam search: --beam, --lenpen, --max-len-a/-b) or a BnB checkpoint, which
decodes in its one pass with the decoding settings stored in it (tools/tune_blank_penalty.py --save) or
--ctc-blank-penalty: its students then learn the output the teacher gives only with a decoding penalty.

The output holds the input's dictionaries, tokenizers and every split unchanged, except the target
side of the distilled splits, which becomes ``[CLS] hypothesis [SEP]`` line for line. A hypothesis
that is empty falls back to the line's original reference, so no sentence pair is lost.

Decoding is resumable: each shard of --shard-size consecutive sentences is saved under
OUT/.distill-shards/ when finished, and re-running the same command decodes only the shards that
are missing (or were made with other settings). The output proper is assembled in a staging folder
and moved into OUT at the end, so an error leaves no half-written data. OUT/distill.json records
the settings, counts, fallbacks, speed and the teacher's BLEU on --valid-subset.
"""

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time

from bnb_fairseq.data.staging import commit

logger = logging.getLogger("bnb_fairseq.distill")
SHARD_DIR = ".distill-shards"
AR_DEFAULTS = {"beam": 4, "lenpen": 1.0, "max_len_a": 1.2, "max_len_b": 10}  # bert2bert teachers' beam search


class DistillError(Exception):
    """Bad user input: reported as one message, exit status 1."""


def get_parser():
    p = argparse.ArgumentParser(
        prog="python -m bnb_fairseq.tools.distill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--teacher", required=True, metavar="CKPT", help="bert2bert (beam search) or BnB (one pass) checkpoint"
    )
    p.add_argument(
        "--data", required=True, metavar="DATA_BIN", help="binarized data directory (preprocess/binarize.py)"
    )
    p.add_argument("-s", "--source-lang", required=True)
    p.add_argument("-t", "--target-lang", required=True)
    p.add_argument("--out", required=True, metavar="OUT_DIR", help="data directory to write")
    p.add_argument("--subsets", default="train", help="comma-separated splits whose targets are distilled")
    p.add_argument("--beam", type=int, default=None, help=f"bert2bert teacher (default {AR_DEFAULTS['beam']})")
    p.add_argument("--lenpen", type=float, default=None, help=f"bert2bert teacher (default {AR_DEFAULTS['lenpen']})")
    p.add_argument(
        "--max-len-a",
        type=float,
        default=None,
        help="bert2bert teacher: hypotheses have at most a x source length + b pieces "
        f"(default {AR_DEFAULTS['max_len_a']})",
    )
    p.add_argument(
        "--max-len-b", type=int, default=None, help=f"bert2bert teacher (default {AR_DEFAULTS['max_len_b']})"
    )
    p.add_argument(
        "--ctc-blank-penalty",
        type=float,
        default=None,
        metavar="P",
        help="BnB CTC teacher: the blank penalty of its greedy decoding (default: the value stored in the "
        "checkpoint by tools/tune_blank_penalty.py --save, else 0)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="sentences per batch")
    p.add_argument("--shard-size", type=int, default=1000, help="sentences per resumable shard")
    p.add_argument(
        "--valid-subset", default="valid", help="split on which the teacher's BLEU is reported ('none' to skip)"
    )
    p.add_argument(
        "--valid-reference",
        default=None,
        metavar="FILE",
        help="raw reference text of --valid-subset, one line a sentence (default: its binarized targets)",
    )
    p.add_argument(
        "--cased",
        action="store_true",
        help="case-sensitive BLEU whatever the target tokenizer; by "
        "default lowercased when the target tokenizer lowercases",
    )
    p.add_argument("--cpu", action="store_true", help="decode on the CPU even if CUDA is available")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (torch.set_num_threads)")
    return p


# --- input checks (before the teacher is loaded, so mistakes fail in seconds) ---


def split_prefix(data, split, src, tgt):
    """``DATA/split.src-tgt.`` (or ``tgt-src``, as fairseq accepts): the prefix of a split's files."""
    for pair in (f"{src}-{tgt}", f"{tgt}-{src}"):
        base = os.path.join(data, f"{split}.{pair}.")
        if os.path.isfile(base + f"{src}.idx"):
            break
    else:
        base = os.path.join(data, f"{split}.{src}-{tgt}.")
    for lang in (src, tgt):
        for ext in ("bin", "idx"):
            if not os.path.isfile(f"{base}{lang}.{ext}"):
                raise DistillError(
                    f"{base}{lang}.{ext}: no such file; split '{split}' is missing from {data} "
                    "(binarize it with preprocess/binarize.py)"
                )
    return base


def count_sentences(prefix):
    from fairseq.data import data_utils

    dataset = data_utils.load_indexed_dataset(prefix, None, None)
    if dataset is None:
        raise DistillError(f"{prefix}.bin: not a fairseq indexed dataset")
    return len(dataset)


def count_lines(path):
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f)


def check_inputs(args):
    """Every input problem that needs no model, as one message naming the file."""
    if not os.path.isfile(args.teacher):
        raise DistillError(f"--teacher {args.teacher}: no such checkpoint file")
    if not os.path.isdir(args.data):
        raise DistillError(f"--data {args.data}: no such directory")
    for lang in (args.source_lang, args.target_lang):
        path = os.path.join(args.data, f"dict.{lang}.txt")
        if not os.path.isfile(path):
            raise DistillError(f"{path}: no such file; --data must be a directory written by preprocess/binarize.py")
    if (args.beam is not None and args.beam < 1) or args.batch_size < 1 or args.shard_size < 1:
        raise DistillError("--beam, --batch-size and --shard-size must be at least 1")
    if os.path.abspath(args.out) == os.path.abspath(args.data):
        raise DistillError(f"--out {args.out} is the input data directory; choose a new directory")
    for split in args.subsets:
        split_prefix(args.data, split, args.source_lang, args.target_lang)
    if args.valid_subset:
        try:
            base = split_prefix(args.data, args.valid_subset, args.source_lang, args.target_lang)
        except DistillError as e:
            raise DistillError(f"{e}; pass --valid-subset none to skip the teacher's BLEU") from None
        if args.valid_reference:
            if not os.path.isfile(args.valid_reference):
                raise DistillError(f"--valid-reference {args.valid_reference}: no such file")
            n_ref, n_split = count_lines(args.valid_reference), count_sentences(base + args.source_lang)
            if n_ref != n_split:
                raise DistillError(
                    f"--valid-reference {args.valid_reference} has {n_ref} lines but split "
                    f"'{args.valid_subset}' ({base}{args.source_lang}.bin) has {n_split} sentences"
                )
    elif args.valid_reference:
        raise DistillError("--valid-reference needs a --valid-subset (it is 'none')")


def load_teacher(args, use_cuda):
    """(models, task) of the teacher checkpoint, on the data of --data."""
    from fairseq import checkpoint_utils

    import bnb_fairseq  # noqa: F401  (registers the task and models)

    overrides = {"data": args.data, "source_lang": args.source_lang, "target_lang": args.target_lang}
    try:
        state = checkpoint_utils.load_checkpoint_to_cpu(args.teacher, overrides)
    except Exception as e:  # a truncated or foreign file: name it (errors building the model keep their traceback)
        raise DistillError(
            f"--teacher {args.teacher}: not a readable fairseq checkpoint ({type(e).__name__}: {e})"
        ) from e
    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [args.teacher], arg_overrides=overrides, state=state
    )
    for model in models:
        model.eval()
        if use_cuda:
            model.cuda()
    return models, task


def beam_options(args):
    return {name: getattr(args, name) for name in AR_DEFAULTS}


def build_teacher_generator(args, task, models):
    """The generator, and the settings its output depends on: beam search for a bert2bert teacher, the
    one-pass generator with its resolved decoding options for a BnB teacher."""
    from dataclasses import asdict

    from bnb_fairseq.models.parallel_decoder import is_autoregressive

    if all(is_autoregressive(m) for m in models):
        if args.ctc_blank_penalty is not None:
            raise DistillError(
                f"--teacher {args.teacher} is a bert2bert (beam search) model, which ignores --ctc-blank-penalty: "
                "drop it (its beam search takes --beam, --lenpen and --max-len-a/-b)"
            )
        beam = {name: AR_DEFAULTS[name] if value is None else value for name, value in beam_options(args).items()}
        return task.build_generator(models, argparse.Namespace(**beam)), beam
    given = [f"--{name.replace('_', '-')}" for name, value in beam_options(args).items() if value is not None]
    if given:
        raise DistillError(
            f"--teacher {args.teacher} is a one-pass ({type(models[0]).__name__}) model, which ignores "
            f"{' and '.join(given)}: drop it (it decodes with --ctc-blank-penalty or the settings stored by "
            "tools/tune_blank_penalty.py --save)"
        )
    given = {} if args.ctc_blank_penalty is None else {"ctc_blank_penalty": args.ctc_blank_penalty}
    generator = task.build_generator(models, argparse.Namespace(**given))
    return generator, {"one_pass": asdict(generator.options)}


# --- decoding ---


def shard_view(dataset, start, end):
    """The sentences ``start`` .. ``end``-1 of a LanguagePairDataset, as one (ids from 0)."""
    from fairseq.data import LanguagePairDataset
    from torch.utils.data import Subset

    ids = range(start, end)
    return LanguagePairDataset(
        Subset(dataset.src, ids),
        dataset.src_sizes[start:end],
        dataset.src_dict,
        Subset(dataset.tgt, ids),
        dataset.tgt_sizes[start:end],
        dataset.tgt_dict,
        left_pad_source=dataset.left_pad_source,
        left_pad_target=dataset.left_pad_target,
        eos=dataset.eos,
        shuffle=False,
        pad_to_multiple=dataset.pad_to_multiple,
    )


def decode(task, generator, models, dataset, batch_size, use_cuda):
    """Yield (id, best hypothesis tokens, reference tokens) for every sentence of ``dataset``."""
    import torch
    from fairseq import utils

    max_positions = utils.resolve_max_positions(task.max_positions(), *[m.max_positions() for m in models])
    itr = task.get_batch_iterator(
        dataset=dataset,
        max_sentences=batch_size,
        max_positions=max_positions,
        ignore_invalid_inputs=False,
        required_batch_size_multiple=1,
        num_workers=0,
        disable_iterator_cache=True,
    ).next_epoch_itr(shuffle=False)
    pad = task.target_dictionary.pad()
    with torch.no_grad():
        for sample in itr:
            if use_cuda:
                sample = utils.move_to_cuda(sample)
            hypos = task.inference_step(generator, models, sample)
            for i, nbest, ref in zip(sample["id"].tolist(), hypos, sample["target"]):
                yield i, nbest[0]["tokens"].tolist(), utils.strip_pad(ref, pad).tolist()


def answer_line(hypothesis, reference, dictionary):
    """The distilled target ``[CLS] pieces [SEP]`` of one line, and whether it fell back to ``reference``.

    Special tokens are dropped from the hypothesis; if no word piece is left, the line keeps its
    original reference (so every source line keeps a target).
    """
    special = {dictionary.bos(), dictionary.eos(), dictionary.pad()}
    pieces = [t for t in hypothesis if t not in special]
    if pieces:
        return [dictionary.bos()] + pieces + [dictionary.eos()], False
    pieces = [t for t in reference if t not in special]
    return [dictionary.bos()] + pieces + [dictionary.eos()], True


def save_atomic(obj, path):
    """torch.save to a temporary file beside ``path``, then rename: a crash never leaves half a shard."""
    import torch

    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_shard(path, settings, start, end):
    """A finished shard's content, or None if it is absent, unreadable, incomplete or from other settings."""
    import torch

    if not os.path.isfile(path):
        return None
    try:
        shard = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        logger.warning(f"{path}: unreadable ({e}); decoding it again")
        return None
    if shard.get("settings") != settings:
        logger.warning(f"{path}: made with other settings; decoding it again")
        return None
    if sorted(shard.get("lines", {})) != list(range(start, end)):
        logger.warning(f"{path}: does not hold sentences {start}..{end - 1}; decoding it again")
        return None
    return shard


def distill_subset(args, split, task, generator, models, use_cuda, settings):
    """Decode ``split`` shard by shard into OUT/.distill-shards; returns the shard paths and statistics."""
    task.load_dataset(split)
    dataset = task.dataset(split)
    dictionary = task.target_dictionary
    shard_dir = os.path.join(args.out, SHARD_DIR)
    os.makedirs(shard_dir, exist_ok=True)
    n = len(dataset)
    stats = {
        "sentences": n,
        "shards": 0,
        "shards_decoded": [],
        "shards_done_earlier": [],
        "fallbacks": 0,
        "fallback_ids": [],
        "hyp_pieces": 0,
        "ref_pieces": 0,
        "decoded_sentences": 0,
        "decode_seconds": 0.0,
    }
    paths = []
    for k, start in enumerate(range(0, n, args.shard_size)):
        end = min(start + args.shard_size, n)
        path = os.path.join(shard_dir, f"{split}.{k:05d}.pt")
        shard_settings = dict(settings, subset=split, shard=k, start=start, end=end)
        shard = load_shard(path, shard_settings, start, end)
        if shard is not None:
            logger.info(f"{split} shard {k}: done earlier (sentences {start}..{end - 1})")
            stats["shards_done_earlier"].append(k)
        else:
            began = time.time()
            lines, fallbacks = {}, []
            for i, hypo, ref in decode(
                task, generator, models, shard_view(dataset, start, end), args.batch_size, use_cuda
            ):
                lines[start + i], fell_back = answer_line(hypo, ref, dictionary)
                if fell_back:
                    fallbacks.append(start + i)
            if sorted(lines) != list(range(start, end)):
                raise RuntimeError(f"{split} shard {k}: {end - start - len(lines)} sentence(s) got no hypothesis")
            shard = {"settings": shard_settings, "lines": lines, "fallbacks": sorted(fallbacks)}
            save_atomic(shard, path)
            seconds = time.time() - began
            stats["decode_seconds"] += seconds
            stats["decoded_sentences"] += end - start
            stats["shards_decoded"].append(k)
            logger.info(
                f"{split} shard {k}: decoded (sentences {start}..{end - 1}, {seconds:.1f}s, "
                f"{len(fallbacks)} fallback(s))"
            )
        stats["shards"] += 1
        stats["fallbacks"] += len(shard["fallbacks"])
        stats["fallback_ids"] += shard["fallbacks"]
        stats["hyp_pieces"] += sum(len(t) - 2 for t in shard["lines"].values())
        stats["ref_pieces"] += int(dataset.tgt_sizes[start:end].sum()) - 2 * (end - start)
        paths.append(path)
    return paths, stats


def write_targets(shard_paths, out_prefix, vocab_size):
    """The distilled targets, in sample-id order, as a fairseq mmap dataset; returns the line count."""
    import torch
    from fairseq.data import indexed_dataset

    builder = indexed_dataset.make_builder(out_prefix + ".bin", impl="mmap", vocab_size=vocab_size)
    n = 0
    for path in shard_paths:  # one shard in memory at a time
        lines = torch.load(path, map_location="cpu", weights_only=True)["lines"]
        for i in sorted(lines):
            builder.add_item(torch.tensor(lines[i], dtype=torch.int64))
            n += 1
    builder.finalize(out_prefix + ".idx")
    return n


def valid_bleu(args, task, generator, models, use_cuda):
    """The teacher's sacrebleu corpus BLEU (default settings) on --valid-subset, detokenized by the target
    tokenizer's own decoder (tools/decode_score.py)."""
    import torch

    from bnb_fairseq.tools.decode_score import UNK_IN_REFERENCE, TextMaker, corpus_bleu

    task.load_dataset(args.valid_subset)
    dataset = task.dataset(args.valid_subset)
    text = TextMaker(task, args.cased)
    hyps, refs = {}, {}
    began = time.time()
    for i, hypo, ref in decode(
        task, generator, models, shard_view(dataset, 0, len(dataset)), args.batch_size, use_cuda
    ):
        hyps[i] = text(torch.tensor(hypo))
        refs[i] = text(torch.tensor(ref), unk=UNK_IN_REFERENCE)
    seconds = time.time() - began
    reference = "binarized targets"
    if args.valid_reference:
        with open(args.valid_reference, encoding="utf-8") as f:
            refs = dict(enumerate(line.rstrip("\n") for line in f))
        reference = os.path.abspath(args.valid_reference)
    order = range(len(dataset))
    bleu = corpus_bleu([hyps[i] for i in order], [refs[i] for i in order], text.lowercase)
    n = max(len(dataset), 1)
    return {
        "subset": args.valid_subset,
        "sentences": len(dataset),
        "bleu": round(bleu["BLEU-4"], 2),
        "signature": bleu["bleu_signature"],
        "reference": reference,
        "length_ratio": bleu["length_ratio"],
        "mean_hyp_words": round(bleu["sys_len"] / n, 2),
        "mean_ref_words": round(bleu["ref_len"] / n, 2),
        "decode_seconds": round(seconds, 2),
        "example": hyps[0] if hyps else "",
    }


# --- output ---


def copy_inputs(data, stage, skip):
    """Dictionaries, tokenizers and every binarized file except those in ``skip``, byte for byte."""
    for name in sorted(os.listdir(data)):
        path = os.path.join(data, name)
        if name.startswith("tokenizer.") and os.path.isdir(path):
            shutil.copytree(path, os.path.join(stage, name))
        elif (
            os.path.isfile(path)
            and name not in skip
            and ((name.startswith("dict.") and name.endswith(".txt")) or name.endswith((".bin", ".idx")))
        ):
            shutil.copyfile(path, os.path.join(stage, name))


def run(args):
    import torch

    began = time.time()
    check_inputs(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    use_cuda = torch.cuda.is_available() and not args.cpu
    models, task = load_teacher(args, use_cuda)
    generator, generation = build_teacher_generator(args, task, models)
    teacher = os.path.abspath(args.teacher)
    stat = os.stat(teacher)
    # what a shard's content depends on: a resumed run reuses a shard only if all of it is unchanged
    settings = {
        "teacher": teacher,
        "teacher_size": stat.st_size,
        "teacher_mtime": stat.st_mtime,
        "data": os.path.abspath(args.data),
        "source_lang": args.source_lang,
        "target_lang": args.target_lang,
        **generation,
        "shard_size": args.shard_size,
    }
    report = {
        "teacher": teacher,
        "data": settings["data"],
        "source_lang": args.source_lang,
        "target_lang": args.target_lang,
        "device": "cuda" if use_cuda else "cpu",
        "generation": generation,
        "batch_size": args.batch_size,
        "shard_size": args.shard_size,
        "subsets": {},
        "valid": None,
    }

    os.makedirs(args.out, exist_ok=True)
    if args.valid_subset:  # first: a poor teacher shows before hours of decoding
        report["valid"] = valid_bleu(args, task, generator, models, use_cuda)
        logger.info(f"teacher {args.valid_subset} BLEU {report['valid']['bleu']}")
    shards = {}
    for split in args.subsets:
        shards[split], stats = distill_subset(args, split, task, generator, models, use_cuda, settings)
        n = max(stats["sentences"], 1)
        report["subsets"][split] = {
            "sentences": stats["sentences"],
            "shards": stats["shards"],
            "shards_decoded": stats["shards_decoded"],
            "shards_done_earlier": stats["shards_done_earlier"],
            "fallbacks": stats["fallbacks"],
            "fallback_ids": stats["fallback_ids"][:100],  # the first 100, to look at
            "mean_hyp_pieces": round(stats["hyp_pieces"] / n, 2),
            "mean_ref_pieces": round(stats["ref_pieces"] / n, 2),
            "decoded_sentences": stats["decoded_sentences"],
            "decode_seconds": round(stats["decode_seconds"], 2),
            "sentences_per_second": round(stats["decoded_sentences"] / max(stats["decode_seconds"], 1e-9), 2),
        }

    stage = tempfile.mkdtemp(prefix=".distill-stage-", dir=args.out)
    try:
        prefixes = {split: split_prefix(args.data, split, args.source_lang, args.target_lang) for split in args.subsets}
        distilled = {
            os.path.basename(prefixes[s]) + f"{args.target_lang}.{ext}" for s in args.subsets for ext in ("bin", "idx")
        }
        copy_inputs(args.data, stage, skip=distilled)
        for split in args.subsets:
            out_prefix = os.path.join(stage, os.path.basename(prefixes[split]) + args.target_lang)
            n_written = write_targets(shards[split], out_prefix, len(task.target_dictionary))
            n_sources = count_sentences(prefixes[split] + args.source_lang)
            if n_written != n_sources:
                raise RuntimeError(f"{split}: wrote {n_written} targets for {n_sources} sources")
        decoded = sum(s["decoded_sentences"] for s in report["subsets"].values())
        decode_seconds = sum(s["decode_seconds"] for s in report["subsets"].values())
        report["seconds"] = round(time.time() - began, 2)
        report["sentences_per_second"] = round(decoded / max(decode_seconds, 1e-9), 2)
        with open(os.path.join(stage, "distill.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        commit(stage, args.out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return report


def summary(report, out):
    lines = []
    for split, s in report["subsets"].items():
        lines.append(
            f"| {split}: {s['sentences']} sentences in {s['shards']} shard(s) ({len(s['shards_decoded'])} "
            f"decoded, {len(s['shards_done_earlier'])} done earlier), {s['fallbacks']} fallback(s) to the "
            f"reference, mean length {s['mean_hyp_pieces']} pieces (reference {s['mean_ref_pieces']}), "
            f"{s['sentences_per_second']} sentences/s"
        )
    if report["valid"]:
        v = report["valid"]
        lines.append(
            f"| teacher valid BLEU {v['bleu']} on '{v['subset']}' ({v['sentences']} sentences, "
            f"length ratio {v['length_ratio']}, {v['signature']})"
        )
    lines.append(f"| wrote {out} in {report['seconds']:.1f}s")
    return "\n".join(lines)


def main(argv=None):
    args = get_parser().parse_args(argv)
    args.subsets = [s for s in args.subsets.split(",") if s]
    if not args.subsets:
        raise SystemExit("distill: error: --subsets is empty")
    if args.valid_subset.lower() == "none":
        args.valid_subset = None
    try:
        report = run(args)
    except DistillError as e:
        raise SystemExit(f"distill: error: {e}") from None
    print(summary(report, args.out), flush=True)
    return 0


if __name__ == "__main__":
    # force: importing fairseq's text_to_speech task already configured the root logger its own way
    logging.basicConfig(
        format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO, stream=sys.stderr, force=True
    )
    sys.exit(main())
