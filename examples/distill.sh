#!/usr/bin/env bash
# Sequence-level knowledge distillation: decode the training set of a binarized data directory with
# a trained teacher (bert2bert, or a BnB model at its blank penalty) and write a new data directory for
# bnb training.
# Extra options go after the script's name and are passed to python -m bnb_fairseq.tools.distill
# (see its --help: --subsets, --lenpen, --max-len-a/-b, --batch-size, --shard-size, --cpu, --threads):
#
#   TEACHER=checkpoints/b2b/checkpoint_best.pt DATA=demo-work/data-bin SRC=es TGT=en \
#     OUT=demo-work/data-bin-distilled bash examples/distill.sh
#   TEACHER=... DATA=... SRC=es TGT=en OUT=... BEAM=5 VALID_REFERENCE=raw/valid.en \
#     bash examples/distill.sh --batch-size 32
#
#   TEACHER=checkpoints/bnb/checkpoint_last.pt CTC_BLANK_PENALTY=1.5 DATA=... SRC=es TGT=en OUT=... \
#     bash examples/distill.sh
#
# Settings (environment): TEACHER (bert2bert or BnB checkpoint), DATA (binarized directory from
# preprocess/binarize.py), SRC, TGT (languages), OUT (directory to write), BEAM (bert2bert teacher's
# beam, default 4), CTC_BLANK_PENALTY (BnB CTC teacher; default: the value tune_blank_penalty stored in
# the checkpoint, else 0),
# VALID_REFERENCE (optional raw reference of the valid split for the teacher's BLEU; default: its
# binarized targets). Relative paths are taken from the repository root. Re-running the same
# command resumes: finished shards are not decoded again.
# Then train bnb on $OUT as on any data directory (fairseq-train "$OUT" --arch bnb_small ...).
set -euo pipefail
cd "$(dirname "$0")/.."
TEACHER=${TEACHER:?set TEACHER to a bert2bert or BnB checkpoint}
DATA=${DATA:?set DATA to a binarized data directory}
SRC=${SRC:?set SRC}
TGT=${TGT:?set TGT}
OUT=${OUT:?set OUT to the directory to write}
export TOKENIZERS_PARALLELISM=false
opts=(--teacher "$TEACHER" --data "$DATA" -s "$SRC" -t "$TGT" --out "$OUT")
[[ -n "${BEAM:-}" ]] && opts+=(--beam "$BEAM")
[[ -n "${CTC_BLANK_PENALTY:-}" ]] && opts+=(--ctc-blank-penalty "$CTC_BLANK_PENALTY")
[[ -n "${VALID_REFERENCE:-}" ]] && opts+=(--valid-reference "$VALID_REFERENCE")
python -m bnb_fairseq.tools.distill "${opts[@]}" "$@"
