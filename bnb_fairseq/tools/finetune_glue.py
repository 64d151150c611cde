"""Fine-tune a Hugging Face BERT directory on a GLUE-format classification task and report dev accuracy.

  python -m bnb_fairseq.tools.finetune_glue --model HF_DIR --train train.tsv --dev dev.tsv --out DIR
      [--text-columns sentence1,sentence2] [--label-column label] [--epochs 3] [--batch-size 32]
      [--lr 2e-5] [--max-len 128] [--warmup 0.1] [--seed 1] [--save-model]

The model is typically a BnB encoder exported by ``bnb_fairseq.tools.export_hf``; any BERT directory
that ``BertForSequenceClassification.from_pretrained`` loads will do. A plain PyTorch loop (AdamW,
linear warm-up and decay), evaluated on the dev file after every epoch.

TSV files as GLUE ships them: a header line, tab-separated columns, no quoting. The text columns
are found by name (``sentence`` for SST-2/CoLA-with-header, ``sentence1``/``sentence2`` for RTE,
MRPC-style ``#1 String``/``#2 String``, ``question``/``sentence`` for QNLI, ``question1``/
``question2`` for QQP, ``premise``/``hypothesis``) unless ``--text-columns`` names them; the label
column is ``label``, ``gold_label`` or ``Quality`` unless ``--label-column`` names it. Labels are
classes (strings, e.g. ``0``/``1`` or ``entailment``/``not_entailment``); regression (STS-B) is not
supported. A line whose column count differs from the header's, an empty text or a dev label never
seen in training is one error naming the file and line.

Under torchrun (WORLD_SIZE > 1) each process trains on its share of every epoch's batches with
DistributedDataParallel (NCCL on GPUs, Gloo on CPUs); batches are repeated from the start of the
epoch so that every process gets as many, and the first process evaluates and writes the outputs.

Written to --out: ``results.json`` (accuracy per epoch, the majority-class baseline, settings),
``dev_predictions.tsv``, and with --save-model the fine-tuned model in ``model/``.
"""

import argparse
import json
import math
import os
import random
import sys
import time

TEXT_COLUMNS = (
    ("sentence1", "sentence2"),
    ("#1 String", "#2 String"),
    ("question1", "question2"),
    ("question", "sentence"),
    ("premise", "hypothesis"),
    ("sentence",),
)
LABEL_COLUMNS = ("label", "gold_label", "Quality")


class GlueError(Exception):
    """Input that cannot be used: one message naming file and line, exit status 1."""


def read_tsv(path):
    """(header, [(line number, fields)]) of a GLUE TSV; every line must have the header's column count."""
    if not os.path.isfile(path):
        raise GlueError(f"{path}: no such file")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise GlueError(f"{path}: the file is empty; a GLUE TSV starts with a header line")
    header = lines[0].rstrip("\r").split("\t")
    rows = []
    for lineno, line in enumerate(lines[1:], 2):
        fields = line.rstrip("\r").split("\t")
        if len(fields) != len(header):
            raise GlueError(
                f"{path}:{lineno}: {len(fields)} tab-separated column(s), the header has {len(header)} "
                f"({', '.join(header)}); a tab inside a sentence, or a missing field?"
            )
        rows.append((lineno, fields))
    if not rows:
        raise GlueError(f"{path}: a header and no examples")
    return header, rows


def choose_columns(header, path, text_columns=None, label_column=None):
    """(text column indexes, label column index), by name."""

    def index(name):
        if name not in header:
            raise GlueError(f"{path}:1: no column {name!r} in the header ({', '.join(header)})")
        return header.index(name)

    if text_columns:
        texts = [index(c) for c in text_columns.split(",")]
        if not 1 <= len(texts) <= 2:
            raise GlueError(f"--text-columns {text_columns!r}: give one or two column names")
    else:
        found = next((names for names in TEXT_COLUMNS if all(n in header for n in names)), None)
        if found is None:
            raise GlueError(
                f"{path}:1: no known text columns in the header ({', '.join(header)}); "
                "name them with --text-columns A[,B]"
            )
        texts = [index(n) for n in found]
    if label_column:
        label = index(label_column)
    else:
        label = next((header.index(n) for n in LABEL_COLUMNS if n in header), None)
        if label is None:
            raise GlueError(
                f"{path}:1: no label column ({', '.join(LABEL_COLUMNS)}) in the header "
                f"({', '.join(header)}); name it with --label-column"
            )
    return texts, label


def load_examples(path, text_columns, label_column):
    header, rows = read_tsv(path)
    texts, label = choose_columns(header, path, text_columns, label_column)
    examples = []
    for lineno, fields in rows:
        parts = [fields[i].strip() for i in texts]
        if not all(parts) or not fields[label].strip():
            raise GlueError(f"{path}:{lineno}: an empty text or label field; fill it in or remove the line")
        examples.append({"line": lineno, "texts": parts, "label": fields[label].strip()})
    return [header[i] for i in texts], header[label], examples


def batches(examples, size, rng=None):
    order = list(range(len(examples)))
    if rng is not None:
        rng.shuffle(order)
    for start in range(0, len(order), size):
        yield [examples[i] for i in order[start : start + size]]


def encode(tok, batch, max_len, device):
    firsts = [e["texts"][0] for e in batch]
    seconds = [e["texts"][1] for e in batch] if len(batch[0]["texts"]) > 1 else None
    enc = tok(firsts, seconds, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
    return {k: v.to(device) for k, v in enc.items()}


def evaluate(model, tok, examples, labels, max_len, batch_size, device):
    import torch

    model.eval()
    predictions = []
    with torch.no_grad():
        for batch in batches(examples, batch_size):
            logits = model(**encode(tok, batch, max_len, device)).logits
            predictions += [labels[i] for i in logits.argmax(-1).tolist()]
    model.train()
    correct = sum(p == e["label"] for p, e in zip(predictions, examples))
    return correct, predictions


def get_parser():
    p = argparse.ArgumentParser(
        prog="python -m bnb_fairseq.tools.finetune_glue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="Hugging Face BERT directory (e.g. from export_hf)")
    p.add_argument("--train", required=True, help="training TSV (GLUE format)")
    p.add_argument("--dev", required=True, help="dev TSV, scored by accuracy")
    p.add_argument("--out", required=True, help="directory for results.json, dev_predictions.tsv (and model/)")
    p.add_argument("--text-columns", help="one or two header names (default: found by name)")
    p.add_argument("--label-column", help="header name of the label (default: label, gold_label or Quality)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.1, help="fraction of the updates spent warming up")
    p.add_argument("--max-len", type=int, default=128, help="longest input in word pieces (pairs: longest first cut)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--save-model", action="store_true", help="save the fine-tuned model in OUT/model")
    return p


def distributed_setup():
    """(rank, world size, device) under torchrun; (0, 1, best device) otherwise."""
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, "cuda" if torch.cuda.is_available() else "cpu"
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return dist.get_rank(), world, f"cuda:{local}"
    dist.init_process_group("gloo")
    return dist.get_rank(), world, "cpu"


def my_share(batch_list, rank, world):
    """This process's batches: every world-th one, the list first repeated from its start up to a
    multiple of ``world`` so that all processes take the same number of steps."""
    if world == 1:
        return batch_list
    padded = batch_list + batch_list[: (-len(batch_list)) % world]
    return padded[rank::world]


def run(args):
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    text_names, label_name, train = load_examples(args.train, args.text_columns, args.label_column)
    _, _, dev = load_examples(args.dev, ",".join(text_names), label_name)
    labels = sorted({e["label"] for e in train})
    if len(labels) < 2:
        raise GlueError(f"{args.train}: one label only ({labels[0]!r}); a classifier needs two or more")
    unseen = next((e for e in dev if e["label"] not in labels), None)
    if unseen:
        raise GlueError(
            f"{args.dev}:{unseen['line']}: label {unseen['label']!r} does not occur in {args.train} "
            f"(labels there: {', '.join(labels)})"
        )
    if not os.path.isdir(args.model):
        raise GlueError(f"--model {args.model}: no such directory")
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    rank, world, device = distributed_setup()
    tok = AutoTokenizer.from_pretrained(args.model)
    model = BertForSequenceClassification.from_pretrained(
        args.model,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    ).to(device)
    model.train()
    trained = model  # what forward/backward go through; ``model`` is what is evaluated and saved
    if world > 1:
        device_ids = [int(device[len("cuda:") :])] if device.startswith("cuda") else None
        trained = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    label_id = {label: i for i, label in enumerate(labels)}
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": args.weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    total = args.epochs * math.ceil(math.ceil(len(train) / args.batch_size) / world)
    warmup = int(args.warmup * total)

    def lr_factor(step):  # linear warm-up to --lr, then linear decay to 0 at the last update
        return (step + 1) / max(warmup, 1) if step < warmup else max(0.0, (total - step) / max(total - warmup, 1))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    majority = max(labels, key=lambda label: sum(e["label"] == label for e in train))
    baseline = sum(e["label"] == majority for e in dev) / len(dev)
    log = print if rank == 0 else (lambda *a, **k: None)
    log(
        f"| {len(train)} training and {len(dev)} dev examples; text {' + '.join(text_names)}, label {label_name} "
        f"({', '.join(labels)}); majority class {majority!r} gives dev accuracy {100 * baseline:.2f}"
    )
    rng = random.Random(args.seed)
    history, start = [], time.time()
    for epoch in range(1, args.epochs + 1):
        losses = []
        for batch in my_share(list(batches(train, args.batch_size, rng)), rank, world):
            target = torch.tensor([label_id[e["label"]] for e in batch], device=device)
            loss = trained(**encode(tok, batch, args.max_len, device), labels=target).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        if world > 1:
            torch.distributed.barrier()
        if rank != 0:
            continue
        correct, predictions = evaluate(model, tok, dev, labels, args.max_len, args.batch_size, device)
        history.append(
            {"epoch": epoch, "train_loss": sum(losses) / len(losses), "dev_accuracy": 100 * correct / len(dev)}
        )
        log(
            f"| epoch {epoch}: train loss {history[-1]['train_loss']:.4f}, dev accuracy "
            f"{history[-1]['dev_accuracy']:.2f} ({correct}/{len(dev)})",
            flush=True,
        )
    if rank != 0:
        torch.distributed.destroy_process_group()
        return None
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "dev_predictions.tsv"), "w", encoding="utf-8") as f:
        f.write("line\tlabel\tprediction\n")
        f.writelines(f"{e['line']}\t{e['label']}\t{p}\n" for e, p in zip(dev, predictions))
    result = {
        "model": os.path.abspath(args.model),
        "train": args.train,
        "dev": args.dev,
        "labels": labels,
        "dev_examples": len(dev),
        "dev_accuracy": history[-1]["dev_accuracy"],
        "correct": correct,
        "majority_baseline": 100 * baseline,
        "epochs": history,
        "seconds": time.time() - start,
        "device": device,
        "processes": world,
        "settings": {k: v for k, v in vars(args).items() if k not in ("model", "train", "dev")},
    }
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    if args.save_model:
        model.save_pretrained(os.path.join(args.out, "model"))
        tok.save_pretrained(os.path.join(args.out, "model"))
    print(
        f"dev accuracy = {result['dev_accuracy']:.2f} ({correct}/{len(dev)}; majority class "
        f"{100 * baseline:.2f}; {args.epochs} epoch(s), {result['seconds']:.0f} s on {device} x {world})"
    )
    if world > 1:
        torch.distributed.destroy_process_group()
    return result


def main(argv=None):
    args = get_parser().parse_args(argv)
    try:
        run(args)
    except GlueError as e:
        print(f"finetune_glue: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
