"""Sequence-to-sequence with BERT vocabularies on both sides, for NAR models."""

import logging
import os
from argparse import Namespace
from dataclasses import dataclass, field

import numpy as np
import torch
from fairseq import metrics, utils
from fairseq.data import BaseWrapperDataset, LanguagePairDataset
from fairseq.dataclass import ChoiceEnum
from fairseq.sequence_generator import SequenceGenerator
from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask, load_langpair_dataset
from omegaconf import open_dict

from bnb_fairseq import checkpoint_compat
from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.bert.tokenizer import TextDecoder
from bnb_fairseq.data.resized import ResizedRowsMixin
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.generation.decoding import (
    DECODING_OPTION_NAMES,
    DecodingOptions,
    ParallelDecodingConfig,
    StoredDecodingDefaults,
    option_value,
)
from bnb_fairseq.generation.heap import HeapTrimmer
from bnb_fairseq.generation.precision import apply_inference_precision
from bnb_fairseq.models.janus import autoregressive_view
from bnb_fairseq.models.parallel_decoder import is_autoregressive
from bnb_fairseq.tasks.batching import CoverAllBatchesMixin
from bnb_fairseq.tasks.criterion_schedule import CriterionScheduleMixin
from bnb_fairseq.tasks.output_vocab import choose_output_vocab
from bnb_fairseq.tasks.pair_dataset import TwoVocabularyPairDataset, same_special_ids

logger = logging.getLogger(__name__)
BLEU_ORDER = 4


@dataclass
class BnbSeq2SeqConfig(TranslationConfig, ParallelDecodingConfig):
    """Translation's options and the parallel generator's decoding options (generation/decoding.py)."""

    left_pad_source: bool = field(
        default=False, metadata={"help": "must stay False: BERT's absolute positions need right-padded sources"}
    )
    eval_bleu_cased: bool = field(
        default=False,
        metadata={
            "help": "case-sensitive BLEU in --eval-bleu whatever "
            "the target tokenizer; by default BLEU is lowercased when the "
            "target checkpoint's tokenizer lowercases (uncased), "
            "case-sensitive otherwise"
        },
    )
    overlong_source: ChoiceEnum(["truncate", "error"]) = field(
        default="truncate",
        metadata={
            "help": "sources longer than the model's positions (or --max-source-positions): truncate them "
            "keeping [SEP], with a warning, or refuse them with an error; never skipped"
        },
    )


# TranslationConfig options this task does not implement: refused rather than silently ignored.
UNSUPPORTED = {
    "num_batch_buckets": (0, "--num-batch-buckets (bucketed padding) is not supported"),
    "load_alignments": (False, "--load-alignments is not supported (the model uses no alignments)"),
    "left_pad_target": (False, "targets are always right-padded: do not pass --left-pad-target"),
    "eval_bleu_args": (
        "{}",
        "--eval-bleu-args is not used: validation decodes with the parallel generator (bnb) or greedy "
        "search up to 1.2 x source + 10 tokens (bert2bert)",
    ),
    "eval_bleu_detok": ("space", "--eval-bleu-detok is not used: --eval-bleu joins BERT word pieces itself"),
    "eval_bleu_detok_args": ("{}", "--eval-bleu-detok-args is not used: --eval-bleu joins BERT word pieces itself"),
    "eval_tokenized_bleu": (
        False,
        "--eval-tokenized-bleu is not supported: --eval-bleu is sacrebleu (13a) on detokenized text",
    ),
    "eval_bleu_remove_bpe": (None, "--eval-bleu-remove-bpe is not used: --eval-bleu joins BERT word pieces itself"),
}


class TruncatedSourceDataset(ResizedRowsMixin, BaseWrapperDataset):
    """Token rows cut to ``limit``, keeping their last token ([SEP]), so BERT sees a proper sentence."""

    def __init__(self, dataset, sizes, limit):
        super().__init__(dataset)
        self.limit = limit
        self._sizes = np.minimum(np.asarray(sizes), limit)

    def __getitem__(self, index):
        item = self.dataset[index]
        if len(item) > self.limit:
            item = torch.cat([item[: self.limit - 1], item[-1:]])
        return item


@register_task("bnb_seq2seq", dataclass=BnbSeq2SeqConfig)
class BnbSeq2SeqTask(CriterionScheduleMixin, CoverAllBatchesMixin, TranslationTask):
    """Data from preprocess/binarize.py: ``[CLS] pieces [SEP]`` on both sides, BERT ids."""

    cfg: BnbSeq2SeqConfig
    decoding_option_names = DECODING_OPTION_NAMES  # the Python API passes these on as decoding requests

    @classmethod
    def add_args(cls, parser):
        super().add_args(parser)
        # fairseq-generate/-interactive declare --iter-decode-max-iter first, with fairseq's default of 10
        parser.set_defaults(iter_decode_max_iter=0)

    @classmethod
    def load_dictionary(cls, filename):
        return BertDictionary.load(filename)

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        if cfg.left_pad_source:
            raise ValueError(
                "bnb_seq2seq: left-padded sources shift BERT's absolute positions; sources are "
                "always right-padded: do not pass --left-pad-source"
            )
        refused = [why for name, (default, why) in UNSUPPORTED.items() if getattr(cfg, name, default) != default]
        if refused:
            raise ValueError("bnb_seq2seq: " + "; ".join(refused) + ". Drop the option(s).")
        paths = utils.split_paths(cfg.data)
        for lang in (cfg.source_lang, cfg.target_lang):
            if lang is not None and not os.path.isfile(os.path.join(paths[0], f"dict.{lang}.txt")):
                raise FileNotFoundError(
                    f"{paths[0]}/dict.{lang}.txt not found: make the data directory with preprocess/binarize.py"
                )
        # before fairseq reads any checkpoint: a damaged one is named, with the intact one to use instead
        checkpoint_compat.check_launch(cfg, kwargs.get("from_checkpoint", False))
        checkpoint_compat.check_checkpoints_to_load(cfg, kwargs.get("from_checkpoint", False))
        if cfg.source_lang is None or cfg.target_lang is None:
            task = super().setup_task(cfg, **kwargs)  # fairseq infers the pair from the file names
            task.config_from_checkpoint = bool(kwargs.get("from_checkpoint", False))
            return task
        # not fairseq's setup: it asserts that both dictionaries share pad/eos/unk ids, which an encoder and a
        # decoder from different checkpoint families (BERT's [PAD] 0, RoBERTa's <pad> 1) do not
        src_dict, tgt_dict = (
            cls.load_dictionary(os.path.join(paths[0], f"dict.{lang}.txt"))
            for lang in (cfg.source_lang, cfg.target_lang)
        )
        for lang, d in ((cfg.source_lang, src_dict), (cfg.target_lang, tgt_dict)):
            logger.info(f"[{lang}] dictionary: {len(d)} types")
        task = cls(cfg, src_dict, tgt_dict)
        # a checkpoint's task config holds training-time values, not a request for this decoding
        task.config_from_checkpoint = bool(kwargs.get("from_checkpoint", False))
        return task

    def state_dict(self):
        """The task state saved in checkpoints, with fingerprints of both dictionaries."""
        return dict(
            super().state_dict(), **{checkpoint_compat.VOCABULARY_KEY: checkpoint_compat.vocabulary_fingerprints(self)}
        )

    def load_state_dict(self, state_dict):
        """Called with a checkpoint's task state before its model is built (fairseq-generate, the hub):
        a data directory with other dictionaries is one clear error, not a tensor size mismatch."""
        state_dict = dict(state_dict)
        self.remember_decoding_defaults(
            StoredDecodingDefaults.from_state(state_dict.pop(StoredDecodingDefaults.KEY, None))
        )
        saved = state_dict.pop(checkpoint_compat.VOCABULARY_KEY, None)
        if saved is not None:
            root = checkpoint_compat.root_config(self.cfg)
            paths = checkpoint_compat.eval_paths(root) if root is not None else None
            problem = checkpoint_compat.vocabulary_mismatch(saved, self, paths)
            if problem:
                raise ValueError("bnb_seq2seq: " + problem)
        super().load_state_dict(state_dict)

    def remember_decoding_defaults(self, stored):
        """The first checkpoint's stored decoding defaults serve the whole ensemble (a reranker stores none)."""
        if stored is None:
            return
        mine = getattr(self, "stored_decoding_defaults", None)
        if mine is None:
            self.stored_decoding_defaults = stored
        elif mine.values != stored.values:
            logger.warning(f"ensemble members store different decoding defaults; using the first's, {mine.values}")

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        paths = utils.split_paths(self.cfg.data)
        if split != self.cfg.train_subset:
            paths = paths[:1]
        # e.g. a BERT encoder with a RoBERTa decoder: fairseq's pair dataset asserts equal special ids, so it is
        # built with the source dictionary on both sides (binarized data is read without it) and then given the
        # target's, which pads the targets
        two_vocabularies = not same_special_ids(self.src_dict, self.tgt_dict)
        self.datasets[split] = load_langpair_dataset(
            paths[(epoch - 1) % len(paths)],
            split,
            self.cfg.source_lang,
            self.src_dict,
            self.cfg.target_lang,
            self.src_dict if two_vocabularies else self.tgt_dict,
            combine=combine,
            dataset_impl=self.cfg.dataset_impl,
            upsample_primary=self.cfg.upsample_primary,
            left_pad_source=False,
            left_pad_target=False,
            max_source_positions=self.cfg.max_source_positions,
            max_target_positions=self.cfg.max_target_positions,
            truncate_source=self.cfg.truncate_source,
            shuffle=(split != "test"),
            pad_to_multiple=self.cfg.required_seq_len_multiple,
        )
        if two_vocabularies:
            self.datasets[split] = TwoVocabularyPairDataset.of(self.datasets[split], self.tgt_dict)

    def target_ids_in_training_data(self):
        """Sorted ids of every piece in the binarized training targets (for --output-vocab train)."""
        import numpy as np
        from fairseq.data import data_utils

        src, tgt = self.cfg.source_lang, self.cfg.target_lang
        base = utils.split_paths(self.cfg.data)[0]
        for pair in (f"{src}-{tgt}", f"{tgt}-{src}"):
            prefix = os.path.join(base, f"{self.cfg.train_subset}.{pair}.{tgt}")
            dataset = data_utils.load_indexed_dataset(prefix, self.tgt_dict, self.cfg.dataset_impl)
            if dataset is not None:
                break
        else:
            raise FileNotFoundError(
                f"--output-vocab train: no binarized training targets "
                f"{base}/{self.cfg.train_subset}.{src}-{tgt}.{tgt}.bin"
            )
        seen = np.zeros(len(self.tgt_dict), dtype=bool)
        for i in range(len(dataset)):
            seen[dataset[i].numpy()] = True
        return np.flatnonzero(seen).tolist()

    def build_dataset_for_inference(self, src_tokens, src_lengths, constraints=None):
        """Raw-text lines (fairseq-interactive) arrive as ``pieces [SEP]``: add BERT's [CLS]."""
        bos = self.src_dict.bos()
        src_tokens = [t if len(t) and t[0] == bos else torch.cat([t.new_tensor([bos]), t]) for t in src_tokens]
        self.warn_unknown_pieces(src_tokens)
        return TwoVocabularyPairDataset(
            src_tokens,
            [len(t) for t in src_tokens],
            self.source_dictionary,
            tgt_dict=self.target_dictionary,
            left_pad_source=False,
            constraints=constraints,
        )

    def warn_unknown_pieces(self, src_tokens):
        """Words the source tokenizer cannot spell become [UNK]: still translated, but their meaning is lost."""
        unk = self.src_dict.unk()
        rows = [t for t in src_tokens if t.eq(unk).any()]
        if rows:
            shown = "; ".join(repr(self.src_dict.string(t)[:80]) for t in rows[:3]) + (" ..." if len(rows) > 3 else "")
            logger.warning(
                f"{len(rows)} of {len(src_tokens)} input line(s) hold words unknown to the source "
                f"vocabulary (characters outside the BERT checkpoint's vocab.txt), read as "
                f"{self.src_dict.unk_word}: {shown}"
            )

    def build_bpe(self, args):
        """``--bpe bert_wordpiece`` defaults to the source tokenizer saved beside the data."""
        name = getattr(args, "_name", None) or getattr(args, "bpe", None)
        if name == "bert_wordpiece" and getattr(args, "bert_tokenizer", None) is None:
            with open_dict(args):
                args.bert_tokenizer = os.path.join(
                    utils.split_paths(self.cfg.data)[0], f"tokenizer.{self.cfg.source_lang}"
                )
        if name == "bert_wordpiece" and getattr(args, "bert_target_tokenizer", None) is None:
            target = os.path.join(utils.split_paths(self.cfg.data)[0], f"tokenizer.{self.cfg.target_lang}")
            if os.path.isdir(target):  # outputs are decoded by the target checkpoint's own tokenizer
                with open_dict(args):
                    args.bert_target_tokenizer = target
        return super().build_bpe(args)

    def build_generator(self, models, args, seq_gen_cls=None, extra_gen_cls_kwargs=None, prefix_allowed_tokens_fn=None):
        """fairseq's SequenceGenerator for autoregressive models (bert2bert), the parallel generator for BnB,
        and for BnB model(s) followed by an autoregressive one with --iter-decode-with-external-reranker,
        the parallel generator with that model as reranker."""
        if getattr(args, "score_reference", False):
            raise ValueError(
                "bnb_seq2seq: --score-reference is not supported: a CTC model gives no per-token "
                "score of a given reference (its loss is in fairseq-validate)"
            )

        reranking = option_value(self.cfg, args, "iter_decode_with_external_reranker")[0]
        if args is not None:  # not the training-time --eval-bleu generator, whose model keeps training
            precision = str(option_value(self.cfg, args, "inference_precision")[0])
            group_size = int(option_value(self.cfg, args, "inference_group_size")[0])
            if precision.startswith("onnx") and reranking and not any(is_autoregressive(m) for m in models):
                raise ValueError(
                    f"--inference-precision {precision} exports the one pass only, and self-reranking needs the "
                    "model's autoregressive view in PyTorch: use fp32, bf16, int8 or int4, or rerank with a "
                    "separate bert2bert (--path bnb.pt:ar.pt)"
                )
            for model in models:
                if precision.startswith("onnx") and is_autoregressive(model):
                    if all(is_autoregressive(m) for m in models):
                        raise ValueError(
                            f"--inference-precision {precision}: the ONNX export covers one-pass (BnB) models; "
                            "decode an autoregressive model with bf16, int8 or int4"
                        )
                    logger.info(f"--inference-precision {precision}: the autoregressive reranker stays in PyTorch")
                    continue
                apply_inference_precision(model, precision, group_size)
        if str(option_value(self.cfg, args, "decode_mode")[0]) == "ar":
            models = self.autoregressive_views(models, args, reranking)
        if all(is_autoregressive(m) for m in models) and not reranking:
            if args is None:  # --eval-bleu during training: greedy, up to 1.2 x source + 10 tokens
                args = Namespace(beam=1, max_len_a=1.2, max_len_b=10)
            return super().build_generator(models, args, seq_gen_cls, extra_gen_cls_kwargs, prefix_allowed_tokens_fn)
        # hub calls (model.translate(..., ctc_beam=4)) pass decoding options in the generation config
        stored = getattr(self, "stored_decoding_defaults", None)
        task_cfg = self.cfg
        if stored is not None and getattr(self, "config_from_checkpoint", False):
            # the training-time values of the checkpoint's task config give way to the tuned ones
            task_cfg = Namespace(
                **{n: getattr(self.cfg, n, None) for n in DECODING_OPTION_NAMES if n not in stored.values}
            )
        options = DecodingOptions.resolve(task_cfg, args, stored)
        return ParallelGenerator(self.target_dictionary, options, models=models)  # options checked here, once

    def autoregressive_views(self, models, args, reranking):
        """--decode-mode ar: the models' autoregressive views (--janus BnB models; bert2bert models as they are)."""
        if reranking:
            raise ValueError(
                "--decode-mode ar decodes by beam search, --iter-decode-with-external-reranker reranks one-pass "
                "candidates: pass one (self-reranking: --decode-mode nar with --iter-decode-with-external-reranker)"
            )
        precision = str(option_value(self.cfg, args, "inference_precision")[0]) if args is not None else "fp32"
        if precision.startswith("onnx"):
            raise ValueError(
                f"--inference-precision {precision} exports the one pass; decode the autoregressive view "
                "(--decode-mode ar) with fp32, bf16, int8 or int4"
            )
        return [m if is_autoregressive(m) else autoregressive_view(m) for m in models]

    def inference_step(self, generator, models, sample, prefix_tokens=None, constraints=None):
        """Autoregressive models start from [CLS] (they read ``[CLS] y``, see models/bert2bert.py). Every few
        batches the heap's free pages go back to the system, so long runs keep a flat peak (generation/heap.py)."""
        if not hasattr(self, "heap_trimmer"):
            self.heap_trimmer = HeapTrimmer()
        if not isinstance(generator, SequenceGenerator):
            hypos = super().inference_step(generator, models, sample, prefix_tokens, constraints)
        else:
            if prefix_tokens is not None and "target" in sample:  # --prefix-size: the words after [CLS]
                prefix_tokens = sample["target"][:, 1 : 1 + prefix_tokens.size(1)]
            with torch.no_grad():
                hypos = generator.generate(
                    models, sample, prefix_tokens=prefix_tokens, constraints=constraints, bos_token=self.tgt_dict.bos()
                )
        self.heap_trimmer.after_batch()
        return hypos

    def filter_indices_by_size(self, indices, dataset, max_positions=None, ignore_invalid_inputs=False):
        """Sources longer than the model's positions are truncated (or refused), never dropped.

        fairseq would abort fairseq-generate/-interactive on such a line, or skip it with
        --skip-invalid-size-inputs-valid-test. Targets only limit training: outside the training
        subset they are not filtered (a reference is only compared, and a target that cannot fit its
        decoder length is counted as 'unfit' by the criterion).
        """
        if not isinstance(dataset, LanguagePairDataset) or max_positions is None:
            return super().filter_indices_by_size(indices, dataset, max_positions, ignore_invalid_inputs)
        src_max = max_positions if isinstance(max_positions, (int, float)) else max_positions[0]
        if src_max is not None:
            self.fit_sources(dataset, indices, int(src_max))
        if dataset is self.datasets.get(self.cfg.train_subset):
            return super().filter_indices_by_size(indices, dataset, max_positions, ignore_invalid_inputs)
        return indices

    def fit_sources(self, dataset, indices, limit):
        """Apply --overlong-source to the sources of ``dataset`` longer than ``limit`` (in place)."""
        indices = np.asarray(indices)
        long = indices[dataset.src_sizes[indices] > limit]
        if not len(long):
            return
        ids = ", ".join(str(i) for i in sorted(long.tolist())[:10]) + (" ..." if len(long) > 10 else "")
        if self.cfg.overlong_source == "error":
            raise ValueError(
                f"bnb_seq2seq: {len(long)} source sentence(s) longer than the model's {limit} positions "
                f"(sample ids {ids}); shorten them, or pass --overlong-source truncate"
            )
        logger.warning(
            f"{len(long)} source sentence(s) longer than the model's {limit} positions truncated "
            f"to {limit} tokens, keeping [SEP] (sample ids {ids}); --overlong-source error refuses them"
        )
        dataset.src = TruncatedSourceDataset(dataset.src, dataset.src_sizes, limit)
        dataset.src_sizes = dataset.src.sizes
        dataset.sizes = (
            np.vstack((dataset.src_sizes, dataset.tgt_sizes)).T if dataset.tgt_sizes is not None else dataset.src_sizes
        )

    def build_model(self, cfg, from_checkpoint=False):
        model = super(TranslationTask, self).build_model(cfg, from_checkpoint)
        choose_output_vocab(model, self)
        if self.cfg.eval_bleu:
            self.sequence_generator = self.build_generator([model], None)
            self.detokenizer = self.target_text_decoder()
        return model

    def target_text_decoder(self):
        """The decoder of the target tokenizer saved beside the data (DATA/tokenizer.<tgt>); its casing decides
        whether --eval-bleu lowercases. Data directories without one get the WordPiece decoder, uncased."""
        path = os.path.join(utils.split_paths(self.cfg.data)[0], f"tokenizer.{self.cfg.target_lang}")
        if os.path.isdir(path):
            return TextDecoder.from_directory(path)
        logger.warning(f"{path} not found: --eval-bleu joins WordPiece pieces and scores lowercased BLEU")
        return TextDecoder.wordpiece(lowercase=True)

    # --- validation BLEU, logged as plain numbers (checkpoints then load with weights_only) ---
    def detokenize(self, tokens, escape_unk=False):
        s = self.tgt_dict.string(tokens.int().cpu(), unk_string="UNKNOWNTOKENINREF" if escape_unk else None)
        return self.detokenizer.decode(s.split())

    def valid_step(self, sample, model, criterion):
        loss, sample_size, logging_output = super(TranslationTask, self).valid_step(sample, model, criterion)
        if self.cfg.eval_bleu:
            import sacrebleu

            hypos = self.inference_step(self.sequence_generator, [model], sample)
            hyps = [self.detokenize(h[0]["tokens"]) for h in hypos]
            refs = [self.detokenize(utils.strip_pad(t, self.tgt_dict.pad()), escape_unk=True) for t in sample["target"]]
            if self.cfg.eval_bleu_print_samples:
                logger.info("example hypothesis: " + hyps[0])
                logger.info("example reference: " + refs[0])
            bleu = sacrebleu.corpus_bleu(
                hyps, [refs], lowercase=self.detokenizer.lowercase and not self.cfg.eval_bleu_cased
            )
            logging_output["_bleu_sys_len"] = int(bleu.sys_len)
            logging_output["_bleu_ref_len"] = int(bleu.ref_len)
            for i in range(BLEU_ORDER):
                logging_output[f"_bleu_counts_{i}"] = int(bleu.counts[i])
                logging_output[f"_bleu_totals_{i}"] = int(bleu.totals[i])
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion):
        super(TranslationTask, self).reduce_metrics(logging_outputs, criterion)
        if not self.cfg.eval_bleu:
            return
        keys = ["_bleu_sys_len", "_bleu_ref_len"] + [
            f"_bleu_{k}_{i}" for k in ("counts", "totals") for i in range(BLEU_ORDER)
        ]
        sums = {key: int(sum(int(log.get(key, 0)) for log in logging_outputs)) for key in keys}
        if sums["_bleu_totals_0"] == 0:  # training steps carry no BLEU statistics
            return
        for key, value in sums.items():
            metrics.log_scalar_sum(key, value)

        def compute_bleu(meters):
            from sacrebleu.metrics import BLEU

            bleu = BLEU.compute_bleu(
                correct=[int(meters[f"_bleu_counts_{i}"].sum) for i in range(BLEU_ORDER)],
                total=[int(meters[f"_bleu_totals_{i}"].sum) for i in range(BLEU_ORDER)],
                sys_len=int(meters["_bleu_sys_len"].sum),
                ref_len=int(meters["_bleu_ref_len"].sum),
                smooth_method="exp",
            )
            return round(bleu.score, 2)

        metrics.log_derived("bleu", compute_bleu)
