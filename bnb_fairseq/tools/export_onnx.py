"""Export a BnB checkpoint's one pass to ONNX and check it against PyTorch on a split:
``python -m bnb_fairseq.tools.export_onnx CKPT --data DATA_BIN --out model.onnx [--int8] [--portable]``.

The graph takes right-padded source ids (batch and length dynamic) and returns the output
log-probabilities and the slot padding mask (models/onnx_runner.py); a classify model's graphs are two,
``--out`` and its ``.slots.onnx`` beside it. CTC collapse, beam search, the length beam and
detokenization stay outside. The check decodes the split greedily with both and prints the share of
identical output lines, the largest log-probability difference and BLEU of each. Decode through the
graph with ``--inference-precision onnx`` (or ``onnx-int8``), which exports afresh, or from Python with
``use_onnx_runtime(model, path, export=False)``.
"""

import argparse
import json
import logging
import sys

import torch

logger = logging.getLogger("bnb_fairseq.export_onnx")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True, help="binarized data directory the model was trained on")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument("--int8", action="store_true", help="write ONNX Runtime's dynamic int8 quantization of the graph")
    p.add_argument(
        "--portable",
        action="store_true",
        help="standard ONNX operators only, for runtimes other than ONNX Runtime (attention as traced ops, "
        "not ONNX Runtime's fused MultiHeadAttention; slower there)",
    )
    p.add_argument("--subset", default="valid", help="split decoded by both for the check ('none': no check)")
    p.add_argument("--reference", help="raw reference text of the split (default: the binarized targets)")
    p.add_argument("--max-sentences", type=int, default=32, help="batch size of the check")
    p.add_argument("--threads", type=int, default=None, help="torch and ONNX Runtime threads")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    from bnb_fairseq.models.onnx_runner import export_one_pass, use_onnx_runtime
    from bnb_fairseq.tools import decode_score

    subset = None if args.subset == "none" else args.subset
    loaded = decode_score.load(args.checkpoint, args.data, subset or "valid")
    try:
        files = export_one_pass(loaded.models[0], args.out, quantize=args.int8, portable=args.portable)
    except ValueError as e:
        raise SystemExit(f"export_onnx: {e}") from None
    report = {"onnx": files, "int8": args.int8, "portable": args.portable}
    if subset is not None:
        runner = decode_score.load(args.checkpoint, args.data, subset).models[0]
        use_onnx_runtime(runner, args.out, threads=args.threads, export=False)
        report.update(compare(loaded, runner, args))
    print(json.dumps(report, indent=2))
    return report


def compare(loaded, runner, args):
    """Greedy outputs of PyTorch and ONNX Runtime on the split: identical lines, log-prob gap, BLEU."""
    from bnb_fairseq.tools import decode_score

    model = loaded.models[0]
    gap = 0.0
    with torch.no_grad():
        for sample in decode_score.batches(loaded.task, loaded.dataset, max_sentences=args.max_sentences):
            src = sample["net_input"]["src_tokens"]
            net_output = model.decoder(None, encoder_out=model.encoder(src))
            ours = model.get_normalized_probs(net_output, log_probs=True)
            theirs = runner.decoder(None, encoder_out=runner.encoder(src))[0]
            real = ~net_output[1]["padding_mask"]  # padding slots are never read
            gap = max(gap, float((ours - theirs).abs()[real].max()))
    out = {}
    for name, m in (("pytorch", model), ("onnx", runner)):
        generator = decode_score.build_generator(loaded, [m])
        hyps, seconds = decode_score.decode(loaded, generator, max_sentences=args.max_sentences, models=[m])
        out[name] = (hyps, seconds, decode_score.score_split(loaded, hyps, args.reference))
    same = sum(torch.equal(out["pytorch"][0][i], out["onnx"][0][i]) for i in out["pytorch"][0])
    n = len(out["pytorch"][0])
    return {
        "subset": loaded.subset,
        "sentences": n,
        "identical_lines": same / n,
        "max_abs_logprob_difference": gap,
        "bleu_pytorch": round(out["pytorch"][2]["BLEU-4"], 2),
        "bleu_onnx": round(out["onnx"][2]["BLEU-4"], 2),
        "seconds_pytorch": round(out["pytorch"][1], 2),
        "seconds_onnx": round(out["onnx"][1], 2),
    }


if __name__ == "__main__":
    main()
