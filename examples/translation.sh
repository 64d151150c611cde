#!/usr/bin/env bash
# Translation with BnB through sequence-level distillation: an autoregressive bert2bert teacher
# (examples/demo/ar_recipe.sh), its beam output as the training targets (examples/distill.sh), BnB
# trained on them (examples/demo/recipe.sh), then fairseq-generate and sacrebleu on the test split.
#
#   bash examples/translation.sh                        # the shipped Spanish -> English demo data
#   DATA=wmt14-raw SRC=en TGT=de BERT=bert-base-cased TARGET_BERT=bert-base-german-cased \
#     AR_MAX_UPDATE=100000 MAX_UPDATE=100000 STOP_MINUTES=0 AR_STOP_MINUTES=0 \
#     DISTRIBUTED="torchrun --nproc-per-node 8" DISTRIBUTED_ARGS="--distributed-world-size 8" \
#     bash examples/translation.sh --arch bnb_base
#
# Extra arguments are fairseq-train options for the BnB student; they override the recipe's.
# Steps: prepare binarize teacher distill train generate score (STEPS, cluster settings: recipe_lib.sh).
set -euo pipefail
source "$(dirname "$0")/recipe_lib.sh"

# ---- settings (environment) ----
DATA=${DATA:-examples/demo/data}      # {train,valid,test}.$SRC and .$TGT, one sentence a line
SRC=${SRC:-es}
TGT=${TGT:-en}
TARGET_BERT=${TARGET_BERT:-}          # target-side BERT checkpoint (default: $BERT for both sides)
WORK=${WORK:-work/translation}
MAX_LEN=${MAX_LEN:-128}               # longest sentence in word pieces; longer ones are cut
TEACHER=${TEACHER:-}                  # an existing bert2bert checkpoint; empty: train one (step teacher)
AR_MAX_UPDATE=${AR_MAX_UPDATE:-1500}  # teacher training budget
AR_STOP_MINUTES=${AR_STOP_MINUTES:-20}
DISTILL=${DISTILL:-1}                 # 0: train BnB on the original references (no teacher, no distillation)
BEAM=${BEAM:-4}                       # the teacher's beam when distilling
MAX_UPDATE=${MAX_UPDATE:-1500}        # student training budget
STOP_MINUTES=${STOP_MINUTES:-20}
BLANK_PENALTY=${BLANK_PENALTY:-}      # --ctc-blank-penalty for the test decoding; empty: chosen on valid
DISTILL_ARGS=()                       # extra options of python -m bnb_fairseq.tools.distill
FAST_LINES=40
if [[ $FAST == 1 ]]; then
  MAX_LEN=48 AR_MAX_UPDATE=3 MAX_UPDATE=3 BEAM=2 BLANK_PENALTY=${BLANK_PENALTY:-0}
  DISTILL_ARGS=(--max-len-a 0 --max-len-b 8 --batch-size 8 --shard-size 1000)
fi
recipe_steps prepare binarize teacher distill train generate score
source examples/demo/recipe.sh      # RECIPE_ARGS: BnB's CPU recipe
source examples/demo/ar_recipe.sh   # AR_RECIPE_ARGS: the bert2bert teacher's
[[ -n "$TARGET_BERT" ]] && RECIPE_ARGS+=(--decoder-bert-checkpoint "$TARGET_BERT") \
  && AR_RECIPE_ARGS+=(--decoder-bert-checkpoint "$TARGET_BERT")
RAW=$WORK/raw BIN=$WORK/data-bin DISTILLED=$WORK/data-bin-distilled GEN=$WORK/generate-test.txt
TRAINED_TEACHER=$(recipe_checkpoint "$WORK/teacher")   # with VALIDATE=1 the teacher is chosen on valid BLEU too (AVERAGE_LAST: the mean of its saves)
TEACHER=${TEACHER:-$TRAINED_TEACHER}
CKPT=$(recipe_checkpoint "$WORK/checkpoints")
STUDENT_DATA=$BIN
[[ $DISTILL == 1 ]] && STUDENT_DATA=$DISTILLED

if recipe_step prepare; then
  rm -rf "$RAW"
  if [[ $FAST == 1 ]]; then
    recipe_log "prepare: the first $FAST_LINES lines of each split of $DATA in $RAW"
    recipe_slice "$DATA" "$RAW" "$FAST_LINES" "$SRC" "$TGT"
  else
    recipe_log "prepare: link $DATA/{train,valid,test}.{$SRC,$TGT} into $RAW"
    mkdir -p "$RAW"
    for f in "$DATA"/{train,valid,test}.{"$SRC","$TGT"}; do
      recipe_require_input "$f" "DATA must hold {train,valid,test}.{$SRC,$TGT}"
      ln -s "$(realpath "$f")" "$RAW/"
    done
  fi
fi

if recipe_step binarize; then
  recipe_log "binarize $RAW"
  python preprocess/binarize.py --bert "$BERT" ${TARGET_BERT:+--target-bert "$TARGET_BERT"} -s "$SRC" -t "$TGT" \
    --trainpref "$RAW/train" --validpref "$RAW/valid" --testpref "$RAW/test" \
    --destdir "$BIN" --max-len "$MAX_LEN" --workers 2 --quiet
fi

if recipe_step teacher && [[ $DISTILL == 1 ]]; then
  if [[ "$TEACHER" == "$TRAINED_TEACHER" ]]; then
    recipe_log "train the bert2bert teacher for at most $AR_MAX_UPDATE updates / $AR_STOP_MINUTES minutes"
    MAX_UPDATE=$AR_MAX_UPDATE STOP_MINUTES=$AR_STOP_MINUTES \
      recipe_train "$BIN" "$SRC" "$TGT" "$WORK/teacher" "${AR_RECIPE_ARGS[@]}"
  else
    recipe_log "teacher: using $TEACHER"
  fi
fi

if recipe_step distill && [[ $DISTILL == 1 ]]; then
  recipe_require "$TEACHER" "$BIN/dict.$TGT.txt"
  recipe_log "distill: the teacher's beam-$BEAM translations of the training set replace its targets"
  # distill.sh resumes from the shards it finished; shards of another teacher (or of this one
  # before it trained further) must not be reused
  stamp="$(realpath "$TEACHER") $(stat -c '%s %Y' "$TEACHER")"
  if [[ "$(cat "$WORK/distilled-by.txt" 2>/dev/null)" != "$stamp" ]]; then
    rm -rf "$DISTILLED"
    echo "$stamp" > "$WORK/distilled-by.txt"
  fi
  TEACHER=$TEACHER DATA=$BIN SRC=$SRC TGT=$TGT OUT=$DISTILLED BEAM=$BEAM VALID_REFERENCE=$RAW/valid.$TGT \
    bash examples/distill.sh ${DISTILL_ARGS[@]+"${DISTILL_ARGS[@]}"}
fi

if recipe_step train; then
  recipe_require "$STUDENT_DATA/dict.$TGT.txt"
  recipe_log "train BnB on $STUDENT_DATA (${DISTRIBUTED:-one process}) for at most $MAX_UPDATE updates"
  recipe_train "$STUDENT_DATA" "$SRC" "$TGT" "$WORK/checkpoints" "${RECIPE_ARGS[@]}" "$@"
fi

if recipe_step generate; then
  recipe_require "$CKPT"
  penalty=$(recipe_blank_penalty "$CKPT" "$BIN" "$RAW/valid.$TGT")
  recipe_log "generate the test split (--ctc-blank-penalty $penalty)"
  recipe_generate "$CKPT" "$BIN" "$SRC" "$TGT" "$GEN" --ctc-blank-penalty "$penalty"
fi

if recipe_step score; then
  recipe_require "$GEN"
  recipe_log "sacrebleu against $RAW/test.$TGT"
  recipe_score "$GEN" "$RAW/test.$TGT" bleu "$WORK/scores.json" "$BIN/tokenizer.$TGT"
fi
recipe_done
