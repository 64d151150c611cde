"""Where can precision be cut? BLEU against weight bits per layer group, simulated:
``python -m bnb_fairseq.tools.quant_study CKPT --data DATA_BIN [--bits 8,4,3,2,1]``.

For each layer group (embeddings, attention, FFN, output, and all together) and each bit width, a copy
of the model gets that group's weight matrices rounded to the width and put back in fp32 (fake
quantization: the accuracy of a low-bit model, not its speed), and the split is decoded with the
checkpoint's default decoding. Widths of 2 bits and more: asymmetric, a scale and minimum per group of
``--group-size`` inputs (as ``--inference-precision int4``). 1 bit: binary weights, sign(w) times the
mean |w| of each output row (the XNOR-Net/BiBERT scaling that BEBERT's ensembles start from). Biases,
LayerNorms, the 8-wide latent and the length classifier stay in fp32.

Groups: ``embeddings`` (the encoder's word, position and type tables, the decoder's position and type
tables); ``attention`` (query, key, value and output projections, self- and cross-attention);
``ffn`` (the intermediate and output dense layers); ``output`` (the tied output matrix: the decoder's
word embeddings, and the MLM head's dense layer). Writes a markdown table and JSON to ``--out``.
"""

import argparse
import copy
import json
import logging
import os
import re
import sys

import torch

from bnb_fairseq.modules.quantized import group_dequantize, group_quantize, pick_group_size

logger = logging.getLogger("bnb_fairseq.quant_study")

GROUPS = {
    "embeddings": r"^encoder\.embeddings\.\w+_embeddings\.weight$"
    r"|^decoder\.embeddings\.(position|token_type)_embeddings\.weight$",
    "attention": r"\.(attention|crossattention)\.(self\.(query|key|value)|output\.dense)\.weight$",
    "ffn": r"\.layer\.\d+\.(intermediate|output)\.dense\.weight$",
    "output": r"^decoder\.embeddings\.word_embeddings\.weight$|^decoder\.lm_head\.dense\.weight$",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="binarized data directory")
    p.add_argument("--subset", default="valid", help="split to decode")
    p.add_argument("--reference", help="raw reference text of the split (default: the binarized targets)")
    p.add_argument("--bits", default="8,4,3,2,1", help="comma-separated weight widths (1: binary)")
    p.add_argument("--groups", default="embeddings,attention,ffn,output,all", help="comma-separated layer groups")
    p.add_argument("--group-size", type=int, default=32, help="inputs per scale (widths >= 2)")
    p.add_argument("--max-sentences", type=int, default=64, help="decoding batch size")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", required=True, help="directory for results.md and results.json")
    args = p.parse_args(argv)
    args.bits = [int(b) for b in args.bits.split(",")]
    args.groups = [g for g in args.groups.split(",") if g]
    unknown = [g for g in args.groups if g not in GROUPS and g != "all"]
    if unknown or any(not 1 <= b <= 8 for b in args.bits):
        p.error(f"--groups from {', '.join(GROUPS)}, all; --bits from 1 to 8")
    return args


def fake_quantize(weight, bits, group_size):
    """``weight`` rounded to ``bits`` and returned in its dtype."""
    w = weight.detach().float()
    if bits == 1:
        return (torch.sign(w) * w.abs().mean(1, keepdim=True)).to(weight.dtype)
    size = pick_group_size(w.size(1), group_size) or w.size(1)
    q, scale, low = group_quantize(w, bits, size)
    return group_dequantize(q, scale, low, size).to(weight.dtype)


def quantize_group(model, group, bits, group_size):
    """Fake-quantize (in place) the weights of ``group`` ('all': every group); returns their names."""
    patterns = [GROUPS[g] for g in (GROUPS if group == "all" else [group])]
    names = []
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2 and any(re.search(p, name) for p in patterns):
                param.copy_(fake_quantize(param, bits, group_size))
                names.append(name)
    return names


def bleu_of(loaded, model, args):
    from bnb_fairseq.tools import decode_score

    generator = decode_score.build_generator(loaded, [model])
    hyps, _ = decode_score.decode(loaded, generator, max_sentences=args.max_sentences, models=[model])
    result = decode_score.score_split(loaded, hyps, args.reference)
    return round(result["BLEU-4"], 2)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    from bnb_fairseq.tools import decode_score

    loaded = decode_score.load(args.checkpoint, args.data, args.subset)
    base = loaded.models[0]
    fp32_bleu = bleu_of(loaded, base, args)
    logger.info(f"fp32: BLEU {fp32_bleu}")
    rows = []
    for group in args.groups:
        for bits in args.bits:
            model = copy.deepcopy(base)
            names = quantize_group(model, group, bits, args.group_size)
            if not names:
                raise SystemExit(f"quant_study: no weight matrix of this model is in group {group}")
            bleu = bleu_of(loaded, model, args)
            values = sum(p.numel() for n, p in model.named_parameters() if n in names)
            rows.append(
                {"group": group, "bits": bits, "bleu": bleu, "delta": round(bleu - fp32_bleu, 2), "weights": values}
            )
            logger.info(f"{group} at {bits} bits ({len(names)} matrices, {values:,} weights): BLEU {bleu}")
    os.makedirs(args.out, exist_ok=True)
    table = markdown(rows, fp32_bleu, args)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(
            {"checkpoint": args.checkpoint, "subset": args.subset, "fp32_bleu": fp32_bleu, "rows": rows}, f, indent=2
        )
    print(table)
    return rows


def markdown(rows, fp32_bleu, args):
    bits = sorted({r["bits"] for r in rows}, reverse=True)
    head = "| group (weights) | " + " | ".join(f"{b} bit" + ("s" if b > 1 else " (binary)") for b in bits) + " |"
    lines = [head, "|" + "---|" * (len(bits) + 1)]
    for group in dict.fromkeys(r["group"] for r in rows):
        cells = {r["bits"]: r for r in rows if r["group"] == group}
        weights = next(iter(cells.values()))["weights"]
        lines.append(
            f"| {group} ({weights / 1e6:.1f}M) | "
            + " | ".join(f"{cells[b]['bleu']:.2f} ({cells[b]['delta']:+.2f})" if b in cells else "" for b in bits)
            + " |"
        )
    lines += [
        "",
        f"BLEU on `{args.subset}` (change against fp32's {fp32_bleu:.2f}); weights of each group rounded to the "
        f"width (groups of {args.group_size} inputs; 1 bit: sign x mean |w| per row), all else fp32.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
