# The CPU recipe for the autoregressive BERT2BERT baseline (bert2bert_small over MiniLM), the
# teacher for distillation and the AR side of examples/benchmark.sh. Source it after setting BERT;
# it defines AR_RECIPE_ARGS (fairseq-train options, no data or languages). The same checkpoint
# sizes as BnB's recipe (examples/demo/recipe.sh): 3 encoder + 3 decoder layers.
AR_RECIPE_ARGS=(
  --arch bert2bert_small --bert-checkpoint "$BERT"  # cross-attention starts as a copy of self-attention
  --criterion label_smoothed_cross_entropy --label-smoothing 0.1
  --optimizer adam --adam-betas '(0.9, 0.98)' --lr 5e-4 --lr-scheduler inverse_sqrt
  --warmup-updates 100 --warmup-init-lr 1e-6 --clip-norm 1.0
  --max-tokens 1024 --num-workers 0 --seed 1
)
