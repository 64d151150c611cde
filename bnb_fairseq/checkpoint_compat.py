"""Checkpoints that load, and checkpoints that fail with one clear message.

1. torch >= 2.6 loads with weights_only=True by default. fairseq 0.12 stores the parsed command
   line (an ``argparse.Namespace``) in every checkpoint; with weights_only loading that global
   must be allow-listed. We add exactly what our checkpoints need and never switch weights_only
   off.
2. A checkpoint cut short or damaged (a job killed while fairseq copied ``checkpoint_last.pt``,
   a full disk, a bad transfer) makes torch fail deep inside its zip reader without naming the
   file. ``check_checkpoints_to_load`` runs when the task is set up, before fairseq reads any
   checkpoint, and names the file and the newest intact checkpoint beside it.
3. A checkpoint given a data directory whose dictionaries differ from its own would fail with
   a tensor size mismatch, or, at equal sizes, translate garbage. The task saves a fingerprint
   of its dictionaries in the checkpoint (``vocabulary_fingerprints``) and compares it when the
   checkpoint is loaded (``vocabulary_mismatch``).
"""

import argparse
import hashlib
import os
import zipfile

import torch

CHUNK = 1 << 22


def allow_fairseq_checkpoint_globals():
    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is not None:  # torch < 2.4 loads everything anyway
        add([argparse.Namespace])


class CheckpointFileError(RuntimeError):
    """A checkpoint that cannot be loaded: the message names it and what to use instead."""


def checkpoint_problem(path):
    """None if ``path`` is a complete torch checkpoint, else what is wrong with it.

    torch writes a zip archive with a CRC-32 per record: the central directory at its end is
    missing from a truncated file, and a damaged record fails its checksum. Reading every record
    costs about as much as reading the file once. Records saved with torch's CRC computation off
    (stored CRC 0) are read to their end but not checksummed; the legacy pre-zip format has no
    checksum and is accepted as it is.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if size == 0:
        return "is empty (0 bytes)"
    if not zipfile.is_zipfile(path):
        if head[:1] == b"\x80":  # a pickle: torch's legacy format
            return None
        return f"is incomplete ({size} bytes and no zip directory at its end: cut short while being written?)"
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.CRC == 0:
                    info.CRC = None  # not computed by torch: zipfile then skips the comparison
                with archive.open(info) as record:
                    while record.read(CHUNK):
                        pass
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        return f"is damaged ({e})"
    return None


def newest_intact_checkpoint(path):
    """The most recently written intact ``*.pt`` file in ``path``'s folder other than ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    candidates = [os.path.join(folder, n) for n in names if n.endswith(".pt")]
    candidates = [c for c in candidates if os.path.isfile(c) and not os.path.samefile(c, path)]
    for candidate in sorted(candidates, key=os.path.getmtime, reverse=True):
        if checkpoint_problem(candidate) is None:
            return candidate
    return None


def check_checkpoint(path, use_instead):
    """Raise CheckpointFileError if ``path`` exists but cannot be loaded.

    ``use_instead(good)`` words the advice for an intact checkpoint found beside it.
    """
    problem = checkpoint_problem(path)
    if problem is None:
        return
    good = newest_intact_checkpoint(path)
    advice = (
        f"the newest intact checkpoint beside it is {good}: {use_instead(good)}"
        if good
        else "no intact checkpoint was found beside it: restore it from a copy, or move it away to start again"
    )
    raise CheckpointFileError(f"checkpoint {path} {problem}; {advice}")


def is_local(path):
    return "://" not in path


def root_config(cfg):
    """The whole fairseq config a task config belongs to (fairseq keeps the link when it merges the
    task's dataclass into the command line's config), or None."""
    get_parent = getattr(cfg, "_get_parent", None)
    root = get_parent() if get_parent is not None else None
    return root if root is not None and "checkpoint" in root else None


def eval_paths(root):
    """``--path`` of fairseq-generate/-interactive; None in fairseq-train."""
    common_eval = root.get("common_eval")
    return common_eval.get("path") if common_eval is not None else None


def check_checkpoints_to_load(task_cfg, from_checkpoint=False):
    """Check the checkpoints fairseq is about to read, from the task's setup.

    fairseq-generate/-interactive: every ``--path`` (fairseq-validate reads its checkpoint before it
    sets up a task, so torch's own error stands there). fairseq-train: the checkpoint it
    resumes from (``<save-dir>/checkpoint_last.pt`` or ``--restore-file``); an explicit
    ``--restore-file`` that does not exist is an error here, where fairseq would silently start
    from scratch. A task rebuilt from a checkpoint's own config (``from_checkpoint``) checks
    nothing: that config describes the training run, not this one.
    """
    root = None if from_checkpoint else root_config(task_cfg)
    if root is None:
        return
    paths = eval_paths(root)
    if paths:
        for path in paths.split(os.pathsep):
            if is_local(path) and os.path.isfile(path):
                check_checkpoint(path, lambda good: f"pass --path {good}")
        return
    ckpt = root.checkpoint
    sharded = (
        ckpt.checkpoint_suffix
        or root.common.model_parallel_size > 1
        or root.distributed_training.ddp_backend == "fully_sharded"
    )
    if sharded or not is_local(ckpt.restore_file):
        return  # fairseq adds shard suffixes to these names
    if ckpt.restore_file == "checkpoint_last.pt":
        last = os.path.join(ckpt.save_dir, "checkpoint_last.pt")
        if os.path.exists(last):
            check_checkpoint(
                last,
                lambda good: (
                    f"resume from it with `cp {good} {last}` and the same command, or pass --restore-file {good}"
                ),
            )
        return
    if not os.path.exists(ckpt.restore_file):
        raise CheckpointFileError(
            f"--restore-file {ckpt.restore_file} not found (fairseq would train from "
            "scratch); give an existing checkpoint, or leave the option out to resume "
            f"from {os.path.join(ckpt.save_dir, 'checkpoint_last.pt')}"
        )
    check_checkpoint(ckpt.restore_file, lambda good: f"pass --restore-file {good}")


def check_launch(task_cfg, from_checkpoint=False):
    """Refuse a torchrun launch that fairseq would run as N independent single-process trainings.

    fairseq only joins the processes torchrun starts when --distributed-world-size > 1, and its
    default is the number of visible GPUs: with one GPU (or none) per process, each process trains
    alone and all write the same checkpoints.
    """
    world = os.environ.get("WORLD_SIZE")
    root = None if from_checkpoint else root_config(task_cfg)
    if root is None or world is None or not world.isdigit() or int(world) <= 1 or eval_paths(root):
        return
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        raise RuntimeError(
            f"started by torchrun with WORLD_SIZE={world}, but fairseq is not training distributed "
            f"(--distributed-world-size {root.distributed_training.distributed_world_size}): every process would "
            f"train alone. Pass --distributed-world-size {world} (on GPUs; on CPU fairseq 0.12 cannot take torchrun's "
            "ranks: start each process with --distributed-init-method tcp://HOST:PORT --distributed-rank R "
            "--distributed-no-spawn, see the README)"
        )


# --- the dictionaries a checkpoint was trained with ---

VOCABULARY_KEY = "bnb_vocabularies"


def fingerprint(dictionary):
    """Size and SHA-1 of the dictionary's symbols in id order: equal iff ids mean the same pieces."""
    joined = "\n".join(dictionary.symbols).encode("utf-8")
    return {"size": len(dictionary), "sha1": hashlib.sha1(joined).hexdigest()}


def vocabulary_fingerprints(task):
    """Saved in the checkpoint's task state: plain str/int values, so weights_only loading reads them."""
    return {
        "data": os.path.abspath(task.cfg.data.split(os.pathsep)[0]),
        "source": fingerprint(task.src_dict),
        "target": fingerprint(task.tgt_dict),
    }


def vocabulary_mismatch(saved, task, checkpoints=None):
    """The error message if ``task``'s dictionaries differ from the ``saved`` fingerprints, else None."""
    data = task.cfg.data.split(os.pathsep)[0]
    wrong = []
    for side, dictionary, lang in (
        ("source", task.src_dict, task.cfg.source_lang),
        ("target", task.tgt_dict, task.cfg.target_lang),
    ):
        theirs, ours = saved.get(side), fingerprint(dictionary)
        if theirs is None or theirs["sha1"] == ours["sha1"]:
            continue
        how = (
            f"{ours['size']} entries against its {theirs['size']}"
            if ours["size"] != theirs["size"]
            else f"the same size, {ours['size']}, but different entries"
        )
        wrong.append(f"{data}/dict.{lang}.txt ({side}) has {how}")
    if not wrong:
        return None
    which = f" {checkpoints}" if checkpoints else ""
    return (
        f"the checkpoint{which} was trained with other dictionaries than this data directory's: "
        f"{'; '.join(wrong)}. Give the data directory it was trained on ({saved.get('data')}) or one "
        "binarized with the same BERT checkpoint (preprocess/binarize.py --bert DIR)"
    )
