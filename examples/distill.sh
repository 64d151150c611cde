#!/usr/bin/env bash
# Sequence-level knowledge distillation: decode the training set of a binarized data directory with
# a trained autoregressive teacher (bert2bert) and write a new data directory for bnb training.
# Extra options go after the script's name and are passed to python -m bnb_fairseq.tools.distill
# (see its --help: --subsets, --lenpen, --max-len-a/-b, --batch-size, --shard-size, --cpu, --threads):
#
#   TEACHER=checkpoints/b2b/checkpoint_best.pt DATA=demo-work/data-bin SRC=es TGT=en \
#     OUT=demo-work/data-bin-distilled bash examples/distill.sh
#   TEACHER=... DATA=... SRC=es TGT=en OUT=... BEAM=5 VALID_REFERENCE=raw/valid.en \
#     bash examples/distill.sh --batch-size 32
#
# Settings (environment): TEACHER (autoregressive checkpoint), DATA (binarized directory from
# preprocess/binarize.py), SRC, TGT (languages), OUT (directory to write), BEAM (default 4),
# VALID_REFERENCE (optional raw reference of the valid split for the teacher's BLEU; default: its
# binarized targets). Relative paths are taken from the repository root. Re-running the same
# command resumes: finished shards are not decoded again.
# Then train bnb on $OUT as on any data directory (fairseq-train "$OUT" --arch bnb_small ...).
set -euo pipefail
cd "$(dirname "$0")/.."
TEACHER=${TEACHER:?set TEACHER to an autoregressive (bert2bert) checkpoint}
DATA=${DATA:?set DATA to a binarized data directory}
SRC=${SRC:?set SRC}
TGT=${TGT:?set TGT}
OUT=${OUT:?set OUT to the directory to write}
BEAM=${BEAM:-4}
export TOKENIZERS_PARALLELISM=false
opts=(--teacher "$TEACHER" --data "$DATA" -s "$SRC" -t "$TGT" --out "$OUT" --beam "$BEAM")
[[ -n "${VALID_REFERENCE:-}" ]] && opts+=(--valid-reference "$VALID_REFERENCE")
python -m bnb_fairseq.tools.distill "${opts[@]}" "$@"
