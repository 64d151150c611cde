"""Decoding settings chosen on the valid split travel with the checkpoint, and [UNK] outputs follow
--unk-policy (drop by default)."""

import argparse
import os
import re
import subprocess
import sys

import pytest
import torch
from conftest import (
    CLS,
    NO_DROPOUT,
    PAD,
    ROOT,
    SEP,
    detokenized_outputs,
    right_pad,
    run_cli,
    run_demo_script,
    starts_early,
)

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.generation import ParallelGenerator
from bnb_fairseq.models.bnb import BnbModel, bnb_small

UNK = 100
SRC = [[CLS, 7592, 2088, 2003, SEP], [CLS, 2129, 2024, 2017, 2725, 2651, 1012, SEP]]


@pytest.fixture(scope="module")
def unk_model(tiny_bert_dir):
    """A tiny CTC BnB whose every slot outputs [UNK]."""
    torch.manual_seed(0)
    cfg = argparse.Namespace(bert_checkpoint=tiny_bert_dir, **{**NO_DROPOUT, "output_vocab": "full"})
    bnb_small(cfg)
    d = BertDictionary.load(tiny_bert_dir)
    model = BnbModel.build_model(cfg, argparse.Namespace(source_dictionary=d, target_dictionary=d)).eval()
    with torch.no_grad():
        model.decoder.lm_head.bias[UNK] = 30.0
    return model, d


def sample():
    src = right_pad(SRC)
    return {"id": torch.arange(2), "net_input": {"src_tokens": src, "src_lengths": src.ne(PAD).sum(1)}}


def test_unk_policy(unk_model):
    model, d = unk_model
    keep = ParallelGenerator(d, unk_policy="keep").generate([model], sample())
    assert [h[0]["tokens"].tolist() for h in keep] == [[UNK, SEP], [UNK, SEP]]
    dropped = ParallelGenerator(d).generate([model], sample())  # the default
    assert [h[0]["tokens"].tolist() for h in dropped] == [[SEP], [SEP]]  # every input still answered
    beam = ParallelGenerator(d, ctc_beam=3).generate([model], sample())
    assert all(UNK not in h["tokens"].tolist() for nbest in beam for h in nbest)
    # copy-source: each [UNK] slot takes the source piece it reads (slot j of T reads floor(j S / T));
    # [CLS]/[SEP] read at the ends are no words, repeats collapse as CTC's
    copied = ParallelGenerator(d, unk_policy="copy-source").generate([model], sample())
    assert [h[0]["tokens"].tolist() for h in copied] == [row[1:-1] + [SEP] for row in SRC]
    for h in copied:
        assert len(h[0]["positional_scores"]) == len(h[0]["tokens"])


@starts_early("demo_run")
def run_demo(tmp_path_factory, tiny_bert_dir):
    """`make demo`'s script on a demo slice with the tiny BERT: (work, raw data, the demo's output)."""
    settings = dict(MAX_UPDATE="150", SAVE_EVERY="25", STOP_MINUTES="5", BLANK_PENALTY_CANDIDATES="2")
    return run_demo_script(tmp_path_factory, "demo_run", tiny_bert_dir, (64, 8, 11), **settings)


@pytest.fixture(scope="module")
def demo_run(background, request):
    return background.result(run_demo, request)


@pytest.mark.slow
def test_demo_checkpoint_decodes_with_its_tuned_penalty(tmp_path, demo_run):
    """The demo stores the blank penalty it chose on the valid split in its checkpoint; fairseq-generate
    (no option), the Python API (no decoding argument) and the demo's BLEU then agree, an explicit option
    still wins, and an emoji-only line comes back without a literal [UNK]."""
    from sacrebleu.metrics import BLEU

    work, raw, demo = demo_run
    out = demo.stdout + demo.stderr
    assert "decoding with --ctc-blank-penalty 2.0 (stored in the checkpoint by tune_blank_penalty on valid" in out, out[
        -3000:
    ]
    demo_bleu = float(re.search(r"^BLEU = ([\d.]+)", demo.stdout, re.M).group(1))
    # the demo decodes the mean of its last three saves (the three update-interval saves it keeps; fairseq
    # skips an interval save that falls on an epoch's end), which carries the tuned penalty
    assert "fairseq-generate the test set with " + str(work / "checkpoints" / "checkpoint_average.pt") in out
    averaged = torch.load(work / "checkpoints" / "checkpoint_average.pt", map_location="cpu", weights_only=True)
    kept = sorted((work / "checkpoints").glob("checkpoint_*_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    assert len(kept) == 3 and kept[-1].name.endswith("_150.pt")
    assert averaged["extra_state"]["averaged_from"] == [p.name for p in kept]
    generated = (work / "generate-test.txt").read_text(encoding="utf-8")
    d_lines = detokenized_outputs(generated)
    with open(os.path.join(raw, "test.es"), encoding="utf-8") as f:
        sources = [line.rstrip("\n") for line in f]
    with open(os.path.join(raw, "test.en"), encoding="utf-8") as f:
        refs = [line.rstrip("\n") for line in f]

    hub = BnbModel.from_pretrained(
        str(work / "checkpoints"), checkpoint_file="checkpoint_average.pt", data_name_or_path=str(work / "data-bin")
    )
    outputs = hub.translate(sources)
    assert outputs == [d_lines[i] for i in range(len(sources))]
    assert round(BLEU(lowercase=True).corpus_score(outputs, [refs]).score, 2) == demo_bleu
    # an explicit option wins over the stored value, through the Python API and fairseq-generate alike
    zero = hub.translate(sources, ctc_blank_penalty=0.0)
    assert zero != outputs  # the stored penalty changes this model's outputs
    explicit = run_cli(
        [
            "fairseq-generate",
            str(work / "data-bin"),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(work / "checkpoints" / "checkpoint_average.pt"),
            "--gen-subset",
            "test",
            "--batch-size",
            "64",
            "--bpe",
            "bert_wordpiece",
            "--num-workers",
            "0",
            "--ctc-blank-penalty",
            "0",
        ]
    )
    zero_lines = detokenized_outputs(explicit.stdout)
    assert [zero_lines[i] for i in range(len(sources))] == zero
    # the packaged model carries the stored value too
    package = tmp_path / "package"
    run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.package",
            str(work / "checkpoints" / "checkpoint_average.pt"),
            str(work / "data-bin"),
            str(package),
        ]
    )
    assert "`--ctc-blank-penalty 2.0`" in (package / "README.md").read_text(encoding="utf-8")
    assert BnbModel.from_pretrained(str(package)).translate(sources) == outputs
    # input the vocabulary does not cover: answered, without a literal [UNK]
    emoji = hub.translate(["😀😀 🎉", "你好", ""])
    assert len(emoji) == 3 and not any("[UNK]" in line for line in emoji)
    env = dict(os.environ, PYTHONPATH=ROOT, TOKENIZERS_PARALLELISM="false")
    interactive = subprocess.run(
        [
            "fairseq-interactive",
            str(work / "data-bin"),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(work / "checkpoints" / "checkpoint_average.pt"),
            "--bpe",
            "bert_wordpiece",
            "--buffer-size",
            "2",
            "--batch-size",
            "2",
        ],
        input="😀😀 🎉\nY dijo Dios.\n",
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert interactive.returncode == 0, interactive.stderr[-3000:]
    assert len(re.findall(r"^D-\d+\t", interactive.stdout, re.M)) == 2
    assert "[UNK]" not in "".join(re.findall(r"^D-\d+\t\S+\t(.*)$", interactive.stdout, re.M))


def test_output_starting_inside_a_word_prints_no_continuation_mark():
    """With [UNK] left out an output may start with a WordPiece continuation: it prints as its text."""
    from bnb_fairseq.bert.tokenizer import TextDecoder

    decoder = TextDecoder.wordpiece(lowercase=True)
    assert decoder.decode(["##bar", "baz", "##qux", "."]) == "bar bazqux."
    assert decoder.decode(["##"]) == "##" and decoder.decode([]) == ""
