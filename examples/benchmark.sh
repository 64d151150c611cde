#!/usr/bin/env bash
# NAR (BnB) against AR (BERT2BERT) speed and BLEU, every setting measured on this machine in one run:
# batch-1 latency (p50/p90), throughput at a large batch, BLEU and output lengths, plus fairseq's own
# cmlm_transformer at the same dimensions and the model-only floor. Writes $OUT/results.md,
# results.json and speedup.png (python -m bnb_fairseq.tools.benchmark --help lists every option).
#
# Settings (environment):
#   DATA     binarized data directory (preprocess/binarize.py)           [demo-work/data-bin]
#   SRC TGT  languages                                                   [es en]
#   AR       space-separated [LABEL=]checkpoint list of bert2bert models  (decoded greedy and beam 4)
#   NAR      space-separated [LABEL=]checkpoint list of bnb models
#   REFERENCE raw reference text of the split (default: the binarized targets, detokenized)
#   SUBSET   split to decode [test]     BATCH_SIZE [64]     LATENCY_SENTENCES [100]
#   BLANK_PENALTY  extra BnB rows with this --ctc-blank-penalty (space-separated values)
#   CTC_BEAM       extra BnB rows with a CTC prefix beam search of this width (space-separated values)
#   CRF_DECODE_BEAM  CRF models: extra Viterbi rows over this many candidates per slot (space-separated)
#   LENGTH_BEAM, REFINE  for --length-control classify models: extra rows with these length beams /
#                  mask-predict refinement passes (space-separated values)
#   PRECISION comma-separated inference precisions/backends, each model in each (fp32, bf16, int8, int4,
#            onnx, onnx-int8; --inference-precision) [fp32]
#   THREADS  torch threads (default torch's)       OUT  output directory [benchmark]
#   ROUNDS   the timing in this many rounds, every setting timed in turn in each (--rounds) [5]
# Extra arguments go to the module, e.g. --fast (8 sentences: a smoke test), --device cuda, --no-cmlm.
#
#   AR="ar=ckpt/ar/checkpoint_last.pt" NAR="bnb=ckpt/bnb/checkpoint_last.pt" \
#     DATA=data-bin REFERENCE=raw/test.en bash examples/benchmark.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-demo-work/data-bin}
SRC=${SRC:-es}
TGT=${TGT:-en}
OUT=${OUT:-benchmark}
args=(--data "$DATA" -s "$SRC" -t "$TGT" --subset "${SUBSET:-test}" --out "$OUT"
      --batch-size "${BATCH_SIZE:-64}" --latency-sentences "${LATENCY_SENTENCES:-100}")
for c in ${AR:-}; do args+=(--ar "$c"); done
for c in ${NAR:-}; do args+=(--nar "$c"); done
for p in ${BLANK_PENALTY:-}; do args+=(--ctc-blank-penalty "$p"); done
for b in ${CTC_BEAM:-}; do args+=(--ctc-beam "$b"); done
for b in ${LENGTH_BEAM:-}; do args+=(--length-beam "$b"); done
for n in ${REFINE:-}; do args+=(--refine "$n"); done
for k in ${CRF_DECODE_BEAM:-}; do args+=(--crf-decode-beam "$k"); done
[[ -n "${REFERENCE:-}" ]] && args+=(--reference "$REFERENCE")
[[ -n "${THREADS:-}" ]] && args+=(--threads "$THREADS")
[[ -n "${ROUNDS:-}" ]] && args+=(--rounds "$ROUNDS")
[[ -n "${PRECISION:-}" ]] && args+=(--precision "$PRECISION")
export TOKENIZERS_PARALLELISM=false
exec python -m bnb_fairseq.tools.benchmark "${args[@]}" "$@"
