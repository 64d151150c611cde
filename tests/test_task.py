"""Task bnb_seq2seq: advice that parses, options refused rather than ignored, and sources longer
than the model's positions answered (truncated with a warning, or refused on request)."""

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, cli_env, run_cli, train_cfg, write_lines

import bnb_fairseq  # noqa: F401  (registers the plugin)

USER_DIR = os.path.join(ROOT, "bnb_fairseq")
LONG = " ".join(["palabra"] * 200)  # 200+ word pieces: beyond the tiny BERT's 128 positions


@pytest.fixture(scope="module")
def dict_dir(tmp_path_factory, minilm_dir):
    """A data directory with only the two dictionaries (enough for setup_task)."""
    from bnb_fairseq.bert.dictionary import BertDictionary

    d = tmp_path_factory.mktemp("dicts")
    for lang in ("es", "en"):
        BertDictionary.load(minilm_dir).save(str(d / f"dict.{lang}.txt"))
    return str(d)


def setup_task(data, *extra):
    from fairseq import tasks

    cfg = train_cfg(
        [
            data,
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
            "--criterion",
            "bnb_ctc",
            *extra,
        ]
    )
    return tasks.setup_task(cfg.task)


def test_left_pad_source_advice_parses(dict_dir):
    from fairseq import options

    with pytest.raises(ValueError) as err:
        setup_task(dict_dir, "--left-pad-source")
    msg = str(err.value)
    assert "do not pass --left-pad-source" in msg
    # the old advice, "--left-pad-source False", is not even accepted by fairseq's parser
    assert "True" not in msg and "False" not in msg
    with pytest.raises(SystemExit):
        options.parse_args_and_arch(
            options.get_training_parser(),
            [
                dict_dir,
                "--user-dir",
                USER_DIR,
                "--task",
                "bnb_seq2seq",
                "--arch",
                "bnb_small",
                "--left-pad-source",
                "False",
            ],
        )
    assert setup_task(dict_dir).cfg.left_pad_source is False  # what following the advice gives


@pytest.mark.parametrize(
    "option",
    [
        ["--num-batch-buckets", "4"],
        ["--eval-bleu-detok", "moses"],
        ["--eval-bleu-args", '{"beam": 4}'],
        ["--eval-bleu-detok-args", '{"a": 1}'],
        ["--eval-tokenized-bleu"],
        ["--eval-bleu-remove-bpe"],
        ["--left-pad-target"],
        ["--load-alignments"],
    ],
    ids=lambda o: o[0],
)
def test_ignored_options_are_refused(dict_dir, option):
    with pytest.raises(ValueError, match=re.escape(option[0])):
        setup_task(dict_dir, *option)


# --- CLIs: a model with 128 positions, data binarized for a 512-position checkpoint ---


@pytest.fixture(scope="module")
def long_source_model(tmp_path_factory, minilm_dir, tiny_ctc):
    """Data binarized with the 512-position MiniLM (its test split holds a 200+ piece source) and the
    session's tiny CTC model (conftest.tiny_ctc: 128 positions, the same vocabulary)."""
    work = tmp_path_factory.mktemp("overlong")
    raw = work / "raw"
    raw.mkdir()
    write_lines(raw / "train.es", ["uno dos", "tres cuatro", "cinco", "seis siete ocho"])
    write_lines(raw / "train.en", ["one two", "three four", "five", "six seven eight"])
    write_lines(raw / "test.es", ["uno dos", LONG, "cinco"])
    write_lines(raw / "test.en", ["one two", "many words", "five"])
    run_cli(
        [
            sys.executable,
            "preprocess/binarize.py",
            "--bert",
            minilm_dir,
            "-s",
            "es",
            "-t",
            "en",
            "--trainpref",
            f"{raw}/train",
            "--testpref",
            f"{raw}/test",
            "--destdir",
            str(work / "bin"),
            "--quiet",
        ]
    )
    return work / "bin", tiny_ctc.checkpoint


def generate(model, *extra, check=True):
    data_bin, checkpoint = model
    return run_cli(
        [
            "fairseq-generate",
            str(data_bin),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(checkpoint),
            "--gen-subset",
            "test",
            "--batch-size",
            "2",
            "--num-workers",
            "0",
            *extra,
        ],
        check=check,
    )


@pytest.mark.slow
def test_generate_truncates_overlong_source(long_source_model):
    out = generate(long_source_model)
    assert sorted(re.findall(r"^H-(\d+)\t", out.stdout, re.M)) == ["0", "1", "2"], out.stdout
    assert "Translated 3 sentences" in out.stderr
    assert re.search(r"1 source sentence\(s\) longer than the model's 128 positions truncated", out.stderr)
    src = re.search(r"^S-1\t(.*)$", out.stdout, re.M).group(1).split()
    assert len(src) == 128 - 2  # [CLS] and [SEP] are stripped from the printed source


@pytest.mark.slow
def test_generate_overlong_source_error(long_source_model):
    out = generate(long_source_model, "--overlong-source", "error", check=False)
    assert out.returncode != 0
    assert "longer than the model's 128 positions (sample ids 1)" in out.stderr
    assert "--overlong-source truncate" in out.stderr


@pytest.mark.slow
def test_score_reference_is_refused(long_source_model):
    out = generate(long_source_model, "--score-reference", check=False)
    assert out.returncode != 0 and "--score-reference is not supported" in out.stderr


@pytest.mark.slow
def test_interactive_answers_overlong_line(long_source_model):
    data_bin, checkpoint = long_source_model
    env = cli_env()
    proc = subprocess.run(
        [
            "fairseq-interactive",
            str(data_bin),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(checkpoint),
            "--bpe",
            "bert_wordpiece",
            "--buffer-size",
            "3",
            "--batch-size",
            "3",
        ],
        input=f"uno dos\n{LONG}\ncinco\n",
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.findall(r"^H-(\d+)\t", proc.stdout, re.M) == ["0", "1", "2"], proc.stdout
    assert "longer than the model's 128 positions truncated" in proc.stderr
