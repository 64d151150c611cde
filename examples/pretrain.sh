#!/usr/bin/env bash
# NAR pre-training of BnB on any text corpus (task bnb_pretrain): the corpus is split into train and
# valid, binarized with the BERT word pieces, packed into blocks and corrupted on the fly (copy, mlm,
# plm, clm); the recipe prints the valid loss of the initial model and after training. Fine-tune
# from $WORK/checkpoints/checkpoint_last.pt with --finetune-from-model (README, "Pre-training").
#
#   bash examples/pretrain.sh                                   # Brown, MiniLM, a CPU budget
#   CORPUS=wiki.txt TOKENS_PER_BLOCK=256 MAX_UPDATE=100000 STOP_MINUTES=0 \
#     DISTRIBUTED="torchrun --nproc-per-node 8" bash examples/pretrain.sh --arch bnb_base --max-tokens 8192
#   FAST=1 BERT=tiny-bert WORK=/tmp/pt bash examples/pretrain.sh      # CI: 300 lines, 30 updates
#
# Extra arguments are fairseq-train options; they override the recipe's (the last value wins).
# Steps: prepare binarize baseline train (STEPS; BERT, FAST, DISTRIBUTED, DISTRIBUTED_ARGS, MAX_UPDATE,
# STOP_MINUTES as in examples/recipe_lib.sh).
set -euo pipefail
source "$(dirname "$0")/recipe_lib.sh"

# ---- settings (environment) ----
CORPUS=${CORPUS:-}                    # one sentence or paragraph a line; empty lines are skipped
TEXT_LANG=${TEXT_LANG:-en}            # suffix of the binarized files (train.en.bin, dict.en.txt)
WORK=${WORK:-work/pretrain}
VALID_LINES=${VALID_LINES:-1000}      # held out for the valid loss: every k-th line, spread over the corpus
MAX_LEN=${MAX_LEN:-512}               # longest line in word pieces; longer lines are cut (and reported)
TOKENS_PER_BLOCK=${TOKENS_PER_BLOCK:-128}   # block length, [CLS] and [SEP] included (<= 512)
CORRUPTIONS=${CORRUPTIONS:-copy:1,mlm:1,plm:1,clm:1}
MAX_UPDATE=${MAX_UPDATE:-1000}
STOP_MINUTES=${STOP_MINUTES:-10}      # 0: no time limit
if [[ $FAST == 1 ]]; then
  CORPUS=${CORPUS:-tests/data/brown_slice.txt}
  FAST_LINES=300 VALID_LINES=40 TOKENS_PER_BLOCK=64 MAX_UPDATE=30
fi
CORPUS=${CORPUS:-../shared/data/brown/brown.txt}   # where this project keeps Brown; give your own
recipe_steps prepare binarize baseline train
source examples/demo/recipe.sh        # RECIPE_ARGS: bnb_small over $BERT, CTC, adam (the demo's CPU recipe)
PRETRAIN_ARGS=(--task bnb_pretrain --lang "$TEXT_LANG" --tokens-per-block "$TOKENS_PER_BLOCK"
               --corruptions "$CORRUPTIONS" "${RECIPE_ARGS[@]}")
[[ $FAST == 1 ]] && PRETRAIN_ARGS+=(--encoder-layers 2 --decoder-layers 2 --max-tokens 512 --log-interval 5)
RAW=$WORK/raw BIN=$WORK/data-bin CKPT=$WORK/checkpoints

# valid_losses LOG: the "valid on 'valid' subset | loss X" values of a fairseq-train log, one a line
valid_losses() { grep -o "valid on 'valid' subset | loss [0-9.]*" "$1" | awk '{print $NF}'; }

if recipe_step prepare; then
  [[ -s "$CORPUS" ]] || recipe_die "CORPUS=$CORPUS: no such file (or empty); set CORPUS to a text file, one sentence or paragraph a line"
  rm -rf "$RAW" && mkdir -p "$RAW"
  source_lines() { if [[ $FAST == 1 ]]; then head -n "$FAST_LINES" "$CORPUS"; else cat "$CORPUS"; fi; }
  total=$(source_lines | grep -c -v '^[[:space:]]*$' || true)
  (( total > VALID_LINES )) || recipe_die "$CORPUS has $total non-empty lines: need more than VALID_LINES=$VALID_LINES"
  every=$(( (total + VALID_LINES - 1) / VALID_LINES ))
  source_lines | grep -v '^[[:space:]]*$' | awk -v k="$every" -v raw="$RAW" -v lang="$TEXT_LANG" \
    '{ print > (raw "/" (NR % k == 0 ? "valid" : "train") "." lang) }'
  recipe_log "prepare: $CORPUS -> $(wc -l < "$RAW/train.$TEXT_LANG") train and $(wc -l < "$RAW/valid.$TEXT_LANG") valid lines" \
    "(every ${every}th line; $(( $(source_lines | wc -l) - total )) empty lines skipped)"
fi

if recipe_step binarize; then
  recipe_log "binarize $RAW with the word pieces of $BERT"
  recipe_require "$RAW/train.$TEXT_LANG" "$RAW/valid.$TEXT_LANG"
  python preprocess/binarize.py --bert "$BERT" --only-source -s "$TEXT_LANG" \
    --trainpref "$RAW/train" --validpref "$RAW/valid" --destdir "$BIN" --max-len "$MAX_LEN" --workers 2 --quiet
fi

if recipe_step baseline; then
  # one update at learning rate 0 leaves the weights as they start, and fairseq-train then validates
  recipe_log "baseline: the valid loss of the initial model"
  recipe_require "$BIN/dict.$TEXT_LANG.txt"
  rm -rf "$WORK/baseline"
  fairseq-train "$BIN" --user-dir bnb_fairseq "${PRETRAIN_ARGS[@]}" "$@" --lr 0 --warmup-init-lr 0 \
    --max-update 1 --save-dir "$WORK/baseline" --no-save --log-format simple > "$WORK/baseline.log" 2>&1 \
    || { tail -n 20 "$WORK/baseline.log" >&2; recipe_die "baseline failed (log: $WORK/baseline.log)"; }
  recipe_log "valid loss of the initial model: $(valid_losses "$WORK/baseline.log" | tail -n 1)"
fi

if recipe_step train; then
  recipe_log "pre-train for at most $MAX_UPDATE updates / $STOP_MINUTES minutes ($CORRUPTIONS, blocks of $TOKENS_PER_BLOCK)"
  recipe_require "$BIN/dict.$TEXT_LANG.txt"
  launcher=() dist_args=() train=(fairseq-train)
  read -r -a launcher <<< "$DISTRIBUTED"
  read -r -a dist_args <<< "$DISTRIBUTED_ARGS"
  (( ${#launcher[@]} )) && train=("${launcher[@]}" "$(command -v fairseq-train)")  # torchrun runs the script
  stop=()
  [[ $STOP_MINUTES != 0 ]] && stop=(--stop-time-hours "$(python -c "print($STOP_MINUTES / 60)")")
  rm -rf "$CKPT"
  "${train[@]}" "$BIN" --user-dir bnb_fairseq "${PRETRAIN_ARGS[@]}" --max-update "$MAX_UPDATE" "${stop[@]}" \
    --save-dir "$CKPT" --no-epoch-checkpoints --log-format simple "${dist_args[@]}" "$@" 2>&1 | tee "$WORK/train.log"
  recipe_require "$CKPT/checkpoint_last.pt"
  updates=$(grep -oE "num_updates[ =][0-9]+" "$WORK/train.log" | tail -n 1 | grep -oE "[0-9]+$")
  recipe_log "valid loss after $updates updates: $(valid_losses "$WORK/train.log" | tail -n 1)" \
    "(each epoch: $(valid_losses "$WORK/train.log" | paste -sd ' ' -))"
fi
recipe_done
