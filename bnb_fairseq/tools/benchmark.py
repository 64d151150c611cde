"""NAR-vs-AR speed and quality on one machine, in one run: ``python -m bnb_fairseq.tools.benchmark``.

Every setting decodes the same binarized test sentences in the same process, in ``--rounds`` rounds
that each time every setting in turn on its share of the sentences, so the ratios are not disturbed by
a machine that is faster at one time than another. Reported per setting:

- batch-1 latency: each of the first ``--latency-sentences`` sentences alone, after warm-up runs,
  p50/p90/mean milliseconds per sentence;
- throughput: the whole split in batches of ``--batch-size`` sentences (fairseq's length-sorted
  batching), sentences/s and hypothesis tokens/s;
- BLEU (sacrebleu, on detokenized text) and mean hypothesis length beside the reference length,
  from the throughput run; an AR model that never stops would show here.

Settings: AR greedy and AR beam 4 (fairseq's SequenceGenerator on ``--ar`` checkpoints), BnB CTC
greedy (and with ``--ctc-blank-penalty``, and the CTC prefix beam search with ``--ctc-beam``), for
``--length-control classify`` models the length beam (``--length-beam``) and refinement passes
(``--refine``), the model-only floor (encoder + decoder forward + argmax,
no generator), and fairseq's own cmlm_transformer at the BnB checkpoint's dimensions and
vocabulary with its IterativeRefinementGenerator in one pass. That cmlm model is untrained (a speed
reference only: no BLEU) and its length prediction is computed but replaced by the reference
length, so it emits as many tokens as a trained one would. Batches are collated before timing;
GPU clocks are read after ``torch.cuda.synchronize()``.
"""

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from argparse import Namespace

import torch

logger = logging.getLogger("bnb_fairseq.benchmark")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--data", required=True, help="binarized data directory (preprocess/binarize.py)")
    p.add_argument("-s", "--source-lang", required=True)
    p.add_argument("-t", "--target-lang", required=True)
    p.add_argument("--subset", default="test", help="split to decode")
    p.add_argument(
        "--reference",
        help="raw reference text of the split (one line per sentence); default: the detokenized binarized targets",
    )
    p.add_argument(
        "--ar",
        action="append",
        default=[],
        metavar="[LABEL=]CKPT",
        help="autoregressive (bert2bert) checkpoint; repeatable; decoded greedy and with beam 4",
    )
    p.add_argument(
        "--nar",
        action="append",
        default=[],
        metavar="[LABEL=]CKPT",
        help="BnB checkpoint; repeatable; decoded with every generator setting",
    )
    p.add_argument(
        "--cased",
        action="store_true",
        help="case-sensitive BLEU whatever the target tokenizer; by "
        "default lowercased when the target tokenizer lowercases",
    )
    p.add_argument("--ar-beams", default="1,4", help="beam sizes for the AR rows")
    p.add_argument("--max-len-a", type=float, default=1.2, help="AR output cap: a x source length + b")
    p.add_argument("--max-len-b", type=int, default=10)
    p.add_argument("--lenpen", type=float, default=1.0)
    p.add_argument(
        "--ctc-blank-penalty",
        type=float,
        action="append",
        default=[],
        help="extra BnB rows with this --ctc-blank-penalty (repeatable)",
    )
    p.add_argument(
        "--ctc-beam",
        type=int,
        action="append",
        default=[],
        help="extra BnB rows with a CTC prefix beam search of this width (repeatable)",
    )
    p.add_argument(
        "--rerank-blank-penalties",
        action="append",
        default=[],
        metavar="P1,P2,...",
        help="CTC --janus models: extra self-reranking rows whose candidates pool the CTC beams of these blank "
        "penalties (--ctc-beam-blank-penalties; repeatable)",
    )
    p.add_argument(
        "--length-beam",
        type=int,
        action="append",
        default=[],
        help="classify models: extra rows with a length beam of this width (repeatable)",
    )
    p.add_argument(
        "--refine",
        type=int,
        action="append",
        default=[],
        help="classify models: extra rows with this many mask-predict refinement passes (repeatable)",
    )
    p.add_argument(
        "--crf-decode-beam",
        type=int,
        action="append",
        default=[],
        help="CRF models: extra length-beam-1 Viterbi rows over this many candidates per slot (repeatable)",
    )
    p.add_argument(
        "--precision",
        default="fp32",
        help="comma-separated inference precisions (fp32, bf16, int8, int4: --inference-precision); every "
        "model gets every setting in each, from a fresh load, with its speed-up against the same setting in "
        "fp32 and its size in memory",
    )
    p.add_argument("--no-cmlm", action="store_true", help="skip fairseq's cmlm_transformer reference row")
    p.add_argument("--latency-sentences", type=int, default=100, help="sentences timed one at a time")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs of each setting before the timing")
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="the timing in this many rounds, each timing every setting in turn on its share of the sentences "
        "and batches (so that the machine's changes of speed reach all settings alike); 1: one setting after "
        "another",
    )
    p.add_argument("--batch-size", type=int, default=64, help="sentences per batch in the throughput run")
    p.add_argument("--max-sentences", type=int, default=None, help="use only the first N sentences of the split")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--baseline",
        default=None,
        help="label of the row speed-ups are relative to (default: the first bert2bert beam-4 row, else the first "
        "JANUS AR view beam-4 row)",
    )
    p.add_argument("--out", required=True, help="directory for results.md, results.json, speedup.png")
    p.add_argument(
        "--fast",
        action="store_true",
        help="smoke test: 8 sentences, 3 timed one by one, 1 warm-up run, batches of 4 (numbers mean nothing)",
    )
    args = p.parse_args(argv)
    from bnb_fairseq.generation.precision import PRECISIONS

    args.precisions = [x.strip() for x in args.precision.split(",") if x.strip()]
    unknown = [x for x in args.precisions if x not in PRECISIONS]
    if unknown or not args.precisions:
        p.error(f"--precision {args.precision}: choose from {', '.join(PRECISIONS)}")
    if args.fast:
        args.max_sentences, args.latency_sentences, args.warmup, args.batch_size = 8, 3, 1, 4
    return args


def labelled(spec):
    label, _, path = spec.rpartition("=")
    return (label or os.path.splitext(os.path.basename(path))[0]), path


class Setting:
    """One benchmark row: a callable decoding a collated batch into token-id hypotheses."""

    def __init__(self, label, kind, decode, bleu=True, note=""):
        self.label, self.kind, self.decode, self.bleu, self.note = label, kind, decode, bleu, note
        self.precision, self.fp32_label, self.model_bytes = "fp32", label, None


def in_precision(settings, model, precision, label):
    """Mark the settings of a model converted to ``precision`` (its rows read 'LABEL [int8] ...')."""
    from bnb_fairseq.modules.quantized import model_bytes

    onnx_file = model.decoder.onnx_file_bytes if precision.startswith("onnx") else None
    size = model_bytes(model) if onnx_file is None else onnx_file
    for s in settings:
        s.precision, s.model_bytes = precision, size
        if onnx_file is not None:
            s.note = "; ".join(filter(None, [s.note, "ONNX Runtime, size: the .onnx file"]))
        if precision != "fp32":
            s.fp32_label = s.label
            s.label = s.label.replace(label, f"{label} [{precision}]", 1)
    return settings


def load(path, data, device, precision="fp32"):
    """A fresh copy of the checkpoint's model, converted to ``precision`` (the generators built for it
    then leave it as it is)."""
    from fairseq import checkpoint_utils

    from bnb_fairseq.generation.precision import apply_inference_precision

    if not os.path.isfile(path):
        raise SystemExit(f"benchmark: checkpoint {path} not found")
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([path], arg_overrides={"data": data})
    model = apply_inference_precision(models[0].to(device).eval(), precision)
    return model, cfg, task


def move(sample, device):
    from fairseq import utils

    return utils.move_to_cuda(sample) if device.startswith("cuda") else sample


def first_hypothesis_tokens(hypos):
    return [h[0]["tokens"] for h in hypos]


def generator(task, model, **options):
    """The task's own generator for ``model`` with these decoding options (by their option names), so
    that every decoding option of the task works in the benchmark without being listed here."""
    return task.build_generator([model], Namespace(**options))


def ar_settings(label, model, task, args):
    from bnb_fairseq.models.parallel_decoder import is_autoregressive

    if not is_autoregressive(model):
        raise SystemExit(
            f"benchmark: --ar {label}: not an autoregressive model ({type(model).__name__}); "
            "pass BnB checkpoints with --nar"
        )
    rows = []
    for beam in [int(b) for b in args.ar_beams.split(",")]:
        gen = generator(task, model, beam=beam, max_len_a=args.max_len_a, max_len_b=args.max_len_b, lenpen=args.lenpen)
        name = "greedy" if beam == 1 else f"beam {beam}"
        rows.append(
            Setting(
                f"{label} AR {name}",
                f"ar-beam{beam}",
                lambda s, g=gen: first_hypothesis_tokens(task.inference_step(g, [model], s)),
                note=f"max len {args.max_len_a:g} x src + {args.max_len_b}",
            )
        )
    return rows


def nar_settings(label, model, task, args):
    from bnb_fairseq.models.janus import has_autoregressive_view
    from bnb_fairseq.models.parallel_decoder import is_parallel

    if not is_parallel(model):
        raise SystemExit(
            f"benchmark: --nar {label}: not a parallel (BnB) model ({type(model).__name__}); pass "
            "autoregressive checkpoints with --ar"
        )
    janus = janus_settings(label, model, task, args) if has_autoregressive_view(model) else []
    if model.decoder.predicts_length:
        return classify_settings(label, model, task, args) + janus + [floor_setting(label, model)]
    rows = []
    for penalty in [0.0] + [p for p in args.ctc_blank_penalty if p]:
        gen = generator(task, model, ctc_blank_penalty=penalty)
        name = "CTC greedy" + (f", blank penalty {penalty:g}" if penalty else "")
        rows.append(
            Setting(
                f"{label} BnB {name}",
                "bnb-ctc-greedy" if not penalty else "bnb-ctc-greedy-penalty",
                lambda s, g=gen: first_hypothesis_tokens(g.generate([model], s)),
            )
        )

    stored = generator(task, model)  # the decoding defaults stored in the checkpoint, if any
    if stored.options.blank_penalty and stored.options.blank_penalty not in args.ctc_blank_penalty:
        rows.append(
            Setting(
                f"{label} BnB CTC greedy, stored blank penalty {stored.options.blank_penalty:g}",
                "bnb-ctc-greedy-penalty",
                lambda s, g=stored: first_hypothesis_tokens(g.generate([model], s)),
            )
        )

    for beam in args.ctc_beam:
        gen = generator(task, model, ctc_beam=beam, ctc_blank_penalty=0.0)
        rows.append(
            Setting(
                f"{label} BnB CTC beam {beam}",
                "bnb-ctc-beam",
                lambda s, g=gen: first_hypothesis_tokens(g.generate([model], s)),
            )
        )

    rows += janus
    rows.append(floor_setting(label, model))
    return rows


def janus_settings(label, model, task, args):
    """A --janus model's other decodings from the same checkpoint: its autoregressive view by beam search
    (each --ar-beams width) and its one-pass candidates (CTC beam or length beam, each --ctc-beam /
    --length-beam width, 4 when none is given) reranked by that view."""
    rows = []
    for beam in [int(b) for b in args.ar_beams.split(",")]:
        gen = generator(
            task,
            model,
            decode_mode="ar",
            beam=beam,
            max_len_a=args.max_len_a,
            max_len_b=args.max_len_b,
            lenpen=args.lenpen,
        )
        rows.append(
            Setting(
                f"{label} JANUS AR view {'greedy' if beam == 1 else f'beam {beam}'}",
                f"janus-ar-beam{beam}",
                lambda s, g=gen: first_hypothesis_tokens(task.inference_step(g, [model], s)),
                note=f"--decode-mode ar; max len {args.max_len_a:g} x src + {args.max_len_b}",
            )
        )
    classify = model.decoder.predicts_length
    variants = []
    for width in (args.length_beam if classify else args.ctc_beam) or [4]:
        if classify:
            variants.append((f"length beam {width}", "", {"iter_decode_with_beam": width}))
            continue
        variants.append((f"CTC beam {width}", "", {"ctc_beam": width, "ctc_blank_penalty": 0.0}))
        for pool in args.rerank_blank_penalties:
            variants.append(
                (
                    f"CTC beam {width} at blank penalties {pool}",
                    f", --ctc-beam-blank-penalties {pool}",
                    {"ctc_beam": width, "ctc_beam_blank_penalties": pool},
                )
            )
    for name, flag, options in variants:
        gen = generator(task, model, iter_decode_with_external_reranker=True, **options)
        rows.append(
            Setting(
                f"{label} JANUS {name} + own AR view reranking",
                "janus-rerank",
                lambda s, g=gen: first_hypothesis_tokens(g.generate([model], s)),
                note=f"self-reranking: --iter-decode-with-external-reranker{flag}, one checkpoint",
            )
        )
    return rows


def classify_settings(label, model, task, args):
    """A --length-control classify model: length beams and mask-predict refinement passes (not for
    --classify-ctc); a model with a CRF decodes by Viterbi (refinement passes by slot argmax) and gets a
    slot-argmax row beside it, and a Viterbi row for each --crf-decode-beam."""
    crf = model.decoder.has_crf
    rows = []
    for beam in sorted(set([1] + args.length_beam)):
        # a --classify-ctc model's frames are not tokens: it has no refinement rows
        refinable = beam == 1 and model.decoder.supports_refinement
        for passes in sorted(set([0] + args.refine)) if refinable else [0]:
            options = {"iter_decode_with_beam": beam, "iter_decode_max_iter": passes}
            if crf and passes:
                options["crf_decode"] = "argmax"
            name = f"length beam {beam}" + (f", {passes} refinement passes" if passes else "")
            name += (", slot argmax" if passes else ", CRF Viterbi") if crf else ""
            kind = "bnb-classify" if beam == 1 and not passes else "bnb-classify-beam" if not passes else "bnb-refine"
            gen = generator(task, model, **options)
            rows.append(
                Setting(f"{label} BnB {name}", kind, lambda s, g=gen: first_hypothesis_tokens(g.generate([model], s)))
            )
    # a CRF model's length-beam-1 rows beside Viterbi: over other candidate counts, and each slot's argmax
    crf_rows = [
        (f"CRF Viterbi over {k} candidates", {"crf_decode_beam": k}, "--crf-decode-beam") for k in args.crf_decode_beam
    ]
    crf_rows.append(("slot argmax (CRF unused)", {"crf_decode": "argmax"}, ""))
    for name, options, note in crf_rows if crf else []:
        gen = generator(task, model, **options)
        rows.append(
            Setting(
                f"{label} BnB length beam 1, {name}",
                "bnb-classify",
                lambda s, g=gen: first_hypothesis_tokens(g.generate([model], s)),
                note=note,
            )
        )
    return rows


def floor_setting(label, model):
    from bnb_fairseq.modules.slot_argmax import slot_argmax

    def floor(sample):
        net_input = sample["net_input"]
        with model.decoder.generation_context():  # as the generator runs the pass
            encoder_out = model.encoder(net_input["src_tokens"], src_lengths=net_input["src_lengths"])
            logits, _ = model.decoder(None, encoder_out=encoder_out)
            slot_argmax(logits)  # as the generator takes it
        return None

    return Setting(
        f"{label} model-only floor", "floor", floor, bleu=False, note="encoder + decoder forward + argmax, no generator"
    )


def cmlm_setting(nar_model, task, device):
    """fairseq's cmlm_transformer at the BnB model's sizes and vocabulary, untrained, reference lengths."""
    from fairseq.iterative_refinement_generator import IterativeRefinementGenerator
    from fairseq.models.nat.cmlm_transformer import CMLMNATransformerModel, cmlm_base_architecture

    c = nar_model.cfg
    args = Namespace(
        encoder_layers=c.encoder_layers,
        decoder_layers=c.decoder_layers,
        encoder_embed_dim=c.encoder_embed_dim,
        decoder_embed_dim=c.decoder_embed_dim,
        encoder_attention_heads=c.encoder_attention_heads,
        decoder_attention_heads=c.decoder_attention_heads,
        encoder_ffn_embed_dim=c.encoder_ffn_embed_dim,
        decoder_ffn_embed_dim=c.decoder_ffn_embed_dim,
        encoder_learned_pos=True,
        decoder_learned_pos=True,
        activation_fn="gelu",
        max_source_positions=c.encoder_max_positions,
        max_target_positions=c.decoder_max_positions,
        share_all_embeddings=task.source_dictionary.symbols == task.target_dictionary.symbols,
        share_decoder_input_output_embed=True,
    )
    cmlm_base_architecture(args)
    model = CMLMNATransformerModel.build_model(args, task).to(device).eval()
    reference_lengths = {}
    predict_length = model.decoder.forward_length_prediction

    def reference_length(length_out, encoder_out, tgt_tokens=None):
        predict_length(length_out, encoder_out)  # computed, so its cost is in the timing
        return reference_lengths["current"]

    model.decoder.forward_length_prediction = reference_length  # this instance only
    gen = IterativeRefinementGenerator(task.target_dictionary, models=[model], max_iter=0, beam_size=1)

    def decode(sample):
        reference_lengths["current"] = sample["target"].ne(task.target_dictionary.pad()).sum(1)
        return first_hypothesis_tokens(gen.generate([model], sample))

    dims = f"{c.encoder_layers}+{c.decoder_layers} x {c.encoder_embed_dim}"
    return Setting(
        f"fairseq cmlm_transformer ({dims}), one pass",
        "cmlm",
        decode,
        bleu=False,
        note="untrained (speed only), reference lengths",
    )


def batches(task, dataset, max_sentences, device):
    itr = task.get_batch_iterator(
        dataset=dataset,
        max_sentences=max_sentences,
        max_positions=None,
        ignore_invalid_inputs=False,
        seed=1,
        num_workers=0,
    ).next_epoch_itr(shuffle=False)
    return [move(s, device) for s in itr]


def one_by_one(dataset, ids, device):
    return [move(dataset.collater([dataset[i]]), device) for i in ids]


def timed(fn, sample, device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn(sample)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def strip(tokens, d):
    return [int(t) for t in tokens.tolist() if t not in (d.bos(), d.eos(), d.pad())]


def in_rounds(items, rounds):
    """``items`` cut into ``rounds`` consecutive parts of nearly equal size."""
    size, extra = divmod(len(items), rounds)
    cuts = [0]
    for r in range(rounds):
        cuts.append(cuts[-1] + size + (r < extra))
    return [items[a:b] for a, b in zip(cuts, cuts[1:])]


def run_settings(settings, warm, single, batched, device, tgt_dict, rounds=1):
    """Time every setting at batch 1 (``single``) and on the batches, in ``rounds``: each round times every
    setting in turn on its share of the sentences and batches, so that a change in the machine's speed
    during the run reaches all settings alike (one setting after another, a slow minute fell on whichever
    ran then). Each setting runs ``warm`` untimed first, and one untimed sentence at each round's start,
    after the other settings have had the caches."""
    rounds = max(1, min(rounds, len(single) or 1, len(batched) or 1))
    single_parts, batch_parts = in_rounds(single, rounds), in_rounds(batched, rounds)
    latency = [[] for _ in settings]
    totals = [0.0 for _ in settings]
    hyps = [{} for _ in settings]
    with torch.no_grad():
        for setting in settings:
            for s in warm:
                setting.decode(s)
            for s in batched[:1]:  # warm the batched shapes too
                setting.decode(s)
        for r in range(rounds):
            for k, setting in enumerate(settings):
                for s in (warm or single)[:1]:
                    setting.decode(s)
                latency[k] += [timed(setting.decode, s, device)[0] * 1000 for s in single_parts[r]]
                for s in batch_parts[r]:
                    seconds, out = timed(setting.decode, s, device)
                    totals[k] += seconds
                    if out is not None:
                        for i, toks in zip(s["id"].tolist(), out):
                            hyps[k][i] = strip(toks, tgt_dict)
    n = sum(len(s["id"]) for s in batched)
    return [summary(setting, latency[k], totals[k], n, hyps[k]) for k, setting in enumerate(settings)]


def summary(setting, latency, total, n, hyps):
    q = statistics.quantiles(latency, n=10) if len(latency) >= 2 else latency * 9
    row = {
        "setting": setting.label,
        "kind": setting.kind,
        "note": setting.note,
        "latency_ms_p50": statistics.median(latency),
        "latency_ms_p90": q[8],
        "latency_ms_mean": statistics.fmean(latency),
        "latency_sentences": len(latency),
        "sentences": n,
        "batch_seconds": total,
        "sentences_per_s": n / total,
        "precision": setting.precision,
        "fp32_setting": setting.fp32_label,
    }
    if setting.model_bytes is not None:
        row["model_mib"] = setting.model_bytes / 2**20
    if hyps:
        row["tokens_per_s"] = sum(len(h) for h in hyps.values()) / total
    return row, hyps


def score(rows_hyps, dataset, task, reference_file, cased=False):
    """BLEU of each row, on text made by the target tokenizer's decoder (tools/decode_score.py)."""
    from bnb_fairseq.tools.decode_score import UNK_IN_REFERENCE, TextMaker, corpus_bleu

    text = TextMaker(task, cased)
    if reference_file:
        with open(reference_file, encoding="utf-8") as f:
            refs = [line.rstrip("\n") for line in f]
        if len(refs) < len(dataset):
            raise SystemExit(
                f"benchmark: --reference {reference_file} has {len(refs)} lines, the split has {len(dataset)} sentences"
            )
    else:
        refs = [text(dataset.tgt[i], unk=UNK_IN_REFERENCE) for i in range(len(dataset))]
    for row, hyps in rows_hyps:
        if not hyps:
            continue
        ids = sorted(hyps)
        out = [text(hyps[i]) for i in ids]
        ref = [refs[i] for i in ids]
        result = corpus_bleu(out, ref, text.lowercase)
        row["bleu"] = round(result["BLEU-4"], 2)
        row["bleu_signature"] = result["bleu_signature"]
        row["hyp_words"] = statistics.fmean(len(t.split()) for t in out)
        row["ref_words"] = statistics.fmean(len(r.split()) for r in ref)


def machine(device):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {
        "device": device,
        "cpu": cpu,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def add_precision_speedups(rows):
    """Each row in a lower precision against the same setting in fp32 (same model, same run)."""
    fp32 = {r["setting"]: r for r in rows if r.get("precision", "fp32") == "fp32"}
    for r in rows:
        base = fp32.get(r.get("fp32_setting"))
        if base is None:
            continue
        r["speedup_vs_fp32_batch1"] = base["latency_ms_mean"] / r["latency_ms_mean"]
        r["speedup_vs_fp32_batched"] = r["sentences_per_s"] / base["sentences_per_s"]
        if "bleu" in r and "bleu" in base:
            r["bleu_vs_fp32"] = r["bleu"] - base["bleu"]


def add_speedups(rows, baseline):
    base = next((r for r in rows if r["setting"] == baseline), None) if baseline else None
    for kind in ("ar-beam4", "janus-ar-beam4"):  # a bert2bert's beam 4, else a JANUS model's AR view's
        base = base or next((r for r in rows if r["kind"] == kind), None)
    if base is None:
        return None
    for r in rows:
        r["speedup_batch1"] = base["latency_ms_mean"] / r["latency_ms_mean"]
        r["speedup_batched"] = r["sentences_per_s"] / base["sentences_per_s"]
    return base["setting"]


def markdown(rows, info, args, baseline):
    head = (
        f"| setting | batch 1 p50 ms | p90 ms | speed-up b1 | batch {args.batch_size} sent/s | tokens/s | "
        f"speed-up b{args.batch_size} | BLEU | hyp / ref words |"
    )
    compare = args.precisions != ["fp32"]  # columns for the precision study
    if compare:
        head += f" MiB in memory | vs fp32 b1 | vs fp32 b{args.batch_size} | BLEU vs fp32 |"
    lines = [head, "|" + "---|" * (13 if compare else 9)]
    for r in rows:
        bleu = f"{r['bleu']:.2f}" if "bleu" in r else "n/a"
        length = f"{r['hyp_words']:.1f} / {r['ref_words']:.1f}" if "hyp_words" in r else "n/a"
        tok = f"{r['tokens_per_s']:.0f}" if "tokens_per_s" in r else "n/a"
        sp1 = f"{r['speedup_batch1']:.1f}x" if "speedup_batch1" in r else ""
        spb = f"{r['speedup_batched']:.1f}x" if "speedup_batched" in r else ""
        line = (
            f"| {r['setting']} | {r['latency_ms_p50']:.1f} | {r['latency_ms_p90']:.1f} | {sp1} | "
            f"{r['sentences_per_s']:.1f} | {tok} | {spb} | {bleu} | {length} |"
        )
        if compare:
            mib = f"{r['model_mib']:.1f}" if "model_mib" in r else ""
            v1 = f"{r['speedup_vs_fp32_batch1']:.2f}x" if "speedup_vs_fp32_batch1" in r else ""
            vb = f"{r['speedup_vs_fp32_batched']:.2f}x" if "speedup_vs_fp32_batched" in r else ""
            dbleu = f"{r['bleu_vs_fp32']:+.2f}" if "bleu_vs_fp32" in r else ""
            line += f" {mib} | {v1} | {vb} | {dbleu} |"
        lines.append(line)
    notes = [f"- {r['setting']}: {r['note']}" for r in rows if r["note"]]
    floor = next((r for r in rows if r["kind"] == "floor"), None)
    greedy = next((r for r in rows if r["kind"] == "bnb-ctc-greedy"), None)
    if floor and greedy:
        notes.append(
            f"- generator overhead (BnB CTC greedy / model-only floor, batch-1 mean): "
            f"{greedy['latency_ms_mean'] / floor['latency_ms_mean']:.2f}x"
        )
    where = info.get("gpu") or info["cpu"]
    lines += [
        "",
        f"Machine: {where} ({info['device']}), torch {info['torch']}, {info['torch_threads']} threads. "
        f"Split `{args.subset}`: {rows[0]['sentences']} sentences, batch-1 latency over the first "
        f"{rows[0]['latency_sentences']} after {args.warmup} warm-up runs, settings timed in turn in {args.rounds} "
        "rounds"
        + (
            f"; speed-ups against {baseline} (batch 1: ratio of mean latencies; batched: ratio of sentences/s)."
            if baseline
            else "; no AR beam-4 row, so no speed-ups."
        ),
        "",
    ]
    return "\n".join(lines + notes) + "\n"


def plot(rows, path, baseline):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        if "bleu" not in r or "speedup_batch1" not in r:
            continue
        for key, marker in (("speedup_batch1", "o"), ("speedup_batched", "s")):
            ax.scatter(r[key], r["bleu"], marker=marker, color="C0" if r["kind"].startswith("ar") else "C1")
        ax.annotate(
            r["setting"], (r["speedup_batch1"], r["bleu"]), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    ax.set_xscale("log")
    ax.set_xlabel(f"speed-up against {baseline} (o: batch 1, s: large batch)")
    ax.set_ylabel("BLEU")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.ar and not args.nar:
        raise SystemExit("benchmark: give at least one --ar or --nar checkpoint")
    import bnb_fairseq  # noqa: F401  (registers the task and models)

    settings, task = [], None
    for spec in args.ar:
        label, path = labelled(spec)
        for precision in args.precisions:
            if precision.startswith("onnx"):
                logger.info(f"--ar {label}: no {precision} rows (the ONNX export covers one-pass models)")
                continue
            model, _, task = load(path, args.data, args.device, precision)
            settings += in_precision(ar_settings(label, model, task, args), model, precision, label)
    nar_models = []
    for spec in args.nar:
        label, path = labelled(spec)
        for precision in args.precisions:
            model, _, task = load(path, args.data, args.device, precision)
            if precision == "fp32":
                nar_models.append(model)
            settings += in_precision(nar_settings(label, model, task, args), model, precision, label)
    if nar_models and not args.no_cmlm and "fp32" in args.precisions:
        settings.append(cmlm_setting(nar_models[0], task, args.device))

    task.load_dataset(args.subset)
    dataset = task.dataset(args.subset)
    n = min(len(dataset), args.max_sentences or len(dataset))
    ids = list(range(n))
    batched = batches(task, dataset, args.batch_size, args.device)
    if n < len(dataset):
        keep = set(ids)
        batched = [
            move(dataset.collater([dataset[i] for i in b["id"].tolist() if i in keep]), args.device)
            for b in batched
            if any(i in keep for i in b["id"].tolist())
        ]
    # warm-up runs decode the last sentences (up to --warmup), timing the first --latency-sentences
    warm = one_by_one(dataset, ids[::-1][: args.warmup], args.device)
    single = one_by_one(dataset, ids[: args.latency_sentences], args.device)

    info = machine(args.device)
    logger.info(
        f"timing {len(settings)} settings in {args.rounds} rounds, {n} sentences, device {args.device}, "
        f"{info['torch_threads']} threads"
    )
    rows_hyps = []
    for setting, (row, hyps) in zip(
        settings, run_settings(settings, warm, single, batched, args.device, task.target_dictionary, args.rounds)
    ):
        rows_hyps.append((row, hyps if setting.bleu else {}))
        logger.info(
            f"{setting.label}: batch 1: {row['latency_ms_mean']:.1f} ms mean; batch {args.batch_size}: "
            f"{row['sentences_per_s']:.1f} sentences/s"
        )
    score(rows_hyps, dataset, task, args.reference, args.cased)
    rows = [r for r, _ in rows_hyps]
    add_precision_speedups(rows)
    baseline = add_speedups(rows, args.baseline)
    os.makedirs(args.out, exist_ok=True)
    table = markdown(rows, info, args, baseline)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"machine": info, "settings": vars(args), "baseline": baseline, "rows": rows}, f, indent=2)
    plot(rows, os.path.join(args.out, "speedup.png"), baseline)
    print(table)
    return rows


if __name__ == "__main__":
    main()
