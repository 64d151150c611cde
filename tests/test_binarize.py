import os
import shutil
import sys

import pytest
from conftest import ROOT, run_cli, write_lines

BINARIZE = [sys.executable, os.path.join(ROOT, "preprocess", "binarize.py")]


def binarize(bert, raw, dest, *extra, check=True):
    return run_cli(
        BINARIZE
        + [
            "--bert",
            bert,
            "-s",
            "es",
            "-t",
            "en",
            "--trainpref",
            str(raw / "train"),
            "--destdir",
            str(dest),
            "--quiet",
            *extra,
        ],
        check=check,
    )


def one_error(proc):
    """The process failed with exactly one error line."""
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.mark.slow
def test_roundtrip_ids_match_hf(tmp_path, minilm_dir):
    from fairseq.data import data_utils
    from transformers import BertTokenizerFast

    src = ["El principio.", "Y dijo Dios: Sea la luz; y fué la luz.", "x " * 40]
    tgt = ["The beginning.", "And God said, Let there be light: and there was light.", "y"]
    write_lines(tmp_path / "train.es", src)
    write_lines(tmp_path / "train.en", tgt)
    proc = binarize(minilm_dir, tmp_path, tmp_path / "bin", "--max-len", "32", "--workers", "2")
    assert "truncated 1 sentence(s)" in proc.stderr and "train.es:3" in proc.stderr
    hf = BertTokenizerFast.from_pretrained(minilm_dir)
    ds = data_utils.load_indexed_dataset(str(tmp_path / "bin" / "train.es-en.es"), None, "mmap")
    assert len(ds) == 3
    assert ds[0].tolist() == hf(src[0])["input_ids"]
    assert ds[1].tolist() == hf(src[1])["input_ids"]
    assert len(ds[2]) == 32 and ds[2][0] == 101 and ds[2][-1] == 102
    assert (tmp_path / "bin" / "dict.es.txt").read_text() == open(os.path.join(minilm_dir, "vocab.txt")).read()
    assert (tmp_path / "bin" / "tokenizer.en" / "vocab.txt").exists()


@pytest.mark.slow
def test_overlong_error_policy(tmp_path, minilm_dir):
    write_lines(tmp_path / "train.es", ["uno dos tres cuatro cinco seis"])
    write_lines(tmp_path / "train.en", ["one"])
    msg = one_error(
        binarize(minilm_dir, tmp_path, tmp_path / "bin", "--max-len", "4", "--overlong", "error", check=False)
    )
    assert "train.es:1" in msg and "--max-len 4" in msg


@pytest.mark.slow
def test_misaligned_files(tmp_path, minilm_dir):
    write_lines(tmp_path / "train.es", ["uno", "dos", "tres"])
    write_lines(tmp_path / "train.en", ["one", "two"])
    msg = one_error(binarize(minilm_dir, tmp_path, tmp_path / "bin", check=False))
    assert "train.es has 3 lines" in msg and "train.en has 2" in msg and "misaligned" in msg
    assert not (tmp_path / "bin" / "train.es-en.es.bin").exists()


@pytest.mark.slow
def test_empty_lines(tmp_path, minilm_dir):
    write_lines(tmp_path / "train.es", ["uno", "", "tres"])
    write_lines(tmp_path / "train.en", ["one", "two", "   "])
    msg = one_error(binarize(minilm_dir, tmp_path, tmp_path / "bin", check=False))
    assert "2 empty line(s)" in msg and "train.es:2" in msg and "train.en:3" in msg


@pytest.mark.slow
def test_missing_checkpoint_dir(tmp_path):
    write_lines(tmp_path / "train.es", ["uno"])
    write_lines(tmp_path / "train.en", ["one"])
    msg = one_error(binarize(str(tmp_path / "no-such-bert"), tmp_path, tmp_path / "bin", check=False))
    assert "no-such-bert" in msg and "no such directory" in msg


@pytest.mark.slow
def test_vocab_not_matching_checkpoint(tmp_path, minilm_dir):
    bad = tmp_path / "bad_bert"
    shutil.copytree(minilm_dir, bad)
    with open(bad / "vocab.txt", "a") as f:
        f.write("extra1\nextra2\n")
    write_lines(tmp_path / "train.es", ["uno"])
    write_lines(tmp_path / "train.en", ["one"])
    msg = one_error(binarize(str(bad), tmp_path, tmp_path / "bin", check=False))
    assert "vocab.txt" in msg and "30522" in msg


@pytest.mark.slow
def test_empty_file(tmp_path, minilm_dir):
    write_lines(tmp_path / "train.es", ["uno"])
    write_lines(tmp_path / "train.en", ["one"])
    (tmp_path / "valid.es").write_text("")
    (tmp_path / "valid.en").write_text("")
    msg = one_error(
        binarize(minilm_dir, tmp_path, tmp_path / "bin", "--validpref", str(tmp_path / "valid"), check=False)
    )
    assert f"{tmp_path / 'valid.es'}: the file is empty" in msg
    assert not (tmp_path / "bin").exists()


@pytest.mark.slow
@pytest.mark.parametrize("bad", ["misaligned", "empty line", "overlong"])
def test_bad_test_split_leaves_no_output(tmp_path, minilm_dir, bad):
    """Every split is checked (or, for --overlong error, encoded off to the side) before --destdir is touched."""
    write_lines(tmp_path / "train.es", ["uno dos", "tres"])
    write_lines(tmp_path / "train.en", ["one two", "three"])
    src, tgt = {
        "misaligned": (["uno", "dos"], ["one"]),
        "empty line": (["uno", ""], ["one", "two"]),
        "overlong": (["uno dos tres cuatro cinco seis siete"], ["one"]),
    }[bad]
    write_lines(tmp_path / "test.es", src)
    write_lines(tmp_path / "test.en", tgt)
    dest = tmp_path / "out" / "bin"
    proc = binarize(
        minilm_dir,
        tmp_path,
        dest,
        "--testpref",
        str(tmp_path / "test"),
        "--max-len",
        "6",
        "--overlong",
        "error",
        check=False,
    )
    assert "test.es" in one_error(proc)
    assert not dest.exists()
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []  # no staging folder left either
    # an existing --destdir keeps its old contents
    dest.mkdir(parents=True)
    (dest / "old.txt").write_text("kept")
    one_error(
        binarize(
            minilm_dir,
            tmp_path,
            dest,
            "--testpref",
            str(tmp_path / "test"),
            "--max-len",
            "6",
            "--overlong",
            "error",
            check=False,
        )
    )
    assert os.listdir(dest) == ["old.txt"]


def test_streams_in_chunks_in_order(tmp_path, minilm_dir, monkeypatch):
    """Many small chunks through 2 workers (4 in flight at most) come back in input order."""
    import importlib.util

    from fairseq.data import data_utils
    from transformers import BertTokenizerFast

    spec = importlib.util.spec_from_file_location("binarize_script", os.path.join(ROOT, "preprocess", "binarize.py"))
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "binarize_script", script)  # the workers unpickle its functions
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "CHUNK", 3)
    src = [f"frase número {i} " + "palabra " * (i % 5) for i in range(23)]
    tgt = [f"sentence {i}" for i in range(23)]
    write_lines(tmp_path / "train.es", src)
    write_lines(tmp_path / "train.en", tgt)
    assert (
        script.main(
            [
                "--bert",
                minilm_dir,
                "-s",
                "es",
                "-t",
                "en",
                "--trainpref",
                str(tmp_path / "train"),
                "--destdir",
                str(tmp_path / "bin"),
                "--workers",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    hf = BertTokenizerFast.from_pretrained(minilm_dir)
    for lang, lines in (("es", src), ("en", tgt)):
        ds = data_utils.load_indexed_dataset(str(tmp_path / "bin" / f"train.es-en.{lang}"), None, "mmap")
        assert [ds[i].tolist() for i in range(len(ds))] == hf(lines)["input_ids"]
    assert sorted(os.listdir(tmp_path / "bin")) == sorted(
        ["dict.es.txt", "dict.en.txt", "tokenizer.es", "tokenizer.en"]
        + [f"train.es-en.{lang}.{ext}" for lang in ("es", "en") for ext in ("bin", "idx")]
    )
