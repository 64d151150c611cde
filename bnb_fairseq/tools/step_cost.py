"""Training cost of model or criterion variants, measured in one run: the same batches of the training
data go through a forward and backward pass of each variant in turn (round-robin, so that the noise of
a shared machine falls on all of them alike), and the mean seconds per step are printed with their
ratio to the first variant.

  python -m bnb_fairseq.tools.step_cost DATA -s es -t en --steps 20 \\
      --variant "classify=--length-control classify --criterion bnb_nat" \\
      --variant "crf=--length-control classify --criterion bnb_nat --crf-lowrank-approx 32" \\
      -- --user-dir bnb_fairseq --task bnb_seq2seq --arch bnb_small --bert-checkpoint DIR --max-tokens 1024

Options after ``--`` are fairseq-train options shared by every variant; each ``--variant LABEL=OPTIONS``
adds its own (the last value of an option wins). No optimizer step is taken: every variant sees the same
weights and batches.
"""

import argparse
import shlex
import sys
import time


def build(data, src, tgt, shared, extra):
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, input_args=[data, "-s", src, "-t", tgt, *shared, *extra])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    return cfg, task, model, criterion


def batches(cfg, task, n):
    itr = task.get_batch_iterator(
        dataset=task.dataset("train"),
        max_tokens=cfg.dataset.max_tokens,
        max_sentences=cfg.dataset.batch_size,
        max_positions=None,
        ignore_invalid_inputs=True,
        seed=cfg.common.seed,
        num_workers=0,
    ).next_epoch_itr(shuffle=True)
    out = []
    for sample in itr:
        out.append(sample)
        if len(out) == n:
            break
    return out


def step(model, criterion, sample, num_updates):
    set_num_updates = getattr(criterion, "set_num_updates", None)
    if set_num_updates is not None:
        set_num_updates(num_updates)
    start = time.perf_counter()
    loss, _, _ = criterion(model, sample)
    loss.backward()
    seconds = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return seconds


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    shared = []
    if "--" in argv:
        cut = argv.index("--")
        argv, shared = argv[:cut], argv[cut + 1 :]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data")
    p.add_argument("-s", "--source-lang", required=True)
    p.add_argument("-t", "--target-lang", required=True)
    p.add_argument("--variant", action="append", required=True, help="LABEL=fairseq-train options (repeatable)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    variants = []
    for spec in args.variant:
        label, sep, opts = spec.partition("=")
        if not sep:
            raise SystemExit(f"error: --variant {spec!r}: give LABEL=OPTIONS")
        torch.manual_seed(1)
        variants.append((label, *build(args.data, args.source_lang, args.target_lang, shared, shlex.split(opts))))
    cfg, task = variants[0][1], variants[0][2]
    samples = batches(cfg, task, args.warmup + args.steps)
    for _, _, _, model, _ in variants:
        model.train()
    seconds = {label: 0.0 for label, *_ in variants}
    for i, sample in enumerate(samples):
        for label, _, _, model, criterion in variants:
            took = step(model, criterion, sample, i)
            if i >= args.warmup:
                seconds[label] += took
    n = len(samples) - args.warmup
    base = seconds[variants[0][0]] / n
    tokens = sum(int(s["ntokens"]) for s in samples[args.warmup :]) / n
    print(
        f"step_cost: {n} steps of forward + backward per variant, {tokens:.0f} target tokens a step, "
        f"{torch.get_num_threads()} threads"
    )
    print("| variant | s/step | ratio |\n|---|---|---|")
    for label, *_ in variants:
        mean = seconds[label] / n
        print(f"| {label} | {mean:.3f} | {mean / base:.3f} |")


if __name__ == "__main__":
    main()
