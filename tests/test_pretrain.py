"""NAR pre-training: the corruptions on hand-made blocks, packing lines into blocks, corruption
drawn per block and epoch, the bnb_pretrain task, and through the CLIs: binarize Brown
monolingually -> pre-train -> fine-tune bnb_seq2seq from the checkpoint -> generate."""

import argparse
import os
import re
import sys

import numpy as np
import pytest
import torch
from conftest import CLS, DEMO_N_TEST, NO_DROPOUT, PAD, ROOT, SEP, run_cli, starts_early, train_cfg, write_lines

import bnb_fairseq  # noqa: F401  (registers the plugin)
from bnb_fairseq.data import CorruptedPairsDataset, CorruptionMix, PackedBlocksDataset, block_generator, parse_weights
from bnb_fairseq.data.corruption import continuation_split, copy_block, mask_block, shuffle_block

MASK = 103
BROWN = os.path.join(ROOT, "tests", "data", "brown_slice.txt")
USER_DIR = os.path.join(ROOT, "bnb_fairseq")
SPECIALS = torch.tensor([PAD, CLS, SEP, MASK])
ORDINARY = torch.arange(1000, 30000)
BLOCK_TOKENS = 64  # the tiny BERT has 128 positions: 64-token blocks get 128 CTC slots at --ctc-ratio 2


def block(n, first=2000):
    """[CLS] n distinct pieces [SEP]."""
    return torch.cat([torch.tensor([CLS]), torch.arange(first, first + n), torch.tensor([SEP])])


def gen(seed):
    return torch.Generator().manual_seed(seed)


# --- the corruptions -------------------------------------------------------------------------


def test_copy_is_the_block():
    b = block(5)
    source, target = copy_block(b)
    assert source.tolist() == b.tolist() and target.tolist() == b.tolist()
    source[1] = 0
    assert b[1] == 2000  # copies, not views of the block


def test_mlm_chooses_the_fraction_and_splits_80_10_10():
    b = block(2000)
    source, target = mask_block(b, gen(0), 0.5, MASK, ORDINARY, SPECIALS)
    assert target.tolist() == b.tolist()
    assert source[0] == CLS and source[-1] == SEP
    masked = source == MASK
    replaced = (source != b) & ~masked
    # 1,000 chosen: about 800 [MASK], 100 random pieces, 100 kept (binomial sd 13 and 9.5)
    assert abs(int(masked.sum()) - 800) < 60, int(masked.sum())
    assert abs(int(replaced.sum()) - 100) < 40, int(replaced.sum())
    assert torch.isin(source[replaced], ORDINARY).all()
    assert int((source != b).sum()) <= 1000


def test_mlm_count_is_the_fraction_rounded_at_random():
    b = block(10)
    counts = []
    for seed in range(200):
        source, _ = mask_block(
            b, gen(seed), 0.15, MASK, ORDINARY, SPECIALS, random_token_prob=0.0, leave_unmasked_prob=0.0
        )
        counts.append(int((source == MASK).sum()))
    assert set(counts) == {1, 2}  # 1.5 pieces: floor(1.5 + u)
    assert abs(np.mean(counts) - 1.5) < 0.15


def test_mlm_never_touches_specials():
    b = torch.tensor([CLS, 2000, 100, 2001, SEP, 2002, 2003, SEP])  # [UNK] (100) is a piece; a second [SEP] is not
    for seed in range(20):
        source, _ = mask_block(
            b, gen(seed), 1.0, MASK, ORDINARY, SPECIALS, random_token_prob=0.0, leave_unmasked_prob=0.0
        )
        assert source.tolist() == [CLS, MASK, MASK, MASK, SEP, MASK, MASK, SEP]


@pytest.mark.parametrize("n,expected", [(100, {50}), (101, {50, 51}), (3, {2})])
def test_plm_moves_exactly_the_chosen_positions(n, expected):
    b = block(n)
    moved = set()
    for seed in range(30):
        source, target = shuffle_block(b, gen(seed), 0.5, SPECIALS)
        assert target.tolist() == b.tolist()
        assert source[0] == CLS and source[-1] == SEP
        assert sorted(source.tolist()) == sorted(b.tolist())  # the same pieces, moved
        moved.add(int((source != b).sum()))  # a cycle: no chosen position keeps its piece
    assert moved == expected


def test_plm_leaves_a_one_piece_block_alone():
    b = block(1)
    assert shuffle_block(b, gen(0), 0.5, SPECIALS)[0].tolist() == b.tolist()


@pytest.mark.parametrize("n", [2, 10, 37, 200])
def test_clm_prefix_predicts_the_rest(n):
    b = block(n)
    for seed in range(20):
        source, target = continuation_split(b, gen(seed), 0.7, 0.8)
        assert source[0] == CLS and source[-1] == SEP and target[0] == CLS and target[-1] == SEP
        k = len(source) - 2
        assert source[1:-1].tolist() + target[1:-1].tolist() == b[1:-1].tolist()
        assert 1 <= k <= n - 1
        if n >= 10:
            assert 0.7 * n - 0.5 <= k <= 0.8 * n + 0.5, (n, k)


def test_clm_of_an_empty_or_one_piece_block():
    assert [t.tolist() for t in continuation_split(block(0), gen(0))] == [[CLS, SEP], [CLS, SEP]]
    source, target = continuation_split(block(1), gen(0))
    assert source.tolist() + target.tolist() in ([CLS, 2000, SEP, CLS, SEP], [CLS, SEP, CLS, 2000, SEP])


def corruptions(seed):
    b = block(300)
    return {
        "mlm": mask_block(b, gen(seed), 0.15, MASK, ORDINARY, SPECIALS),
        "plm": shuffle_block(b, gen(seed), 0.5, SPECIALS),
        "clm": continuation_split(b, gen(seed)),
    }


def test_corruptions_are_deterministic_under_a_seed():
    a, again, other = corruptions(7), corruptions(7), corruptions(8)
    for name in a:
        assert all(torch.equal(x, y) for x, y in zip(a[name], again[name])), name
        assert not torch.equal(a[name][0], other[name][0]), name


def test_block_generator_depends_on_seed_epoch_and_index():
    def draw(*key):
        return torch.rand(4, generator=block_generator(*key)).tolist()

    assert draw(1, 1, 5) == draw(1, 1, 5)
    assert len({tuple(draw(*k)) for k in [(1, 1, 5), (2, 1, 5), (1, 2, 5), (1, 1, 6), (1, 5, 1)]}) == 5


def test_parse_weights():
    assert parse_weights("copy:1, mlm:2,clm") == {"copy": 1.0, "mlm": 2.0, "clm": 1.0}
    assert parse_weights("copy:0,plm:1") == {"plm": 1.0}
    for bad, words in [
        ("copy:1,mask:1", "unknown corruption 'mask'"),
        ("copy:1,copy:2", "given twice"),
        ("mlm:-1", ">= 0"),
        ("mlm:x", "must be a number"),
        ("copy:0", "at least one"),
        ("", "at least one"),
    ]:
        with pytest.raises(ValueError, match=re.escape(words)):
            parse_weights(bad)


def test_mix_draws_one_corruption_per_block_by_weight():
    mix = CorruptionMix({"copy": 1.0, "clm": 3.0}, MASK, ORDINARY, SPECIALS)
    names = [mix(block(20), gen(seed))[0] for seed in range(2000)]
    assert set(names) == {"copy", "clm"}
    assert abs(names.count("clm") / len(names) - 0.75) < 0.04
    with pytest.raises(ValueError, match="--mask-prob"):
        CorruptionMix({"mlm": 1.0}, MASK, ORDINARY, SPECIALS, mask_prob=1.5)
    with pytest.raises(ValueError, match="--clm-min-ratio"):
        CorruptionMix({"clm": 1.0}, MASK, ORDINARY, SPECIALS, clm_min_ratio=0.9, clm_max_ratio=0.8)


# --- packing lines into blocks ---------------------------------------------------------------

LINES = [[CLS, *range(2000 + 10 * i, 2000 + 10 * i + n), SEP] for i, n in enumerate([3, 5, 2, 20, 4, 1])]


def packed(tokens_per_block, mode):
    lines = [torch.tensor(line) for line in LINES]
    return PackedBlocksDataset(lines, [len(t) for t in lines], tokens_per_block, CLS, SEP, PAD, mode)


@pytest.mark.parametrize("mode", ["complete", "none", "eos"])
def test_blocks_hold_every_piece_once_in_order(mode):
    blocks = packed(10, mode)
    items = [blocks[i].tolist() for i in range(len(blocks))]
    assert all(len(b) <= 10 and b[0] == CLS and b[-1] == SEP for b in items)
    assert all(CLS not in b[1:-1] and SEP not in b[1:-1] for b in items)
    assert [p for b in items for p in b[1:-1]] == [p for line in LINES for p in line[1:-1]]
    assert blocks.sizes.tolist() == [len(b) for b in items]
    if mode == "none":
        assert [len(b) for b in items] == [10, 10, 10, 10, 5]
    if mode == "eos":  # one line a block; the 20-piece line in 8-piece chunks
        assert [len(b) - 2 for b in items] == [3, 5, 2, 8, 8, 4, 4, 1]
    if mode == "complete":  # whole lines while they fit: 3+5 | 2 | the 20-piece line's chunks 8 | 8 | 4 (+4) | 1
        assert [len(b) - 2 for b in items] == [8, 2, 8, 8, 8, 1]


def test_a_line_that_is_not_cls_pieces_sep_is_named():
    lines = [torch.tensor([CLS, 2000, SEP]), torch.tensor([2001, 2002, SEP])]
    blocks = PackedBlocksDataset(lines, [3, 3], 10, CLS, SEP, PAD, "eos", source_name="data/train.en")
    with pytest.raises(ValueError, match=r"line 2 of data/train.en is not \[CLS\] pieces \[SEP\].*--only-source"):
        blocks[1]


def test_corruption_per_block_and_epoch_any_order():
    blocks = packed(10, "complete")
    mix = CorruptionMix({"mlm": 1.0, "plm": 1.0, "clm": 1.0}, MASK, ORDINARY, SPECIALS, mask_prob=0.5)
    train = CorruptedPairsDataset(blocks, blocks.sizes, mix, seed=3, pad=PAD, eos=SEP)
    forward = [train[i]["source"].tolist() for i in range(len(train))]
    backward = [train[i]["source"].tolist() for i in reversed(range(len(train)))][::-1]
    assert forward == backward
    train.set_epoch(2)
    assert [train[i]["source"].tolist() for i in range(len(train))] != forward
    assert all(train[i]["target"][0] == CLS for i in range(len(train)))
    valid = CorruptedPairsDataset(blocks, blocks.sizes, mix, seed=3, pad=PAD, eos=SEP, vary_with_epoch=False)
    valid.set_epoch(2)
    assert [valid[i]["source"].tolist() for i in range(len(valid))] == forward
    batch = train.collater([train[i] for i in range(len(train))])
    assert (batch["net_input"]["src_tokens"][:, 0] == CLS).all()  # right-padded, as BERT needs
    assert batch["ntokens"] == int(batch["target"].ne(PAD).sum())


# --- binarize --only-source --------------------------------------------------------------------


def binarize(bert, *args):
    return run_cli([sys.executable, "preprocess/binarize.py", "--bert", bert, "--quiet", *args], check=False)


def binarize_in_process(*args):
    """preprocess/binarize.py's main (what the command line runs) without starting a Python."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("binarize", os.path.join(ROOT, "preprocess", "binarize.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--quiet", *args])


def test_binarize_only_source_refuses_bad_input(tmp_path, tiny_bert_dir, capsys):
    write_lines(tmp_path / "train.en", ["One line.", "", "Another."])
    common = ["--bert", tiny_bert_dir, "--trainpref", str(tmp_path / "train"), "--destdir", str(tmp_path / "bin")]
    for args, words in [
        (["--only-source", "-s", "en"], f"{tmp_path}/train.en:2; remove them"),
        (["--only-source", "-s", "en", "-t", "de"], "--only-source reads one language"),
        (["-s", "en"], "give -t/--target-lang (or --only-source"),
    ]:
        assert binarize_in_process(*args, *common) == 1
        assert words in capsys.readouterr().err
    assert not (tmp_path / "bin").exists()


# --- through the CLIs --------------------------------------------------------------------------


@starts_early("recipe")
def run_pretrain_recipe(tmp_path_factory, tiny_bert_dir):
    """examples/pretrain.sh in fast mode on the Brown fixture: split, binarize --only-source, the initial
    valid loss, 30 updates of fairseq-train --task bnb_pretrain over a tiny random BERT."""
    work = tmp_path_factory.mktemp("pretrain")
    proc = run_cli(
        ["bash", "examples/pretrain.sh"],
        env_extra=dict(FAST="1", BERT=tiny_bert_dir, CORPUS=BROWN, WORK=str(work), OMP_NUM_THREADS="1"),
    )
    return work, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def recipe(background, request):
    return background.result(run_pretrain_recipe, request)


def pretrain_args(data, bert, *extra):
    return [
        data,
        "--user-dir",
        USER_DIR,
        "--task",
        "bnb_pretrain",
        "--tokens-per-block",
        str(BLOCK_TOKENS),
        "--arch",
        "bnb_small",
        "--bert-checkpoint",
        bert,
        "--criterion",
        "bnb_ctc",
        *extra,
    ]


@pytest.mark.slow
def test_binarized_monolingual_layout(recipe):
    from fairseq.data import data_utils
    from transformers import BertTokenizerFast

    work, _ = recipe
    names = sorted(os.listdir(work / "data-bin"))
    assert names == ["dict.en.txt", "tokenizer.en", "train.en.bin", "train.en.idx", "valid.en.bin", "valid.en.idx"]
    raw = {
        split: (work / "raw" / f"{split}.en").read_text(encoding="utf-8").splitlines() for split in ("train", "valid")
    }
    assert sorted(raw["train"] + raw["valid"]) == sorted(open(BROWN, encoding="utf-8").read().splitlines())
    lines = data_utils.load_indexed_dataset(str(work / "data-bin" / "valid.en"), None, "mmap")
    tok = BertTokenizerFast.from_pretrained(str(work / "data-bin" / "tokenizer.en"))
    assert [lines[i].tolist() for i in range(len(lines))] == tok(raw["valid"])["input_ids"]


@pytest.mark.slow
def test_task_blocks_and_epochs_through_the_batch_iterator(recipe, tiny_bert_dir):
    """Every epoch, also with a data-loader worker, sees a new corruption of the same blocks."""
    from fairseq import tasks

    cfg = train_cfg(
        pretrain_args(
            str(recipe[0] / "data-bin"),
            tiny_bert_dir,
            "--corruptions",
            "mlm:1,plm:1",
            "--seed",
            "5",
            "--max-tokens",
            "2000",
        )
    )
    task = tasks.setup_task(cfg.task)
    assert task.cfg.lang == "en"  # the one dict.*.txt
    task.load_dataset("train")
    dataset = task.dataset("train")
    lines, _ = task.load_lines("train")
    assert dataset.sizes.max() <= BLOCK_TOKENS  # every piece of every line, in blocks of [CLS] ... [SEP]
    assert (dataset.sizes - 2).sum() == lines.sizes.sum() - 2 * len(lines)

    def epoch(n, workers):
        itr = task.get_batch_iterator(
            dataset, max_tokens=2000, seed=5, epoch=n, num_workers=workers, max_positions=task.max_positions()
        )
        pairs = {}
        for batch in itr.next_epoch_itr(shuffle=True):
            for i, src, tgt in zip(batch["id"].tolist(), batch["net_input"]["src_tokens"], batch["target"]):
                pairs[i] = (src[src.ne(PAD)].tolist(), tgt[tgt.ne(PAD)].tolist())
        return pairs

    first, again, second = epoch(1, 0), epoch(1, 1), epoch(2, 1)
    assert sorted(first) == list(range(len(dataset)))  # every block once
    assert first == again  # the same in a worker process
    assert all(second[i][1] == first[i][1] for i in first)  # the same original text
    changed = sum(second[i][0] != first[i][0] for i in first)
    assert changed > 0.9 * len(first), changed


@pytest.mark.slow
def test_block_size_must_fit_the_model(recipe, tiny_bert_dir):
    from fairseq import tasks

    for extra, words in [
        (["--tokens-per-block", "200"], "exceeds the encoder's 128 positions"),
        (["--ctc-ratio", "0.9"], "use --tokens-per-block"),
    ]:
        cfg = train_cfg(pretrain_args(str(recipe[0] / "data-bin"), tiny_bert_dir, *extra))
        task = tasks.setup_task(cfg.task)
        with pytest.raises(ValueError, match=re.escape(words)):
            task.build_model(cfg.model)


@pytest.mark.slow
def test_task_refuses_bad_settings(recipe, tiny_bert_dir):
    from fairseq import tasks

    for extra, words in [
        (["--corruptions", "copy:1,dae:1"], "unknown corruption 'dae'"),
        (["--tokens-per-block", "600"], "--tokens-per-block 600"),
        (["--lang", "de"], "dict.de.txt not found"),
    ]:
        cfg = train_cfg(pretrain_args(str(recipe[0] / "data-bin"), tiny_bert_dir, *extra))
        with pytest.raises((ValueError, FileNotFoundError), match=re.escape(words)):
            tasks.setup_task(cfg.task)


@pytest.mark.slow
def test_recipe_pretrains_and_reports_the_valid_loss(recipe):
    work, log = recipe
    assert re.search(r"prepare: .*brown_slice.txt -> \d+ train and \d+ valid lines", log), log[-3000:]
    before = float(re.search(r"valid loss of the initial model: ([\d.]+)", log).group(1))
    after = float(re.search(r"valid loss after 30 updates: ([\d.]+)", log).group(1))
    assert after < before, (before, after)
    losses = [float(x) for x in re.findall(r"train_inner \|.*? loss=([\d.]+)", log)]
    assert len(losses) >= 5 and losses[-1] < losses[0], losses
    state = torch.load(work / "checkpoints" / "checkpoint_last.pt", weights_only=True)
    assert state["cfg"]["task"]["_name"] == "bnb_pretrain"
    assert state["optimizer_history"][-1]["num_updates"] == 30


@pytest.fixture(scope="module")
def finetuned(recipe, demo_data, tiny_bert_dir):
    """Fine-tuned on the shared binarized demo slice from the recipe's pre-trained checkpoint."""
    work = recipe[0]
    ckpt = work / "ft"
    proc = run_cli(
        [
            "fairseq-train",
            str(demo_data.bin),
            "--user-dir",
            USER_DIR,
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--arch",
            "bnb_small",
            "--bert-checkpoint",
            tiny_bert_dir,
            "--criterion",
            "bnb_ctc",
            "--finetune-from-model",
            str(work / "checkpoints" / "checkpoint_last.pt"),
            # a learning rate too small to move the weights: what the run starts from shows in its checkpoint
            "--optimizer",
            "adam",
            "--lr",
            "1e-9",
            "--batch-size",
            "8",
            "--max-update",
            "4",
            "--save-dir",
            str(ckpt),
            "--no-epoch-checkpoints",
            "--num-workers",
            "0",
            "--seed",
            "1",
            "--log-format",
            "simple",
            "--log-interval",
            "2",
        ]
    )
    return work, ckpt, proc.stdout + proc.stderr, demo_data.bin


@pytest.mark.slow
def test_finetuning_starts_from_the_pretrained_weights(finetuned, tiny_bert_dir):
    from safetensors.torch import load_file

    work, ckpt, log, _ = finetuned
    assert "loading pretrained model from" in log and "will be reset" in log
    pre = torch.load(work / "checkpoints" / "checkpoint_last.pt", weights_only=True)
    ft = torch.load(ckpt / "checkpoint_last.pt", weights_only=True)
    assert ft["optimizer_history"][-1]["num_updates"] == 4  # counted afresh, not from the pre-training's 30
    name = "encoder.encoder.layer.0.attention.self.query.weight"
    hf = load_file(os.path.join(tiny_bert_dir, "model.safetensors"))
    hf_name = next(k for k in hf if k.endswith("encoder.layer.0.attention.self.query.weight"))
    assert (pre["model"][name] - hf[hf_name]).abs().max() > 1e-3  # pre-training moved it
    assert (ft["model"][name] - pre["model"][name]).abs().max() < 1e-5  # fine-tuning started from it
    # the output vocabulary is the fine-tuning targets', not the pre-training text's
    assert len(ft["model"]["decoder.output_ids"]) < len(pre["model"]["decoder.output_ids"])
    assert ft["cfg"]["model"]["output_vocab_size"] == len(ft["model"]["decoder.output_ids"])


@pytest.mark.slow
def test_finetuned_model_generates_every_line(finetuned):
    _, ckpt, _, data_bin = finetuned
    out = run_cli(
        [
            "fairseq-generate",
            str(data_bin),
            "--user-dir",
            USER_DIR,
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(ckpt / "checkpoint_last.pt"),
            "--gen-subset",
            "test",
            "--batch-size",
            "5",
            "--bpe",
            "bert_wordpiece",
            "--num-workers",
            "0",
        ]
    )
    assert sorted(int(i) for i in re.findall(r"^H-(\d+)\t", out.stdout, re.M)) == list(range(DEMO_N_TEST))
    assert f"Translated {DEMO_N_TEST} sentences" in out.stderr


# --- loading another run's checkpoint into a model ----------------------------------------------


def small_model(bert_dir, dictionary=None, **overrides):
    from bnb_fairseq.bert.dictionary import BertDictionary
    from bnb_fairseq.models.bnb import BnbModel, bnb_small

    cfg = argparse.Namespace(bert_checkpoint=bert_dir, **{**NO_DROPOUT, "output_vocab": "full", **overrides})
    bnb_small(cfg)
    d = dictionary or BertDictionary.load(bert_dir)
    return BnbModel.build_model(cfg, argparse.Namespace(source_dictionary=d, target_dictionary=d)), cfg


def test_checkpoint_output_vocabulary_is_reconciled(tiny_bert_dir):
    pre, _ = small_model(tiny_bert_dir)
    pre.decoder.set_output_vocab([2000, 2001, 2002, 2003])
    ft, _ = small_model(tiny_bert_dir)
    ft.decoder.set_output_vocab([2023, 2003])  # this run's training targets
    ft.load_state_dict(pre.state_dict())
    assert 2023 in ft.decoder.output_ids.tolist() and 2000 not in ft.decoder.output_ids.tolist()
    assert torch.equal(ft.encoder.embeddings.word_embeddings.weight, pre.encoder.embeddings.word_embeddings.weight)
    full, _ = small_model(tiny_bert_dir)  # --output-vocab full: no list needed
    full.load_state_dict(pre.state_dict())
    assert full.decoder.output_ids is None


def test_checkpoint_with_another_vocabulary_is_refused(tiny_bert_dir):
    from bnb_fairseq.bert.dictionary import BertDictionary

    pre, cfg = small_model(tiny_bert_dir)
    small = BertDictionary(BertDictionary.load(tiny_bert_dir).symbols[:5000], source="data-bin/dict.en.txt")
    cfg.bert_checkpoint = None  # sizes already read: build the same model over a 5,000-piece vocabulary
    other = type(pre).build_model(cfg, argparse.Namespace(source_dictionary=small, target_dictionary=small))
    with pytest.raises(
        ValueError,
        match=r"the checkpoint's source vocabulary has 30522 pieces but this run's source "
        r"dictionary \(data-bin/dict.en.txt\) has 5000",
    ):
        other.load_state_dict(pre.state_dict())
