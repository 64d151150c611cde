"""NAR pre-training on monolingual text: blocks of BERT word pieces, corrupted on the fly, are
reconstructed by the seq2seq model (copy, mlm, plm and clm, mixed by weight)."""

import glob
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from fairseq import utils
from fairseq.data import data_utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, DictConfig, open_dict

from bnb_fairseq import checkpoint_compat
from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.data import BREAK_MODES, CorruptedPairsDataset, CorruptionMix, PackedBlocksDataset, parse_weights
from bnb_fairseq.data.corruption import continuation_cut
from bnb_fairseq.models.parallel_decoder import is_parallel
from bnb_fairseq.tasks.batching import CoverAllBatchesMixin
from bnb_fairseq.tasks.criterion_schedule import CriterionScheduleMixin
from bnb_fairseq.tasks.output_vocab import choose_output_vocab

logger = logging.getLogger(__name__)
MAX_BLOCK = 512  # BERT's position table


@dataclass
class BnbPretrainConfig(FairseqDataclass):
    data: Optional[str] = field(
        default=None,
        metadata={
            "help": "data directory written by preprocess/binarize.py --only-source (several, colon-separated, "
            "are read one per epoch)"
        },
    )
    lang: Optional[str] = field(
        default=None,
        metadata={
            "help": "language suffix of the files (train.LANG.bin, dict.LANG.txt); default: the one dict.*.txt "
            "in the data directory"
        },
    )
    tokens_per_block: int = field(
        default=256,
        metadata={
            "help": "longest block in word pieces, [CLS] and [SEP] included (at most 512 and the model's positions; "
            "a CTC decoder needs ceil(--ctc-ratio x block) slots within its positions)"
        },
    )
    sample_break_mode: ChoiceEnum(BREAK_MODES) = field(
        default="complete",
        metadata={
            "help": "complete: pack whole lines into each block; none: fill every block across line boundaries; "
            "eos: one line a block (lines longer than a block are cut into several in every mode)"
        },
    )
    corruptions: str = field(
        default="copy:1,mlm:1,plm:1,clm:1",
        metadata={
            "help": "corruptions and their weights, name:weight comma-separated; one is drawn per block: copy "
            "(source = target), mlm (mask --mask-prob of the pieces), plm (move --shuffle-prob of the "
            "positions), clm (the first --clm-min-ratio..--clm-max-ratio of the pieces predict the rest)"
        },
    )
    mask_prob: float = field(
        default=0.15, metadata={"help": "mlm: fraction of the pieces chosen (the paper: 0.15-0.3)"}
    )
    random_token_prob: float = field(
        default=0.1, metadata={"help": "mlm: of the chosen pieces, the fraction replaced by a random ordinary piece"}
    )
    leave_unmasked_prob: float = field(
        default=0.1,
        metadata={"help": "mlm: of the chosen pieces, the fraction left as they are (the rest become [MASK])"},
    )
    shuffle_prob: float = field(
        default=0.5,
        metadata={"help": "plm: fraction of the piece positions whose pieces are rotated among them (the paper: half)"},
    )
    clm_min_ratio: float = field(default=0.7, metadata={"help": "clm: shortest source, as a fraction of the block"})
    clm_max_ratio: float = field(default=0.8, metadata={"help": "clm: longest source, as a fraction of the block"})
    seed: int = II("common.seed")
    dataset_impl: Optional[str] = II("dataset.dataset_impl")
    train_subset: str = II("dataset.train_subset")


@register_task("bnb_pretrain", dataclass=BnbPretrainConfig)
class BnbPretrainTask(CriterionScheduleMixin, CoverAllBatchesMixin, FairseqTask):
    """Data: ``{split}.{lang}.bin/.idx`` and ``dict.{lang}.txt`` (a BERT vocab.txt), one
    ``[CLS] pieces [SEP]`` line each. The model sees (corrupted block, original) pairs with the
    same dictionary on both sides, so any ``bnb`` arch and criterion trains on them and a
    ``bnb_seq2seq`` fine-tuning run starts from the checkpoint (``--finetune-from-model``)."""

    cfg: BnbPretrainConfig

    def __init__(self, cfg, dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        weights = parse_weights(cfg.corruptions)
        ordinary = [i for i, s in enumerate(dictionary.symbols) if not re.fullmatch(r"\[.+\]", s)]
        specials = [dictionary.pad(), dictionary.bos(), dictionary.eos(), dictionary.mask()]
        self.corruption = CorruptionMix(
            weights,
            mask_idx=dictionary.mask(),
            replacement_ids=torch.tensor(ordinary, dtype=torch.long),
            special_ids=torch.tensor(specials, dtype=torch.long),
            mask_prob=cfg.mask_prob,
            random_token_prob=cfg.random_token_prob,
            leave_unmasked_prob=cfg.leave_unmasked_prob,
            shuffle_prob=cfg.shuffle_prob,
            clm_min_ratio=cfg.clm_min_ratio,
            clm_max_ratio=cfg.clm_max_ratio,
        )

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        if not 3 <= cfg.tokens_per_block <= MAX_BLOCK:
            raise ValueError(
                f"--tokens-per-block {cfg.tokens_per_block}: must be between 3 ([CLS] piece [SEP]) and {MAX_BLOCK}"
            )
        if not cfg.data:
            raise ValueError("bnb_pretrain: give the data directory written by preprocess/binarize.py --only-source")
        first = utils.split_paths(cfg.data)[0]
        if cfg.lang is None:
            found = sorted(
                os.path.basename(p)[len("dict.") : -len(".txt")] for p in glob.glob(os.path.join(first, "dict.*.txt"))
            )
            if len(found) != 1:
                raise FileNotFoundError(
                    f"{first}: "
                    + (
                        f"several dictionaries ({', '.join(f'dict.{x}.txt' for x in found)}): pass --lang"
                        if found
                        else "no dict.<lang>.txt: make the data directory with preprocess/binarize.py --only-source"
                    )
                )
            if isinstance(cfg, DictConfig):
                with open_dict(cfg):
                    cfg.lang = found[0]
            else:
                cfg.lang = found[0]
        path = os.path.join(first, f"dict.{cfg.lang}.txt")
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path} not found: make the data directory with preprocess/binarize.py --only-source -s {cfg.lang}"
            )
        # as bnb_seq2seq: a damaged checkpoint to resume from is named, with the intact one to use instead
        checkpoint_compat.check_launch(cfg, kwargs.get("from_checkpoint", False))
        checkpoint_compat.check_checkpoints_to_load(cfg, kwargs.get("from_checkpoint", False))
        dictionary = BertDictionary.load(path)
        logger.info(f"dictionary: {len(dictionary)} pieces ({path})")
        return cls(cfg, dictionary)

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    def max_positions(self):
        return self.cfg.tokens_per_block, self.cfg.tokens_per_block

    def load_lines(self, split, epoch=1, combine=False):
        """The binarized lines of ``split`` (``[CLS] pieces [SEP]`` each)."""
        paths = utils.split_paths(self.cfg.data)
        if split != self.cfg.train_subset:
            paths = paths[:1]
        prefix = os.path.join(paths[(epoch - 1) % len(paths)], f"{split}.{self.cfg.lang}")
        lines = data_utils.load_indexed_dataset(prefix, self.dictionary, self.cfg.dataset_impl, combine=combine)
        if lines is None:
            raise FileNotFoundError(
                f"{prefix}.bin/.idx not found: binarize the corpus with preprocess/binarize.py "
                f"--only-source -s {self.cfg.lang} (--trainpref/--validpref)"
            )
        return lines, prefix

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        lines, prefix = self.load_lines(split, epoch, combine)
        d = self.dictionary
        blocks = PackedBlocksDataset(
            lines,
            lines.sizes,
            self.cfg.tokens_per_block,
            d.bos(),
            d.eos(),
            d.pad(),
            self.cfg.sample_break_mode,
            source_name=prefix,
        )
        training = split == self.cfg.train_subset
        self.datasets[split] = CorruptedPairsDataset(
            blocks, blocks.sizes, self.corruption, self.cfg.seed, d.pad(), d.eos(), vary_with_epoch=training
        )
        logger.info(
            f"{split}: {len(lines)} lines, {int(blocks.sizes.sum())} tokens in {len(blocks)} blocks of at most "
            f"{self.cfg.tokens_per_block} ({self.cfg.sample_break_mode}); corruptions "
            f"{self.corruption.weights}" + ("" if training else ", fixed across epochs")
        )

    def target_ids_in_training_data(self):
        """Sorted ids of every piece in the training text (the targets of every corruption are original
        text), for ``--output-vocab train``."""
        lines, _ = self.load_lines(self.cfg.train_subset)
        seen = np.zeros(len(self.dictionary), dtype=bool)
        for i in range(len(lines)):
            seen[lines[i].numpy()] = True
        return np.flatnonzero(seen).tolist()

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        choose_output_vocab(model, self)
        self.check_blocks_fit(model)
        return model

    def check_blocks_fit(self, model):
        """Refuse a block size the model cannot take: positions, and for CTC the decoder slots (a copy
        target is as long as its source; CTC needs at least one slot per target token)."""
        block = self.cfg.tokens_per_block
        enc_max, dec_max = model.max_positions()
        if block > enc_max:
            raise ValueError(
                f"bnb_pretrain: --tokens-per-block {block} exceeds the encoder's {enc_max} positions; "
                f"use --tokens-per-block {enc_max} or less"
            )
        decoder = model.decoder
        if not is_parallel(model) or decoder.predicts_length:
            if block > dec_max:
                raise ValueError(
                    f"bnb_pretrain: --tokens-per-block {block} exceeds the decoder's {dec_max} "
                    f"positions; use --tokens-per-block {dec_max} or less"
                )
            return
        lengths = torch.arange(2, block + 1)
        short = decoder.output_lengths(lengths) < lengths  # copy, mlm and plm: target as long as source
        if short.any():
            bad = int(lengths[short][0])
            raise ValueError(
                f"bnb_pretrain: a block of {bad} tokens gets {int(decoder.output_lengths(lengths[short][:1]))} CTC "
                f"slots ({decoder.length_rule()}), fewer "
                f"than its {bad}-token copy target; use --tokens-per-block {bad - 1} or less, or raise --ctc-ratio"
            )
        if "clm" in self.corruption.weights:
            n = lengths - 2
            cut = torch.tensor([continuation_cut(int(k), self.cfg.clm_min_ratio) for k in n.tolist()])
            short = decoder.output_lengths(2 + cut) < 2 + n - cut
            if short.any():
                raise ValueError(
                    f"bnb_pretrain: clm's shortest source of a {int(lengths[short][0])}-token block gets fewer CTC "
                    f"slots than its target; raise --clm-min-ratio ({self.cfg.clm_min_ratio}) or --ctc-ratio"
                )
        full = decoder.output_lengths(torch.tensor([block]))
        if int(full) < 2 * block - 1:
            logger.warning(
                f"a full block of {block} tokens gets {int(full)} CTC slots: a target with many repeated "
                "adjacent pieces may need more (CTC puts a blank between repeats); such blocks are "
                "counted as 'unfit' in the logs and add no loss"
            )
