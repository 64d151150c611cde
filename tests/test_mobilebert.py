"""MobileBERT checkpoints: NoNorm, trigram input embeddings, input/output bottlenecks (shared query/key
bottleneck or bottleneck attention), stacked FFNs and the MLM head whose output matrix has extra columns
besides the narrow word embeddings, all as ``LayerVariant`` options of the project's layers.

The checkpoints are tiny random MobileBertForMaskedLM models written by transformers' ``save_pretrained``
with a WordPiece tokenizer trained on the demo sentences (see test_families.py).
"""

import argparse
import re

import pytest
import torch
from conftest import NO_DROPOUT
from test_families import PAIRS, build_bnb, run_pipeline, train_one_step, wordpiece

from bnb_fairseq.bert.checkpoint import BertCheckpointError, read_bert_sizes
from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.modules import LayerVariant

SIZES = dict(
    hidden_size=32,
    embedding_size=16,
    intra_bottleneck_size=16,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=32,
    num_feedforward_networks=2,
    max_position_embeddings=130,
)
VARIANTS = {
    # the stock layout: NoNorm, trigram input, shared query/key bottleneck
    "no_norm": dict(trigram_input=True, normalization_type="no_norm"),
    # LayerNorm, no trigram (a plain projection of the 16-wide embeddings), bottleneck attention, 1 FFN
    "layer_norm": dict(
        normalization_type="layer_norm",
        key_query_shared_bottleneck=False,
        use_bottleneck_attention=True,
        trigram_input=False,
        num_feedforward_networks=1,
    ),
    # no bottlenecks: the layers work at the hidden width, 3 FFNs each
    "no_bottleneck": dict(use_bottleneck=False, num_feedforward_networks=3),
}


@pytest.fixture(scope="module")
def mobilebert(tmp_path_factory):
    """mobilebert(variant) -> directory of a tiny random MobileBertForMaskedLM (made once)."""
    import transformers as hf

    made, tok = {}, []

    def make(name):
        if name not in made:
            if not tok:
                tok.append(wordpiece(hf.MobileBertTokenizer, lowercase=True))
            path = str(tmp_path_factory.mktemp(f"mobilebert-{name}"))
            config = hf.MobileBertConfig(vocab_size=len(tok[0]), **{**SIZES, **VARIANTS[name]})
            torch.manual_seed(len(made) + 11)
            model = hf.MobileBertForMaskedLM(config)
            with torch.no_grad():  # norms away from their (1, 0) initialisation, so that they count
                for param_name, param in model.named_parameters():
                    if "LayerNorm" in param_name:
                        param.add_(0.2 * torch.randn_like(param))
            model.save_pretrained(path)
            tok[0].save_pretrained(path)
            made[name] = path
        return made[name]

    return make


def build(path, arch="bnb", **options):
    """build_bnb with options (``encoder_layers`` ...) set before the architecture's defaults."""
    if not options:
        return build_bnb(path, arch=arch)
    if arch == "bnb":
        from bnb_fairseq.models.bnb import BnbModel as Model
        from bnb_fairseq.models.bnb import bnb_small as small
    else:
        from bnb_fairseq.models.bert2bert import Bert2BertModel as Model
        from bnb_fairseq.models.bert2bert import bert2bert_small as small
    d = BertDictionary.load(path)
    cfg = argparse.Namespace(
        bert_checkpoint=path, decoder_bert_checkpoint=None, **{**NO_DROPOUT, "output_vocab": "full", **options}
    )
    small(cfg)
    task = argparse.Namespace(source_dictionary=d, target_dictionary=d)
    return Model.build_model(cfg, task).eval(), d, d


def batch(path):
    """A right-padded batch of 4 sentences of different lengths."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    out = tok([en for _, en in PAIRS["test"][:3]] + ["And God said"], padding=True, return_tensors="pt")
    assert not out["attention_mask"].bool().all()
    return out


def encoder_diff(ours, theirs, real):
    return (ours - theirs).abs()[real].max().item()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_encoder_and_head_match_transformers(name, mobilebert):
    from transformers import MobileBertForMaskedLM, MobileBertModel

    path = mobilebert(name)
    sizes = read_bert_sizes(path)
    variant = LayerVariant.from_json(sizes.layer_variant)
    assert (sizes.model_type, sizes.embedding_size, sizes.hidden_act) == ("mobilebert", 16, "relu")
    assert variant.no_norm == (name != "layer_norm")
    assert variant.bottleneck_size == (0 if name == "no_bottleneck" else 16)
    model, src, _ = build_bnb(path)
    b = batch(path)
    real = b["attention_mask"].bool()
    with torch.no_grad():
        ours = model.encoder(b["input_ids"])["encoder_out"][0]
        theirs = MobileBertModel.from_pretrained(path).eval()(**b).last_hidden_state
    diff = encoder_diff(ours, theirs, real)
    print(f"parity mobilebert ({name}): max |ours - transformers| = {diff:.1e} over {int(real.sum())} tokens")
    assert diff <= 1e-5
    assert theirs[real].std() > 0.1  # a real comparison, not of two zero tensors

    # the MLM head: transform, then cat(word embeddings, extra columns) + bias, as MobileBertForMaskedLM
    hf = MobileBertForMaskedLM.from_pretrained(path).eval()
    head = model.decoder.lm_head
    assert head.extra_output.shape == (len(src), 16)
    with torch.no_grad():
        out = hf(**b, output_hidden_states=True)
        logits = head(out.hidden_states[-1], model.decoder.embeddings.word_embeddings.weight)
        # the decoders' output matrix (what trimming and --inference-precision use) gives the same
        full = head(out.hidden_states[-1], *model.decoder.output_weight())
    assert (logits - out.logits).abs().max() < 1e-4
    assert (full - out.logits).abs().max() < 1e-4


def test_first_layers_and_trimmed_output(mobilebert):
    """--encoder-layers 1 is transformers' model with one layer over the same weights; a trimmed output
    vocabulary keeps the extra columns of its rows."""
    from transformers import MobileBertModel

    path = mobilebert("no_norm")
    model, _, tgt = build(path, encoder_layers=1, decoder_layers=1)
    assert len(model.encoder.encoder.layer) == len(model.decoder.encoder.layer) == 1
    b = batch(path)
    real = b["attention_mask"].bool()
    with torch.no_grad():
        ours = model.encoder(b["input_ids"])["encoder_out"][0]
        theirs = MobileBertModel.from_pretrained(path, num_hidden_layers=1).eval()(**b).last_hidden_state
    assert encoder_diff(ours, theirs, real) <= 1e-5

    decoder = model.decoder
    full_weight, full_bias = decoder.output_weight()
    decoder.set_output_vocab([40, 41, 42])
    with torch.no_grad():
        weight, bias = decoder.output_weight()
    ids = decoder.output_ids
    assert torch.equal(weight, full_weight[ids]) and torch.equal(bias, full_bias[ids])
    with pytest.raises(ValueError, match="give the rows' ids"):
        decoder.lm_head.output_matrix(decoder.embeddings.word_embeddings.weight[ids])


def test_unsupported_layout_is_refused(mobilebert, tmp_path):
    import json
    import shutil

    bad = tmp_path / "mobilebert"
    shutil.copytree(mobilebert("no_norm"), bad)
    cfg = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(
        json.dumps({**cfg, "key_query_shared_bottleneck": False, "use_bottleneck_attention": False})
    )
    with pytest.raises(BertCheckpointError, match="set intra_bottleneck_size to hidden_size"):
        read_bert_sizes(str(bad))


@pytest.mark.parametrize("arch", ["bnb", "bert2bert"])
def test_train_step_reaches_pretrained_parts(mobilebert, arch):
    """One training step with a MobileBERT encoder and decoder gives every pre-trained parameter a gradient."""
    model, src, tgt = build_bnb(mobilebert("no_norm"), arch=arch)
    grads = train_one_step(model, src, tgt, arch)
    pretrained = [
        n
        for n, _ in model.named_parameters()
        if n.startswith(("encoder.", "decoder.embeddings.", "decoder.encoder.", "decoder.lm_head."))
    ]
    no_grad = [n for n in pretrained if n not in grads]
    # the decoder of bnb reads slot vectors, not words: its word embeddings are only the output matrix
    assert no_grad == [], no_grad
    for part in (
        "encoder.embeddings.embedding_transformation.weight",
        "encoder.encoder.layer.0.bottleneck.attention.dense.weight",
        "encoder.encoder.layer.1.ffn.0.output.LayerNorm.weight",
        "decoder.encoder.layer.1.output_bottleneck.dense.weight",
        "decoder.encoder.layer.0.crossattention.self.key.weight",
        "decoder.lm_head.extra_output",
    ):
        assert part in pretrained


def test_bert2bert_cache_equals_full_causal_pass(mobilebert):
    """The trigram input of a causal decoder leaves out the next token: outputs do not read later tokens,
    and cached step-by-step decoding equals the full causal pass."""
    model, src, tgt = build_bnb(mobilebert("no_norm"), arch="bert2bert")
    # bert2bert's --cross-attention-init self: the cross-attention reads the memory through the layer's
    # bottlenecks, so it has the self-attention's shapes and starts as its copy
    layer = model.decoder.encoder.layer[0]
    for part in ("self.query", "self.key", "self.value", "output.dense", "output.LayerNorm"):
        assert torch.equal(layer.crossattention.get_submodule(part).weight, layer.attention.get_submodule(part).weight)
    src_tok = torch.tensor([[src.bos(), 30, 31, 32, src.eos()], [src.bos(), 33, src.eos(), src.pad(), src.pad()]])
    prev = torch.tensor([[tgt.bos(), 40, 41, 42, 43, 44], [tgt.bos(), 45, 46, 47, 48, 49]])
    with torch.no_grad():
        enc = model.encoder(src_tok)
        full, _ = model.decoder(prev, encoder_out=enc)
        changed = prev.clone()
        changed[:, 4:] = 60
        assert torch.equal(model.decoder(changed, encoder_out=enc)[0][:, :4], full[:, :4])
        state, steps = {}, []
        for t in range(1, prev.size(1) + 1):
            steps.append(model.decoder(prev[:, :t], encoder_out=enc, incremental_state=state)[0])
    diff = (torch.cat(steps, 1) - full).abs().max().item()
    assert diff <= 1e-5, diff
    assert full.std() > 0.1


def test_mobilebert_pipeline_answers_every_line(mobilebert, tmp_path):
    """binarize -> fairseq-train (3 updates, --eval-bleu) -> fairseq-generate with a MobileBERT encoder and
    decoder; then the Python API translates raw text (an empty line included)."""
    from bnb_fairseq.models.bnb import BnbModel

    binarize_log, train_log, lines, work = run_pipeline(
        tmp_path, mobilebert("no_norm"), extra_train=("--eval-bleu", "--eval-bleu-print-samples")
    )
    assert "en: mobilebert checkpoint, uncased" in binarize_log
    assert "num_updates 3" in train_log or "num_updates=3" in train_log, train_log[-2000:]
    n_test = len(PAIRS["test"])
    assert sorted(lines["D"]) == sorted(lines["T"]) == list(range(n_test))
    # --eval-bleu detokenized a valid reference with the uncased WordPiece decoder
    samples = re.findall(r"example reference: (.*)", train_log)
    assert samples and samples[-1].split()[0] in {en.lower().split()[0] for _, en in PAIRS["valid"]}, train_log[-3000:]
    hub = BnbModel.from_pretrained(
        str(work / "ckpt"), checkpoint_file="checkpoint_last.pt", data_name_or_path=str(work / "bin")
    )
    outputs = hub.translate([es for es, _ in PAIRS["test"][:2]] + [""])
    assert len(outputs) == 3 and all(isinstance(o, str) for o in outputs)
