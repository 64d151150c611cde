# The default CPU recipe for bnb_small over MiniLM, shared by run_demo.sh and learning_curve.sh.
# Source it after setting BERT; it defines RECIPE_ARGS (fairseq-train options, no data or languages) and
# JANUS_ARGS (added after RECIPE_ARGS: one checkpoint that also decodes autoregressively, docs/janus.md).
# Each setting that departs from the original BnB is justified by a curve in docs/learning-curves.md.
RECIPE_ARGS=(
  --arch bnb_small --bert-checkpoint "$BERT"
  --ctc-ratio 1.3 --latent-dropout 0.1 --memory-dropout 0.1
  --criterion bnb_ctc --kl-weight 0.1
  --optimizer adam --adam-betas '(0.9, 0.98)' --lr 1e-3 --lr-scheduler inverse_sqrt
  --warmup-updates 30 --warmup-init-lr 1e-6 --clip-norm 1.0
  --max-tokens 1024 --num-workers 0 --seed 1
)
# JANUS: the AR view's cross-entropy at half weight + a symmetric KL (weight 0.1) between the views, the AR
# view's words read as BERT's second segment; measured in docs/janus.md (the cross-attention starts as a
# copy, the default there)
JANUS_ARGS=(--janus --criterion bnb_janus --janus-ar-weight 0.5 --janus-kl-weight 0.1 --janus-ar-segment)
