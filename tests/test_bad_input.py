"""Bad input gets one clear message, and every input line an answer: an empty test file, words
unknown to the vocabulary, a checkpoint given a data directory of another vocabulary, and
fairseq-interactive fed empty, whitespace-only and very long lines.

(Sources longer than the model's positions at generation are covered in tests/test_task.py:
truncated with a warning, or refused with --overlong-source error.) Also here, as it reuses the
trained model: tools/peak_rss.py, generation memory that does not grow with the test set.
"""

import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import NamedTuple

import pytest
from conftest import ROOT, run_cli, write_lines

LONG = " ".join(["palabra"] * 300)  # 300+ word pieces, beyond the tiny BERT's 128 positions
SNOWMAN = "el ☃ y ᚠᚢᚦ"  # neither character is in the MiniLM vocabulary


class Model(NamedTuple):
    bin: pathlib.Path  # this module's data, binarized with the MiniLM vocabulary
    checkpoint: pathlib.Path
    binarize_log: str
    trained_on: pathlib.Path  # the data directory the checkpoint was trained on


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_bert_dir, tiny_ctc, demo_data):
    """The session's tiny CTC model (one update, conftest.tiny_ctc; same vocabulary) and this module's
    data binarized with the MiniLM vocabulary."""
    work = tmp_path_factory.mktemp("bad_input")
    raw = work / "raw"
    raw.mkdir()
    write_lines(raw / "train.es", ["uno dos", "tres cuatro", "cinco", "seis siete ocho"])
    write_lines(raw / "train.en", ["one two", "three four", "five", "six seven eight"])
    write_lines(raw / "test.es", ["uno dos", SNOWMAN, "cinco"])
    write_lines(raw / "test.en", ["one two", "the snowman", "five"])
    binarize = run_cli(
        [
            sys.executable,
            "preprocess/binarize.py",
            "--bert",
            tiny_bert_dir,
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
            "--max-len",
            "128",
            "--quiet",
        ]
    )
    return Model(work / "bin", tiny_ctc.checkpoint, binarize.stderr, demo_data.bin)


def test_empty_test_file(tmp_path, tiny_bert_dir, capsys):
    spec = importlib.util.spec_from_file_location("binarize_script", os.path.join(ROOT, "preprocess", "binarize.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    write_lines(tmp_path / "train.es", ["uno"])
    write_lines(tmp_path / "train.en", ["one"])
    (tmp_path / "test.es").write_text("")
    (tmp_path / "test.en").write_text("")
    status = script.main(
        [
            "--bert",
            tiny_bert_dir,
            "-s",
            "es",
            "-t",
            "en",
            "--trainpref",
            str(tmp_path / "train"),
            "--testpref",
            str(tmp_path / "test"),
            "--destdir",
            str(tmp_path / "bin"),
            "--max-len",
            "128",
            "--quiet",
        ]
    )
    assert status == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert errors == [
        f"binarize.py: error: {tmp_path / 'test.es'}: the file is empty; give one sentence a line "
        "(or leave this split out)"
    ]
    assert not (tmp_path / "bin").exists()  # nothing half-written


@pytest.mark.slow
def test_unknown_characters_reported(model):
    """binarize.py reports the [UNK] share per split; the words become [UNK] and are still translated."""
    binarize_log = model.binarize_log
    rate = re.search(r"\| test\.es: 3 sentences, \d+ tokens, ([\d.]+)% \[UNK\]", binarize_log)
    assert rate and float(rate.group(1)) > 0, binarize_log
    assert re.search(r"\| train\.es: 4 sentences, \d+ tokens, 0\.00% \[UNK\]", binarize_log)
    out = run_cli(
        [
            "fairseq-generate",
            str(model.bin),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(model.checkpoint),
            "--gen-subset",
            "test",
            "--batch-size",
            "2",
            "--num-workers",
            "0",
        ]
    )
    assert re.search(r"^S-1\tel \[UNK\] y \[UNK\]$", out.stdout, re.M), out.stdout
    assert sorted(re.findall(r"^H-(\d+)\t", out.stdout, re.M)) == ["0", "1", "2"]


def other_vocabulary(src, dest, change):
    """A copy of data directory ``src`` whose English dictionary is another vocabulary."""
    shutil.copytree(src, dest)
    path = os.path.join(dest, "dict.en.txt")
    with open(path, encoding="utf-8") as f:
        tokens = f.read().split("\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(change(tokens)))
    return dest


@pytest.mark.slow
def test_checkpoint_from_other_vocabulary(model, tmp_path):
    """Same size, two entries swapped: the model would load and translate wrongly without a word."""
    swap = lambda t: t[:2000] + [t[2001], t[2000]] + t[2002:]  # noqa: E731
    data = other_vocabulary(model.bin, tmp_path / "bin", swap)
    ckpt = str(model.checkpoint)
    out = run_cli(
        [
            "fairseq-generate",
            str(data),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            ckpt,
            "--gen-subset",
            "test",
            "--batch-size",
            "2",
            "--num-workers",
            "0",
        ],
        check=False,
    )
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if "Error:" in line]
    assert errors == [
        f"ValueError: bnb_seq2seq: the checkpoint {ckpt} was trained with other dictionaries than this data "
        f"directory's: {data}/dict.en.txt (target) has the same size, 30522, but different entries. Give the data "
        f"directory it was trained on ({model.trained_on}) or one binarized with the same BERT checkpoint "
        "(preprocess/binarize.py --bert DIR)"
    ], out.stderr[-3000:]


@pytest.mark.slow
def test_checkpoint_from_other_vocabulary_size_python_api(model, tmp_path):
    """Another size: without the check, a tensor size mismatch deep in load_state_dict."""
    from bnb_fairseq.models.bnb import BnbModel

    data = other_vocabulary(model.bin, tmp_path / "bin", lambda t: t[:29000])
    with pytest.raises(ValueError) as err:
        BnbModel.from_pretrained(
            str(model.checkpoint.parent), checkpoint_file=model.checkpoint.name, data_name_or_path=str(data)
        )
    assert str(err.value).startswith(
        "bnb_seq2seq: the checkpoint was trained with other dictionaries than this "
        f"data directory's: {data}/dict.en.txt (target) has 29000 entries against "
        "its 30522"
    )


@pytest.fixture(scope="module")
def interactive(model):
    lines = ["uno dos", "", "   ", "\t", LONG, SNOWMAN, "cinco"]
    env = dict(os.environ, PYTHONPATH=ROOT, TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            "fairseq-interactive",
            str(model.bin),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(model.checkpoint),
            "--bpe",
            "bert_wordpiece",
            "--buffer-size",
            "3",
            "--batch-size",
            "2",
        ],
        input="\n".join(lines) + "\n",
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return lines, proc


@pytest.mark.slow
def test_interactive_answers_every_line_in_order(interactive):
    lines, proc = interactive
    assert re.findall(r"^H-(\d+)\t", proc.stdout, re.M) == [str(i) for i in range(len(lines))], proc.stdout
    assert re.findall(r"^D-(\d+)\t", proc.stdout, re.M) == [str(i) for i in range(len(lines))]
    sources = dict(re.findall(r"^S-(\d+)\t(.*)$", proc.stdout, re.M))
    assert [sources[str(i)] for i in (1, 2, 3)] == ["", "", ""]  # empty and whitespace-only: empty source
    assert sources["0"] == "uno dos" and sources["6"].replace(" ##", "") == "cinco"


@pytest.mark.slow
def test_interactive_long_line_truncated_with_warning(interactive):
    _, proc = interactive
    assert "1 source sentence(s) longer than the model's 128 positions truncated" in proc.stderr
    src = re.search(r"^S-4\t(.*)$", proc.stdout, re.M).group(1).split()
    assert len(src) == 128 - 2  # [CLS] and [SEP] are not printed


@pytest.mark.slow
def test_interactive_unknown_words_warned(interactive):
    _, proc = interactive
    warnings = [line for line in proc.stderr.splitlines() if "unknown to the source vocabulary" in line]
    assert len(warnings) == 1, proc.stderr[-3000:]
    assert "1 of 3 input line(s)" in warnings[0] and "'el [UNK] y [UNK]'" in warnings[0]
    assert re.search(r"^S-5\tel \[UNK\] y \[UNK\]$", proc.stdout, re.M)


@pytest.mark.slow
def test_peak_rss_does_not_grow_with_sentences(model, tmp_path):
    """The tool decodes the test split repeated to each size and reads each run's peak RSS from the kernel.
    Ten times the sentences must not cost memory beyond noise (10%): batches come and go."""
    out = run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.peak_rss",
            str(model.checkpoint),
            str(model.bin),
            "--sizes",
            "30,300",
            "--max-tokens",
            "256",
            "--json",
            str(tmp_path / "rss.json"),
        ]
    )
    figures = json.loads((tmp_path / "rss.json").read_text())
    assert [(r["sentences"], r["answered"], r["status"]) for r in figures["runs"]] == [(30, 30, 0), (300, 300, 0)]
    small, large = (r["peak_rss_kb"] for r in figures["runs"])
    assert 100_000 < small and large < 1.1 * small, figures  # a Python + torch process is > 100 MB
    assert "largest / smallest peak RSS" in out.stdout


def test_generation_trims_the_heap_every_few_batches():
    """The task gives glibc's free heap pages back every TRIM_EVERY batches (generation/heap.py)."""
    import sys

    from bnb_fairseq.generation.heap import HeapTrimmer, glibc_malloc_trim

    calls = []
    trimmer = HeapTrimmer(every=3)
    trimmer.trim = calls.append
    for _ in range(7):
        trimmer.after_batch()
    assert calls == [0, 0] and trimmer.trims == 2
    if sys.platform.startswith("linux"):
        trim = glibc_malloc_trim()
        assert trim is not None and trim(0) in (0, 1)  # 1: memory was released
    off = HeapTrimmer(every=0)
    off.trim = calls.append
    off.after_batch()
    assert calls == [0, 0]
