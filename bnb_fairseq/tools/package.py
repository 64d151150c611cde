"""Write one self-contained model directory: ``python -m bnb_fairseq.tools.package CKPT DATA OUT``.

The directory holds ``model.pt`` (the weights and config, without optimizer state), the two
dictionaries, the tokenizer folders binarize.py saved, and a README with the training settings.
``BnbModel.from_pretrained(OUT)`` (or ``Bert2BertModel``) and ``fairseq-interactive OUT --path
OUT/model.pt`` take it as it is: no data directory, BERT checkpoint or tokenizer argument needed.
``--precision int4`` stores the Linear weights and embedding tables as 4-bit codes with a scale and
minimum per group of 32 values (about a fifth of the fp32 file); they load as fp32 weights, and
``--inference-precision int4`` keeps them in 4 bits in memory too.
"""

import argparse
import os
import shutil
import sys

import torch

README = """# {name}

{article} {kind} model trained with bnb-fairseq ({arch}, {src} -> {tgt}, {updates} updates).

```python
from bnb_fairseq.models.{module} import {cls}
model = {cls}.from_pretrained("{out}")
print(model.translate(["..."]))
```

```bash
fairseq-interactive {out} --path {out}/model.pt --user-dir bnb_fairseq --task bnb_seq2seq \\
    -s {src} -t {tgt} --bpe bert_wordpiece{extra}
```

{precision_note}Decoding defaults stored in the checkpoint (used unless a decoding option is given): {decoding}.

Training settings (from the checkpoint): task `{task}`, criterion `{criterion}`, optimizer `{optimizer}`,
lr {lr}, max tokens {max_tokens}, update freq {update_freq}.

Model options:
```
{model_options}
```
"""


def stored_decoding(state):
    from bnb_fairseq.generation.decoding import StoredDecodingDefaults

    stored = StoredDecodingDefaults.from_state((state.get("task_state") or {}).get(StoredDecodingDefaults.KEY))
    if stored is None:
        return "none"
    values = ", ".join(f"`--{k.replace('_', '-')} {v}`" for k, v in sorted(stored.values.items()))
    return f"{values} (chosen by {stored.chosen_by})"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="fairseq checkpoint (checkpoint_best.pt, checkpoint_last.pt ...)")
    p.add_argument("data", help="the binarized data directory it was trained on (dictionaries and tokenizers)")
    p.add_argument("out", help="model directory to write (must not exist)")
    p.add_argument(
        "--precision",
        choices=("fp32", "int4"),
        default="fp32",
        help="int4: weights and embedding tables as 4-bit codes (groups of 32 values), loaded as fp32",
    )
    return p.parse_args(argv)


def package(checkpoint, data, out, precision="fp32"):
    from fairseq import checkpoint_utils

    import bnb_fairseq  # noqa: F401  (registers the models, so the config loads)

    if os.path.exists(out):
        raise SystemExit(f"package: {out} exists; give a new directory")
    if not os.path.isfile(checkpoint):
        raise SystemExit(f"package: checkpoint {checkpoint} not found")
    state = checkpoint_utils.load_checkpoint_to_cpu(checkpoint)
    cfg = state["cfg"]
    src, tgt = cfg.task.source_lang, cfg.task.target_lang
    needed = [f"dict.{src}.txt", f"dict.{tgt}.txt", f"tokenizer.{src}"]
    missing = [n for n in needed if not os.path.exists(os.path.join(data, n))]
    if missing:
        raise SystemExit(
            f"package: {data} lacks {', '.join(missing)}: give the directory preprocess/binarize.py "
            "wrote for this model's training data"
        )
    stage = out.rstrip("/") + ".partial"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    for name in sorted(os.listdir(data)):
        path = os.path.join(data, name)
        if name.startswith("dict.") and name.endswith(".txt"):
            shutil.copy(path, os.path.join(stage, name))
        elif name.startswith("tokenizer.") and os.path.isdir(path):
            shutil.copytree(path, os.path.join(stage, name))
    from omegaconf import OmegaConf

    state = {k: v for k, v in state.items() if k not in ("last_optimizer_state", "extra_state")}
    # plain containers, as fairseq saves them, so that torch.load(weights_only=True) reads the file
    state["cfg"] = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    state["extra_state"] = {}
    if precision == "int4":
        from bnb_fairseq.modules.quantized import pack_state_int4

        state["model"] = pack_state_int4(state["model"])
    torch.save(state, os.path.join(stage, "model.pt"))
    model_cfg = cfg.model
    autoregressive = model_cfg._name.startswith("bert2bert")
    options = "\n".join(f"{k} = {v}" for k, v in sorted(model_cfg.items()) if not k.startswith("_"))
    with open(os.path.join(stage, "README.md"), "w", encoding="utf-8") as f:
        f.write(
            README.format(
                name=os.path.basename(out.rstrip("/")),
                article="An" if autoregressive else "A",
                kind="autoregressive BERT2BERT" if autoregressive else "non-autoregressive BnB",
                arch=model_cfg._name,
                src=src,
                tgt=tgt,
                updates=state.get("optimizer_history", [{}])[-1].get("num_updates", "?"),
                module="bert2bert" if autoregressive else "bnb",
                cls="Bert2BertModel" if autoregressive else "BnbModel",
                out=out,
                extra=" --beam 4" if autoregressive else "",
                task=cfg.task._name,
                criterion=cfg.criterion._name,
                optimizer=cfg.optimizer._name if cfg.optimizer else "?",
                lr=list(cfg.optimization.lr),
                max_tokens=cfg.dataset.max_tokens,
                update_freq=list(cfg.optimization.update_freq),
                model_options=options,
                decoding=stored_decoding(state),
                precision_note=(
                    "Weights stored in 4 bits (`--precision int4`): they load as fp32; add "
                    "`--inference-precision int4` to keep them in 4 bits in memory as well.\n\n"
                    if precision == "int4"
                    else ""
                ),
            )
        )
    os.replace(stage, out)
    return out


def main(argv=None):
    args = parse_args(argv)
    out = package(args.checkpoint, args.data, args.out, args.precision)
    size = os.path.getsize(os.path.join(out, "model.pt")) / 2**20
    print(f"wrote {out}: model.pt ({size:.1f} MiB, {args.precision}), dictionaries, tokenizers, README.md")


if __name__ == "__main__":
    sys.exit(main())
