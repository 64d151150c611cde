"""Sequence-level distillation (bnb_fairseq/tools/distill.py): a tiny bert2bert teacher re-translates
the training targets; the result must be a complete data directory that bnb trains on, and a
re-run must only redo what is missing. A BnB teacher decodes in one pass at its blank penalty."""

import filecmp
import json
import os
import re
import shutil
import sys

import pytest
from conftest import CLS, DEMO_N_TRAIN, DEMO_N_VALID, SEP, run_cli, write_lines

from bnb_fairseq.tools import distill

N_TRAIN, N_VALID = DEMO_N_TRAIN, DEMO_N_VALID
SHARD = 24  # 64 sentences: shards of 24, 24 and 16
PAIR = "es-en"


class Work:
    """The shared demo slice (bin, raw), the teacher, and this module's own folder (out, distill.log)."""

    def __init__(self, data, teacher, folder):
        self.bin, self.raw, self.teacher, self.folder = data.bin, data.raw, teacher, folder
        self.out = folder / "out"


def distill_args(work, out, *extra):
    return [
        "--teacher",
        str(work.teacher),
        "--data",
        str(work.bin),
        "-s",
        "es",
        "-t",
        "en",
        "--out",
        str(out),
        "--subsets",
        "train",
        "--shard-size",
        str(SHARD),
        "--beam",
        "2",
        "--max-len-a",
        "0",
        "--max-len-b",
        "8",
        "--batch-size",
        "8",
        "--threads",
        "1",
        *extra,
    ]


def read_lines(prefix):
    from fairseq.data import data_utils

    dataset = data_utils.load_indexed_dataset(prefix, None, "mmap")
    return [dataset[i].tolist() for i in range(len(dataset))]


@pytest.fixture(scope="module")
def work(tmp_path_factory, demo_data, tiny_b2b):
    """The shared binarized demo slice, the session's tiny bert2bert as teacher, and its distillation (by the CLI)."""
    work = Work(demo_data, tiny_b2b.checkpoint, tmp_path_factory.mktemp("distill"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")  # the command line below shares a small CPU
        proc = run_cli(
            [
                sys.executable,
                "-m",
                "bnb_fairseq.tools.distill",
                *distill_args(work, work.out, "--valid-reference", f"{work.raw}/valid.en"),
            ]
        )
    (work.folder / "distill.log").write_text(proc.stdout + proc.stderr)
    return work


def report(out):
    with open(os.path.join(out, "distill.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.slow
def test_output_is_a_complete_data_dir(work):
    out, data = work.out, work.bin
    sources = read_lines(str(out / f"train.{PAIR}.es"))
    targets = read_lines(str(out / f"train.{PAIR}.en"))
    assert len(sources) == len(targets) == N_TRAIN
    assert all(t[0] == CLS and t[-1] == SEP and len(t) >= 3 for t in targets)
    assert all(SEP not in t[1:-1] and CLS not in t[1:-1] for t in targets)
    assert targets != read_lines(str(data / f"train.{PAIR}.en"))  # really the teacher's
    unchanged = [f"train.{PAIR}.es.bin", f"train.{PAIR}.es.idx", "dict.es.txt", "dict.en.txt"] + [
        f"{split}.{PAIR}.{lang}.{ext}" for split in ("valid", "test") for lang in ("es", "en") for ext in ("bin", "idx")
    ]
    for name in unchanged:
        assert filecmp.cmp(data / name, out / name, shallow=False), name
    assert sorted(os.listdir(out / "tokenizer.en")) == sorted(os.listdir(data / "tokenizer.en"))
    assert not [n for n in os.listdir(out) if n.startswith(".distill-stage")]  # staging folder gone

    r = report(out)
    train = r["subsets"]["train"]
    assert train["sentences"] == N_TRAIN and train["shards"] == 3
    assert train["shards_decoded"] == [0, 1, 2] and train["shards_done_earlier"] == []
    assert train["fallbacks"] == 0 and train["mean_hyp_pieces"] <= 8
    assert r["generation"] == {"beam": 2, "lenpen": 1.0, "max_len_a": 0.0, "max_len_b": 8}
    assert isinstance(r["valid"]["bleu"], float) and r["valid"]["sentences"] == N_VALID
    assert r["valid"]["reference"].endswith("valid.en") and r["seconds"] > 0
    log = (work.folder / "distill.log").read_text()
    assert "teacher valid BLEU" in log and "train shard 2: decoded" in log
    assert sorted(os.listdir(out / ".distill-shards")) == [f"train.{k:05d}.pt" for k in range(3)]


@pytest.mark.slow
def test_rerun_decodes_only_the_missing_shard(work, tmp_path, capsys):
    resumed = tmp_path / "out"
    shutil.copytree(work.out, resumed)
    os.remove(resumed / ".distill-shards" / "train.00001.pt")
    assert distill.main(distill_args(work, resumed, "--valid-subset", "none")) == 0
    assert "(1 decoded, 2 done earlier)" in capsys.readouterr().out
    r = report(resumed)
    assert r["subsets"]["train"]["shards_decoded"] == [1]
    assert r["subsets"]["train"]["shards_done_earlier"] == [0, 2]
    assert r["subsets"]["train"]["decoded_sentences"] == SHARD and r["valid"] is None
    for ext in ("bin", "idx"):
        assert filecmp.cmp(work.out / f"train.{PAIR}.en.{ext}", resumed / f"train.{PAIR}.en.{ext}", shallow=False)


def test_answer_line_falls_back_on_an_empty_hypothesis():
    from bnb_fairseq.bert.dictionary import BertDictionary

    d = BertDictionary(["[PAD]"] + [f"w{i}" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    assert (d.bos(), d.eos(), d.pad()) == (CLS, SEP, 0)
    reference = [CLS, 7, 8, SEP]
    assert distill.answer_line([5, 6, SEP], reference, d) == ([CLS, 5, 6, SEP], False)
    assert distill.answer_line([SEP], reference, d) == ([CLS, 7, 8, SEP], True)
    assert distill.answer_line([CLS, SEP], reference, d) == ([CLS, 7, 8, SEP], True)  # no word piece either


@pytest.mark.slow
def test_empty_hypotheses_are_counted(work, tmp_path, monkeypatch):
    """A teacher that answers sentence 3 with [SEP] alone: that line keeps its reference, counted once."""
    out = tmp_path / "out"
    shutil.copytree(work.out, out)
    os.remove(out / ".distill-shards" / "train.00000.pt")
    real_decode = distill.decode

    def decode_with_one_empty(*args, **kwargs):
        for i, hypo, ref in real_decode(*args, **kwargs):
            yield i, ([SEP] if i == 3 else hypo), ref

    monkeypatch.setattr(distill, "decode", decode_with_one_empty)
    distill.main(distill_args(work, out, "--valid-subset", "none"))
    train = report(out)["subsets"]["train"]
    assert train["fallbacks"] == 1 and train["fallback_ids"] == [3] and train["shards_decoded"] == [0]
    targets = read_lines(str(out / f"train.{PAIR}.en"))
    assert targets[3] == read_lines(str(work.bin / f"train.{PAIR}.en"))[3]
    assert targets[4:] == read_lines(str(work.out / f"train.{PAIR}.en"))[4:]


@pytest.mark.slow
def test_bad_inputs_are_one_clear_error(work, tmp_path):
    missing = run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.distill",
            "--teacher",
            str(tmp_path / "nope.pt"),
            "--data",
            str(work.bin),
            "-s",
            "es",
            "-t",
            "en",
            "--out",
            str(tmp_path / "a"),
        ],
        check=False,
    )
    assert missing.returncode == 1
    expected = f"distill: error: --teacher {tmp_path / 'nope.pt'}: no such checkpoint file"
    assert missing.stderr.strip().splitlines()[-1] == expected

    with pytest.raises(SystemExit, match=r"train9\.es-en\.es\.bin: no such file; split 'train9' is missing"):
        distill.main(distill_args(work, tmp_path / "b", "--subsets", "train9"))
    short = tmp_path / "valid.en"
    write_lines(short, ["only one line"])
    with pytest.raises(SystemExit, match=r"valid\.en has 1 lines but split 'valid' .* has 8 sentences"):
        distill.main(distill_args(work, tmp_path / "c", "--valid-reference", str(short)))
    with pytest.raises(SystemExit, match=r"a bert2bert \(beam search\) model, which ignores --ctc-blank-penalty"):
        distill.main(distill_args(work, tmp_path / "d", "--ctc-blank-penalty", "1"))
    assert not any(os.path.exists(tmp_path / d) for d in "abcd")  # nothing written


@pytest.mark.slow
def test_bnb_trains_on_the_distilled_data(work, tiny_bert_dir, tmp_path):
    """The output is what it is for: fairseq-train bnb on it; that bnb checkpoint then distills in its turn."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        proc = run_cli(
            [
                "fairseq-train",
                str(work.out),
                "--user-dir",
                "bnb_fairseq",
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
                "--output-vocab",
                "train",
                "--criterion",
                "bnb_ctc",
                "--optimizer",
                "adam",
                "--lr",
                "1e-3",
                "--batch-size",
                "8",
                "--max-update",
                "2",
                "--save-dir",
                str(tmp_path / "ckpt"),
                "--no-epoch-checkpoints",
                "--num-workers",
                "0",
                "--seed",
                "1",
                "--log-format",
                "simple",
            ]
        )
    log = proc.stdout + proc.stderr
    assert "done training" in log
    assert re.search(r"\| train \| epoch 001 \|.* \| unfit 0 \|", log), log[-2000:]  # every target fits its CTC length
    bnb_ckpt = tmp_path / "ckpt" / "checkpoint_last.pt"

    def distill_from_bnb(out, *extra):
        args = ["--teacher", str(bnb_ckpt), "--data", str(work.bin), "-s", "es", "-t", "en", "--out", str(out)]
        return distill.main(args + ["--valid-subset", "none", "--batch-size", "16", "--threads", "1", *extra])

    # a BnB teacher decodes in one pass; the blank penalty decides how much of each frame's output it keeps
    for penalty in ("0", "10"):
        assert distill_from_bnb(tmp_path / f"p{penalty}", "--ctc-blank-penalty", penalty) == 0
        generation = report(tmp_path / f"p{penalty}")["generation"]["one_pass"]
        assert generation["blank_penalty"] == float(penalty) and generation["ctc_beam"] == 1
    long_targets = read_lines(str(tmp_path / "p10" / f"train.{PAIR}.en"))
    assert len(long_targets) == N_TRAIN and all(t[0] == CLS and t[-1] == SEP for t in long_targets)
    assert report(tmp_path / "p10")["subsets"]["train"]["fallbacks"] == 0  # no frame left blank at penalty 10
    assert long_targets != read_lines(str(tmp_path / "p0" / f"train.{PAIR}.en"))
    assert long_targets != read_lines(str(work.bin / f"train.{PAIR}.en"))
    with pytest.raises(SystemExit, match=r"one-pass \(BnbModel\) model, which ignores --beam: drop it") as e:
        distill_from_bnb(tmp_path / "refused", "--beam", "2")
    assert str(bnb_ckpt) in str(e.value) and "\n" not in str(e.value)
    assert not os.path.exists(tmp_path / "refused")
