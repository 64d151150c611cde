"""Average the weights of several checkpoints of one training into one checkpoint.

A model early in training moves a lot between saves; the mean of its last few saves is often a better
model than any one of them, at no training cost (Vaswani et al. 2017; fairseq's own recipe averages its
last checkpoints). fairseq keeps its averaging script in the repository, not in the installed package,
so this tool does the same for any checkpoint bnb_fairseq writes (BnB, JANUS, bert2bert):

  python -m bnb_fairseq.tools.average_checkpoints --output avg.pt CKPT [CKPT ...]
  python -m bnb_fairseq.tools.average_checkpoints --output avg.pt --dir SAVE_DIR --last 5 [--upto-update 1000]

``--dir`` takes the update-interval saves ``checkpoint_E_U.pt`` (fairseq-train --save-interval-updates N
--keep-interval-updates K) with the highest U (at most ``--upto-update``), and ``checkpoint_last.pt`` as the
newest when a training stopped after its last interval save. Floating-point weights and
buffers are averaged (in float64, stored in their own type); integer buffers must agree. The output is the
newest input with the averaged weights: same configuration, no optimizer state (resume from it with
--reset-optimizer), and no stored decoding defaults (they were chosen for another model: tune again).
"""

import argparse
import os
import re
import sys
import tempfile

import torch

UPDATE_SAVE = re.compile(r"^checkpoint_\d+_(\d+)\.pt$")


def saved_updates(path):
    """The update count a fairseq checkpoint was saved at."""
    state = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    return int(state["optimizer_history"][-1]["num_updates"])


def update_saves(save_dir, last, upto=None):
    """The ``last`` newest saves of save_dir, oldest first: its update-interval checkpoints (update counts
    <= upto), and checkpoint_last.pt when it is newer than all of them (a training stopped by time or at a
    --max-update between two interval saves)."""
    if not os.path.isdir(save_dir):
        raise SystemExit(f"average_checkpoints: --dir {save_dir} is not a directory")
    found = []
    for name in os.listdir(save_dir):
        m = UPDATE_SAVE.match(name)
        if m and (upto is None or int(m.group(1)) <= upto):
            found.append((int(m.group(1)), os.path.join(save_dir, name)))
    found.sort()
    newest = os.path.join(save_dir, "checkpoint_last.pt")
    if os.path.isfile(newest):
        updates = saved_updates(newest)
        if (not found or updates > found[-1][0]) and (upto is None or updates <= upto):
            found.append((updates, newest))
    if len(found) < last:
        bound = f" at update <= {upto}" if upto is not None else ""
        raise SystemExit(
            f"average_checkpoints: {save_dir} holds {len(found)} update-interval checkpoints "
            f"(checkpoint_E_U.pt){bound}, --last asks for {last}: train with --save-interval-updates N "
            "--keep-interval-updates K (K >= --last), or give fewer"
        )
    return [path for _, path in found[-last:]]


def average_states(paths):
    """The newest checkpoint's state with the mean of every checkpoint's weights."""
    from fairseq import checkpoint_utils

    import bnb_fairseq  # noqa: F401  (registers the models, so the configuration loads)

    if len(paths) < 2:
        raise SystemExit("average_checkpoints: give two or more checkpoints")
    sums, newest, first = None, None, None
    for path in paths:
        if not os.path.isfile(path):
            raise SystemExit(f"average_checkpoints: checkpoint {path} not found")
        state = checkpoint_utils.load_checkpoint_to_cpu(path)
        weights = state["model"]
        if sums is None:
            first, arch = path, state["cfg"].model._name
            sums = {k: v.double() if v.is_floating_point() else v.clone() for k, v in weights.items()}
        else:
            if state["cfg"].model._name != arch or set(weights) != set(sums):
                raise SystemExit(
                    f"average_checkpoints: {path} is not the model of {first} ({state['cfg'].model._name} "
                    f"against {arch}, or other weights): average checkpoints of one training"
                )
            for k, v in weights.items():
                if v.shape != sums[k].shape:
                    raise SystemExit(
                        f"average_checkpoints: {k} is {tuple(v.shape)} in {path} and {tuple(sums[k].shape)} "
                        f"in {first}: average checkpoints of one training"
                    )
                if v.is_floating_point():
                    sums[k] += v.double()
                elif not torch.equal(v, sums[k]):
                    raise SystemExit(f"average_checkpoints: the integer buffer {k} differs between {first} and {path}")
        newest = state
    dtypes = {k: v.dtype for k, v in newest["model"].items()}
    newest["model"] = {k: (v / len(paths)).to(dtypes[k]) if v.is_floating_point() else v for k, v in sums.items()}
    newest.pop("last_optimizer_state", None)
    from omegaconf import OmegaConf

    # plain containers, as fairseq saves them, so that torch.load(weights_only=True) reads the file
    newest["cfg"] = OmegaConf.to_container(newest["cfg"], resolve=True, enum_to_str=True)
    task_state = dict(newest.get("task_state") or {})
    from bnb_fairseq.generation.decoding import StoredDecodingDefaults

    dropped = task_state.pop(StoredDecodingDefaults.KEY, None)
    newest["task_state"] = task_state
    extra = dict(newest.get("extra_state") or {})
    extra["averaged_from"] = [os.path.basename(p) for p in paths]
    newest["extra_state"] = extra
    return newest, dropped


def average(paths, out):
    """Write the mean of ``paths`` to ``out`` (whole or not at all); returns the decoding defaults dropped."""
    state, dropped = average_states(paths)
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    # a temporary file of its own: the nodes of a multi-node recipe may all write the same mean at once
    fd, partial = tempfile.mkstemp(dir=folder, prefix=os.path.basename(out) + ".", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(partial, out)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return dropped


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="*", help="checkpoint files of one training")
    p.add_argument("--output", required=True, help="the averaged checkpoint to write")
    p.add_argument(
        "--dir", help="take the update-interval saves of this save directory (and a newer checkpoint_last.pt)"
    )
    p.add_argument("--last", type=int, help="with --dir: how many of them (the newest)")
    p.add_argument("--upto-update", type=int, help="with --dir: ignore saves after this update")
    args = p.parse_args(argv)
    if args.dir is not None:
        if args.checkpoints or not args.last:
            p.error("--dir takes --last N and no checkpoint files")
        paths = update_saves(args.dir, args.last, args.upto_update)
    else:
        if args.last or args.upto_update:
            p.error("--last and --upto-update go with --dir")
        paths = args.checkpoints
    out = os.path.abspath(args.output)
    if out in {os.path.abspath(path) for path in paths}:
        p.error(f"--output {args.output} is one of the inputs: write the average to a new file")
    dropped = average(paths, out)
    print(f"average_checkpoints: {args.output} = the mean of {len(paths)}: {', '.join(paths)}", file=sys.stderr)
    if dropped:
        print(
            f"average_checkpoints: the stored decoding defaults {dropped['values']} of {paths[-1]} were "
            "dropped: tune them for the average (tools.tune_blank_penalty --save)",
            file=sys.stderr,
        )
    return out


if __name__ == "__main__":
    main()
