#!/usr/bin/env bash
# Question generation with BnB from SQuAD v1.1 JSON: source "answer [SEP] context" (segment ids 0 for
# the answer, 1 for the context), target the question; BLEU-4 (sacrebleu), METEOR (nltk, WordNet 3.0)
# and ROUGE-L (rouge-score) on the test split.
#
#   TRAIN_JSON=squad/train-v1.1.json DEV_JSON=squad/dev-v1.1.json bash examples/question_generation.sh
#   TRAIN_JSON=... DEV_JSON=... DISTRIBUTED="torchrun --nproc-per-node 8" \
#     DISTRIBUTED_ARGS="--distributed-world-size 8" MAX_UPDATE=50000 \
#     bash examples/question_generation.sh --arch bnb_base --lr 5e-5
#
# Splits as Du et al. (2017): SQuAD dev is the test split, 10% of the training articles are valid
# (see python -m bnb_fairseq.tools.prepare_squad --help, which also says how long contexts are cut).
# Extra arguments are fairseq-train options; they override the recipe's (the last value wins).
# Steps: prepare binarize train generate score (see STEPS and the cluster settings in recipe_lib.sh).
set -euo pipefail
source "$(dirname "$0")/recipe_lib.sh"

# ---- settings (environment) ----
TRAIN_JSON=${TRAIN_JSON:-}            # SQuAD v1.1 training file (train and valid splits)
DEV_JSON=${DEV_JSON:-}                # SQuAD v1.1 dev file (the test split)
WORK=${WORK:-work/question-generation}
MAX_LEN=${MAX_LEN:-512}               # longest source in word pieces; contexts are cut around the answer to fit
DECODER_MAX_LEN=${DECODER_MAX_LEN:-64}  # most decoder slots (--ctc-max-len): room for the longest question
MAX_TOKENS=${MAX_TOKENS:-4096}
MAX_UPDATE=${MAX_UPDATE:-20000}
STOP_MINUTES=${STOP_MINUTES:-0}       # 0: no time limit
BLANK_PENALTY=${BLANK_PENALTY:-}      # --ctc-blank-penalty for the test decoding; empty: chosen on valid
WORDNET=${WORDNET:-}                  # WordNet 3.0 database folder for METEOR (default: .venv/share/wordnet from make install, nltk's, /usr/share/wordnet)
if [[ $FAST == 1 ]]; then
  TRAIN_JSON=${TRAIN_JSON:-tests/data/squad_tiny.json} DEV_JSON=${DEV_JSON:-tests/data/squad_tiny.json}
  MAX_LEN=64 DECODER_MAX_LEN=32 MAX_UPDATE=4 MAX_TOKENS=512 BLANK_PENALTY=${BLANK_PENALTY:-0}
fi
recipe_steps prepare binarize train generate score
source examples/demo/recipe.sh   # RECIPE_ARGS: the default CPU recipe over $BERT
RAW=$WORK/raw BIN=$WORK/data-bin CKPT=$(recipe_checkpoint "$WORK/checkpoints") GEN=$WORK/generate-test.txt

if recipe_step prepare; then
  [[ -n "$TRAIN_JSON" && -n "$DEV_JSON" ]] || recipe_die "set TRAIN_JSON and DEV_JSON to the SQuAD v1.1 files"
  recipe_log "prepare answer [SEP] context -> question from $TRAIN_JSON and $DEV_JSON"
  python -m bnb_fairseq.tools.prepare_squad --train "$TRAIN_JSON" --dev "$DEV_JSON" --tokenizer "$BERT" \
    --out "$RAW" --max-len "$MAX_LEN"
fi

if recipe_step binarize; then
  recipe_log "binarize $RAW"
  recipe_binarize "$RAW" src tgt "$BIN" "$MAX_LEN"
fi

if recipe_step train; then
  recipe_log "train (${DISTRIBUTED:-one process}) for at most $MAX_UPDATE updates"
  recipe_train "$BIN" src tgt "$WORK/checkpoints" "${RECIPE_ARGS[@]}" \
    --ctc-max-len "$DECODER_MAX_LEN" --max-tokens "$MAX_TOKENS" "$@"
fi

if recipe_step generate; then
  recipe_require "$CKPT" "$BIN/test.src-tgt.src.bin"
  penalty=$(recipe_blank_penalty "$CKPT" "$BIN" "$RAW/valid.tgt")
  recipe_log "generate the test questions (--ctc-blank-penalty $penalty)"
  recipe_generate "$CKPT" "$BIN" src tgt "$GEN" --ctc-blank-penalty "$penalty"
fi

if recipe_step score; then
  recipe_require "$GEN"
  recipe_log "BLEU-4, METEOR, ROUGE-L against $RAW/test.tgt"
  recipe_score "$GEN" "$RAW/test.tgt" bleu,meteor,rouge "$WORK/scores.json" "$BIN/tokenizer.tgt" \
    ${WORDNET:+--wordnet "$WORDNET"}
fi
recipe_done
