#!/usr/bin/env bash
# GLUE through the BnB encoder: export the encoder of a bnb (or bert2bert) checkpoint as a Hugging
# Face BERT directory (python -m bnb_fairseq.tools.export_hf), then fine-tune
# BertForSequenceClassification on a GLUE-format TSV task and report dev accuracy
# (python -m bnb_fairseq.tools.finetune_glue).
#
#   CHECKPOINT=work/pretrain/checkpoints/checkpoint_last.pt TASK_DIR=glue/RTE bash examples/glue.sh
#   CHECKPOINT=... TASK_DIR=glue/SST-2 EPOCHS=3 DISTRIBUTED="torchrun --nproc-per-node 8" bash examples/glue.sh
#
# Extra arguments are finetune_glue options (e.g. --text-columns, --label-column, --weight-decay).
# Steps: export finetune. DISTRIBUTED (a torchrun prefix) runs the fine-tuning on several processes
# (torch DDP inside finetune_glue; DISTRIBUTED_ARGS is not used here).
set -euo pipefail
source "$(dirname "$0")/recipe_lib.sh"

# ---- settings (environment) ----
CHECKPOINT=${CHECKPOINT:-}            # the fairseq checkpoint whose encoder is exported
TASK_DIR=${TASK_DIR:-}                # train.tsv and dev.tsv as GLUE ships them (header line, tab-separated)
WORK=${WORK:-work/glue}
EPOCHS=${EPOCHS:-3}
LR=${LR:-2e-5}
BATCH_SIZE=${BATCH_SIZE:-32}
MAX_LEN=${MAX_LEN:-128}               # longest input in word pieces (a pair is cut longest-first)
SEED=${SEED:-1}
if [[ $FAST == 1 ]]; then
  TASK_DIR=${TASK_DIR:-tests/data/glue_tiny} EPOCHS=1 LR=1e-3 BATCH_SIZE=8 MAX_LEN=64
fi
recipe_steps export finetune
HF=$WORK/hf-encoder

if recipe_step export; then
  [[ -n "$CHECKPOINT" ]] || recipe_die "set CHECKPOINT to a bnb or bert2bert checkpoint (e.g. one a recipe trained)"
  recipe_require "$CHECKPOINT"
  recipe_log "export the encoder of $CHECKPOINT to $HF"
  rm -rf "$HF"
  python -m bnb_fairseq.tools.export_hf "$CHECKPOINT" "$HF"
fi

if recipe_step finetune; then
  [[ -n "$TASK_DIR" ]] || recipe_die "set TASK_DIR to a folder with train.tsv and dev.tsv"
  recipe_require "$HF/config.json" "$TASK_DIR/train.tsv" "$TASK_DIR/dev.tsv"
  recipe_log "fine-tune on $TASK_DIR (${DISTRIBUTED:-one process}), $EPOCHS epoch(s)"
  launcher=()
  read -r -a launcher <<< "$DISTRIBUTED"
  if (( ${#launcher[@]} )); then
    launcher+=(-m)  # torchrun runs a module with -m
  else
    launcher=(python -m)
  fi
  "${launcher[@]}" bnb_fairseq.tools.finetune_glue --model "$HF" --train "$TASK_DIR/train.tsv" \
    --dev "$TASK_DIR/dev.tsv" --out "$WORK/finetune" --epochs "$EPOCHS" --lr "$LR" \
    --batch-size "$BATCH_SIZE" --max-len "$MAX_LEN" --seed "$SEED" "$@"
fi
recipe_done
