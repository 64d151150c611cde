"""Gibbs sampling from a plain BERT MLM (tools/gibbs_sample.py) on a tiny random BertForMaskedLM."""

import json
import os
import re
import sys

import pytest
import torch
from conftest import make_tiny_bert, run_cli, write_lines

from bnb_fairseq.tools.gibbs_sample import candidates, gibbs_sample, load, main, pseudo_log_likelihood

SPECIALS = ["[PAD]", "[unused0]", "[unused1]", "[unused2]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = "the a of and to in he she it was is said god light day night earth water , . ##s ##ed".split()


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory):
    """A tiny random BertForMaskedLM (hidden 32, 2 layers, 4 heads) with a 30-piece vocabulary."""
    vocab = tmp_path_factory.mktemp("gibbs_vocab")
    write_lines(vocab / "vocab.txt", SPECIALS + WORDS)
    return make_tiny_bert(str(tmp_path_factory.mktemp("gibbs_mlm")), str(vocab), seed=3, with_mlm_head=True)


@pytest.fixture(scope="module")
def loaded(mlm_dir):
    return load(mlm_dir)


def sample(loaded, seed, length=6, num_samples=3, sweeps=2, **options):
    model, tok = loaded
    return gibbs_sample(
        model, tok, length, num_samples, sweeps, generator=torch.Generator().manual_seed(seed), **options
    )


def test_seed_reproduces_and_samples_are_well_formed(loaded):
    model, tok = loaded
    a, b, c = sample(loaded, 1), sample(loaded, 1), sample(loaded, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    special = {tok.convert_tokens_to_ids(t) for t in SPECIALS}
    for ids in (a, sample(loaded, 1, init="random", order="sequential", sweeps=1, length=9)):
        assert (ids[:, 0] == tok.cls_token_id).all() and (ids[:, -1] == tok.sep_token_id).all()
        assert not set(ids[:, 1:-1].flatten().tolist()) & special
    assert a.shape == (3, 6 + 2)
    allowed = candidates(tok, model.config.vocab_size)
    assert allowed.sum() == len(WORDS) and not any(allowed[sorted(special)])


def test_pseudo_log_likelihood_matches_a_position_by_position_loop(loaded):
    model, tok = loaded
    ids = sample(loaded, 4, length=5)
    ref = torch.zeros(ids.size(0))
    with torch.no_grad():
        for i, row in enumerate(ids):
            for t in range(1, ids.size(1) - 1):
                x = row.clone()
                x[t] = tok.mask_token_id
                ref[i] += model(input_ids=x[None]).logits[0, t].log_softmax(-1)[row[t]]
    got = pseudo_log_likelihood(model, ids, tok.mask_token_id, batch_size=4)  # chunks split sentences
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-5)
    assert (got < 0).all()


def test_sampler_follows_the_conditionals(loaded):
    model, tok = loaded
    # top-1 is the iterated argmax of the masked conditionals over the allowed tokens
    allowed = candidates(tok, model.config.vocab_size)
    ids = sample(loaded, 5, topk=1, order="sequential", sweeps=2)
    ref = ids.clone().fill_(tok.mask_token_id)
    ref[:, 0], ref[:, -1] = tok.cls_token_id, tok.sep_token_id
    with torch.no_grad():
        for _ in range(2):
            for t in range(1, ref.size(1) - 1):
                x = ref.clone()
                x[:, t] = tok.mask_token_id
                ref[:, t] = model(input_ids=x).logits[:, t].masked_fill(~allowed, float("-inf")).argmax(-1)
    assert torch.equal(ids, ref)
    assert torch.equal(ids, sample(loaded, 6, topk=1, order="sequential", sweeps=2))  # seed does not matter
    # a bias that makes one word dominate every conditional takes every position, in any order
    word = tok.convert_tokens_to_ids("light")
    bias = model.get_output_embeddings().bias
    saved = bias.detach().clone()
    try:
        with torch.no_grad():
            bias[word] += 30.0
        ids = sample(loaded, 7, temperature=0.1, sweeps=1, num_samples=4)
        assert (ids[:, 1:-1] == word).all()
    finally:
        with torch.no_grad():
            bias.copy_(saved)


def test_cli_prints_samples_and_refuses_bad_checkpoints(mlm_dir, tiny_bert_dir, tmp_path, capsys):
    args = [sys.executable, "-m", "bnb_fairseq.tools.gibbs_sample", "--bert", mlm_dir, "--length", "5"]
    lines = run_cli(args + ["--num-samples", "3", "--sweeps", "2"]).stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        text, score = line.split("\t")
        assert text.strip() and float(score) < 0
        assert not re.search(r"\[(CLS|SEP|MASK|PAD|UNK|unused\d+)\]", text)
    # tiny_bert_dir is a BertModel: an encoder without the MLM head
    proc = run_cli([*args[:4], tiny_bert_dir], check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and proc.stderr.count("error:") == 1 and "MLM head" in proc.stderr, proc.stderr
    # the same in-process, with the option checks
    for argv, message in [
        (["--length", "0"], "at least 1"),
        (["--length", "127"], "128 positions"),
    ]:
        assert main(["--bert", mlm_dir, *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and err.count("\n") == 1 and message in err, err
    assert main(["--bert", os.fspath(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err
    assert main(["--bert", mlm_dir, "--length", "4", "--num-samples", "2", "--sweeps", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 2 and all(len(s["tokens"]) == 4 and s["pseudo_log_likelihood"] < 0 for s in out)
