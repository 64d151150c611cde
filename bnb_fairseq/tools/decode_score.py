"""One decode-and-score path for the tools (benchmark, distill, learning_curve, tune_blank_penalty).

A checkpoint is loaded with its task, its generator is built by ``task.build_generator`` (so every
decoding option of the task works here without being listed again), every sentence of a split is
decoded in input order, outputs and references are turned into text by the target tokenizer's own
decoder (WordPiece, byte-level BPE or SentencePiece: the same text as fairseq-generate's D- lines),
and BLEU is sacreBLEU's (``tools/score.py``), lowercased when the target tokenizer lowercases.
"""

import copy
import os
import time
from argparse import Namespace
from dataclasses import dataclass
from typing import Any, List

import torch

UNK_IN_REFERENCE = "UNKNOWNTOKENINREF"  # a reference [UNK] never matches a hypothesis word


@dataclass
class Loaded:
    """Models of one checkpoint (or an ensemble) on one split."""

    models: List[Any]
    cfg: Any
    task: Any
    subset: str
    dataset: Any


def load(checkpoints, data, subset, device="cpu", overrides=None):
    """Load ``checkpoints`` (a path, or a list decoded as an ensemble) with ``data`` as the data
    directory, and the split ``subset``; models are in eval mode on ``device``."""
    from fairseq import checkpoint_utils

    import bnb_fairseq  # noqa: F401  (registers the plugin)

    paths = [checkpoints] if isinstance(checkpoints, str) else list(checkpoints)
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"checkpoint {path} not found")
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        paths, arg_overrides={"data": data, **(overrides or {})}
    )
    models = [m.to(device).eval() for m in models]
    task.load_dataset(subset)
    return Loaded(models, cfg, task, subset, task.dataset(subset))


def generation_args(cfg=None, **options):
    """The checkpoint's generation config (``cfg.generation``) with decoding ``options`` set by their
    option names (``ctc_blank_penalty=1.0``, ``iter_decode_with_beam=3``, ``beam=4`` ...)."""
    from omegaconf import open_dict

    if cfg is None or getattr(cfg, "generation", None) is None:
        return Namespace(**options)
    args = copy.deepcopy(cfg.generation)
    with open_dict(args):
        for name, value in options.items():
            setattr(args, name, value)
    return args


def build_generator(loaded, models=None, **options):
    """``task.build_generator`` for ``models`` (default: the loaded ones) with these decoding options."""
    return loaded.task.build_generator(models or loaded.models, generation_args(loaded.cfg, **options))


def batches(task, dataset, max_tokens=None, max_sentences=None, device="cpu"):
    """The split in fairseq's length-sorted batches, every sentence once (on ``device``)."""
    from fairseq import utils

    itr = task.get_batch_iterator(
        dataset=dataset,
        max_tokens=max_tokens,
        max_sentences=max_sentences,
        max_positions=None,
        ignore_invalid_inputs=False,
        seed=1,
        num_workers=0,
    ).next_epoch_itr(shuffle=False)
    for sample in itr:
        yield utils.move_to_cuda(sample) if device.startswith("cuda") else sample


def decode(loaded, generator, max_tokens=4096, max_sentences=None, device="cpu", models=None):
    """{sample id: best hypothesis' token ids} for every sentence of the split, and the seconds taken."""
    models = models or loaded.models
    hyps = {}
    start = time.time()
    with torch.no_grad():
        for sample in batches(loaded.task, loaded.dataset, max_tokens, max_sentences, device):
            for i, hypo in zip(sample["id"].tolist(), loaded.task.inference_step(generator, models, sample)):
                hyps[i] = hypo[0]["tokens"]
    seconds = time.time() - start
    missing = sorted(set(range(len(loaded.dataset))) - set(hyps))
    if missing:
        raise RuntimeError(f"no hypothesis for {len(missing)} sentences of {loaded.subset} (ids {missing[:10]})")
    return hyps, seconds


class TextMaker:
    """Token ids of the target vocabulary -> text, by the target tokenizer's own decoder."""

    def __init__(self, task, cased=False):
        self.dictionary = task.target_dictionary
        self.decoder = task.target_text_decoder()
        self.lowercase = self.decoder.lowercase and not cased  # BLEU's casing
        d = self.dictionary
        self.ignore = {d.bos(), d.eos(), d.pad()}

    def __call__(self, tokens, unk=None):
        if not torch.is_tensor(tokens):
            tokens = torch.tensor(list(tokens), dtype=torch.long)
        pieces = self.dictionary.string(tokens.int().cpu(), extra_symbols_to_ignore=self.ignore, unk_string=unk)
        return self.decoder.decode(pieces.split())


def references(loaded, text, reference_file=None):
    """The split's references in input order: the raw file's lines, or the binarized targets as text."""
    n = len(loaded.dataset)
    if reference_file:
        with open(reference_file, encoding="utf-8") as f:
            refs = [line.rstrip("\n") for line in f]
        if len(refs) != n:
            raise ValueError(f"reference {reference_file} has {len(refs)} lines, {loaded.subset} has {n} sentences")
        return refs
    return [text(loaded.dataset.tgt[i], unk=UNK_IN_REFERENCE) for i in range(n)]


def corpus_bleu(hyps, refs, lowercase):
    """sacreBLEU corpus BLEU with its length statistics (tools/score.py's, the project's one BLEU)."""
    from bnb_fairseq.tools.score import bleu

    return bleu(hyps, refs, lowercase)


def score_split(loaded, hyps, reference_file=None, cased=False, ids=None):
    """BLEU of ``hyps`` ({id: token ids}) against the split's references, over ``ids`` (default all)."""
    from bnb_fairseq.tools.score import adjacent_repeats

    text = TextMaker(loaded.task, cased)
    refs = references(loaded, text, reference_file)
    ids = sorted(hyps) if ids is None else ids
    out_text = [text(hyps[i]) for i in ids]
    result = corpus_bleu(out_text, [refs[i] for i in ids], text.lowercase)
    result["hypotheses"] = out_text
    result["repeats"] = adjacent_repeats(out_text)
    return result
