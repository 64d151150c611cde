"""Checkpoint families (issues 15 and 26): BERT cased, ELECTRA (narrow embeddings), DistilBERT, RoBERTa, XLM-R,
ALBERT (shared layer, SentencePiece) and ModernBERT (pre-norm, rotary, GeGLU, local attention; BPE).

Each test checkpoint is a tiny random model written by transformers' ``save_pretrained`` together with a
tokenizer trained here with the ``tokenizers`` library on the demo sentences, so its directory looks as
transformers 5 writes it: tokenizer.json + tokenizer_config.json, no vocab.txt.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import sys

import pytest
import torch
from conftest import DEMO_DATA, NO_DROPOUT, ROOT, detokenized_outputs, run_cli, train_cfg, write_lines

from bnb_fairseq.bert.checkpoint import BertCheckpointError, read_bert_sizes
from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.bert.families import SUPPORTED_MODEL_TYPES
from bnb_fairseq.bert.tokenizer import TextDecoder, load_tokenizer

N_TRAIN, N_VALID, N_TEST = 24, 4, 7  # 7: not a multiple of fairseq's batch multiple
MAX_CHARS = 110  # short verses: no sentence is truncated, so references come back whole
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
ALBERT_SPECIALS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
TINY = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, max_position_embeddings=130
)


def short_pairs():
    """The first short es-en verse pairs of each demo split."""
    out = {}
    for split, n in (("train", N_TRAIN), ("valid", N_VALID), ("test", N_TEST)):
        with (
            open(os.path.join(DEMO_DATA, f"{split}.es"), encoding="utf-8") as f_es,
            open(os.path.join(DEMO_DATA, f"{split}.en"), encoding="utf-8") as f_en,
        ):
            pairs = [
                (es.strip(), en.strip())
                for es, en in zip(f_es, f_en)
                if len(es.strip()) <= MAX_CHARS and len(en.strip()) <= MAX_CHARS
            ]
        out[split] = pairs[:n]
        assert len(out[split]) == n
    return out


PAIRS = short_pairs()
ALL_TEXT = [s for pairs in PAIRS.values() for pair in pairs for s in pair]


def wordpiece(tokenizer_class, lowercase):
    from tokenizers import BertWordPieceTokenizer

    trained = BertWordPieceTokenizer(lowercase=lowercase)
    trained.train_from_iterator(ALL_TEXT, vocab_size=600, special_tokens=WORDPIECE_SPECIALS)
    return tokenizer_class(tokenizer_object=trained._tokenizer, do_lower_case=lowercase)


def byte_level_bpe():
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    trained = ByteLevelBPETokenizer()
    trained.train_from_iterator(ALL_TEXT, vocab_size=700, special_tokens=ROBERTA_SPECIALS)
    return RobertaTokenizerFast(tokenizer_object=trained._tokenizer)


def sentencepiece_unigram():
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import XLMRobertaTokenizerFast

    trained = SentencePieceUnigramTokenizer()
    trained.train_from_iterator(ALL_TEXT, vocab_size=500, special_tokens=ROBERTA_SPECIALS[:4], unk_token="<unk>")
    return XLMRobertaTokenizerFast(tokenizer_object=trained._tokenizer)  # appends <mask> last, as XLM-R has it


def albert_sentencepiece():
    """ALBERT's layout: a SentencePiece Unigram model with <pad> <unk> [CLS] [SEP] [MASK]."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import AlbertTokenizer

    trained = SentencePieceUnigramTokenizer()
    trained.train_from_iterator(ALL_TEXT, vocab_size=500, special_tokens=ALBERT_SPECIALS, unk_token="<unk>")
    return AlbertTokenizer(tokenizer_object=trained._tokenizer, do_lower_case=False)


def modernbert_bpe():
    """ModernBERT's layout: a cased byte-level BPE tokenizer.json with BERT's [CLS] [SEP] [PAD] [UNK] [MASK]."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    trained = ByteLevelBPETokenizer()
    trained.train_from_iterator(ALL_TEXT, vocab_size=700, special_tokens=WORDPIECE_SPECIALS)
    return PreTrainedTokenizerFast(
        tokenizer_object=trained._tokenizer,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        unk_token="[UNK]",
        mask_token="[MASK]",
    )


def modernbert_config(n, **kwargs):
    import transformers as hf

    ids = dict(pad_token_id=0, unk_token_id=1, cls_token_id=2, bos_token_id=2, sep_token_id=3, eos_token_id=3)
    # layers 1 and 2 attend in a 4-token local window, shorter than the test sentences; bnb_small takes 3 layers
    sizes = dict(TINY, num_hidden_layers=3, intermediate_size=48, local_attention=4)
    return hf.ModernBertConfig(vocab_size=n, **{**sizes, **ids, **kwargs})


def family_spec(name):
    """(tokenizer factory, config factory, class saved, base class to compare with)."""
    import transformers as hf

    return {
        "bert-cased": (
            lambda: wordpiece(hf.BertTokenizerFast, lowercase=False),
            lambda n: hf.BertConfig(vocab_size=n, **TINY),
            hf.BertModel,
            hf.BertModel,
        ),
        "electra": (
            lambda: wordpiece(hf.ElectraTokenizerFast, lowercase=True),
            lambda n: hf.ElectraConfig(vocab_size=n, embedding_size=16, **TINY),
            hf.ElectraForPreTraining,
            hf.ElectraModel,
        ),  # the discriminator
        "distilbert": (
            lambda: wordpiece(hf.DistilBertTokenizerFast, lowercase=True),
            lambda n: hf.DistilBertConfig(
                vocab_size=n, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=130
            ),
            hf.DistilBertForMaskedLM,
            hf.DistilBertModel,
        ),
        "roberta": (
            byte_level_bpe,
            lambda n: hf.RobertaConfig(vocab_size=n, type_vocab_size=1, **TINY),
            hf.RobertaForMaskedLM,
            hf.RobertaModel,
        ),
        # a different width from the others: mixed pairs need the encoder-to-decoder projection
        "xlm-roberta": (
            sentencepiece_unigram,
            lambda n: hf.XLMRobertaConfig(vocab_size=n, type_vocab_size=1, **{**TINY, "hidden_size": 48}),
            hf.XLMRobertaModel,
            hf.XLMRobertaModel,
        ),
        # one layer applied 3 times, 16-wide embeddings projected to 32
        "albert": (
            albert_sentencepiece,
            lambda n: hf.AlbertConfig(vocab_size=n, embedding_size=16, **{**TINY, "num_hidden_layers": 3}),
            hf.AlbertForMaskedLM,
            hf.AlbertModel,
        ),
        "modernbert": (modernbert_bpe, modernbert_config, hf.ModernBertForMaskedLM, hf.ModernBertModel),
    }[name]


FAMILIES = ["bert-cased", "electra", "distilbert", "roberta", "xlm-roberta", "albert", "modernbert"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """checkpoint(name) -> directory of a tiny random checkpoint of that family (made once)."""
    made = {}

    def make(name):
        if name not in made:
            make_tokenizer, make_config, saved_class, _ = family_spec(name)
            path = str(tmp_path_factory.mktemp(name))
            tok = make_tokenizer()
            torch.manual_seed(FAMILIES.index(name))
            saved_class(make_config(len(tok))).save_pretrained(path)
            tok.save_pretrained(path)
            made[name] = path
        return made[name]

    return make


def build_bnb(enc_dir, dec_dir=None, arch="bnb", encoder_layers=None):
    """A bnb (or bert2bert) model over the checkpoints, built as fairseq-train builds it."""
    if arch == "bnb":
        from bnb_fairseq.models.bnb import BnbModel as Model
        from bnb_fairseq.models.bnb import bnb_small as small
    else:
        from bnb_fairseq.models.bert2bert import Bert2BertModel as Model
        from bnb_fairseq.models.bert2bert import bert2bert_small as small
    src, tgt = BertDictionary.load(enc_dir), BertDictionary.load(dec_dir or enc_dir)
    cfg = argparse.Namespace(
        bert_checkpoint=enc_dir, decoder_bert_checkpoint=dec_dir, **{**NO_DROPOUT, "output_vocab": "full"}
    )
    if encoder_layers:
        cfg.encoder_layers = encoder_layers
    small(cfg)
    task = argparse.Namespace(source_dictionary=src, target_dictionary=tgt)
    return Model.build_model(cfg, task).eval(), src, tgt


# --- 1. each family loads into our encoder exactly ---


@pytest.mark.parametrize("name", FAMILIES)
def test_encoder_matches_transformers(name, checkpoint):
    from transformers import AutoTokenizer

    path = checkpoint(name)
    assert not os.path.exists(os.path.join(path, "vocab.txt"))  # as transformers 5 saves it
    model, src, _ = build_bnb(path)
    hf = family_spec(name)[3].from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    # the dictionary is the tokenizer's vocabulary, ids and specials kept exactly
    assert src.symbols == tok.convert_ids_to_tokens(list(range(len(tok))))
    assert (src.bos(), src.eos(), src.pad(), src.unk(), src.mask()) == (
        tok.cls_token_id,
        tok.sep_token_id,
        tok.pad_token_id,
        tok.unk_token_id,
        tok.mask_token_id,
    )
    texts = [en for _, en in PAIRS["test"][:3]] + ["And God said"]
    batch = tok(texts, padding=True, return_tensors="pt")  # right-padded, lengths differ
    real = batch["attention_mask"].bool()
    assert not real.all()
    with torch.no_grad():
        ours = model.encoder(batch["input_ids"])["encoder_out"][0]
        theirs = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    diff = (ours - theirs).abs()[real].max().item()
    print(f"parity {name}: max |ours - transformers| = {diff:.1e} over {int(real.sum())} tokens")  # README figure
    assert diff < 1e-5
    assert theirs[real].std() > 0.1  # a real comparison, not of two zero tensors


def test_family_sizes_and_heads(checkpoint, tmp_path):
    """Config keys per family; ELECTRA's narrow embeddings keep their projection; MLM heads initialise the output."""
    from transformers import DistilBertForMaskedLM, ElectraForMaskedLM, ElectraForPreTraining, RobertaForMaskedLM

    electra = read_bert_sizes(checkpoint("electra"))
    assert (electra.embedding_size, electra.hidden_size, electra.model_type) == (16, 32, "electra")
    distil = read_bert_sizes(checkpoint("distilbert"))
    assert (distil.hidden_size, distil.num_hidden_layers, distil.intermediate_size, distil.type_vocab_size) == (
        32,
        2,
        64,
        0,
    )
    roberta = read_bert_sizes(checkpoint("roberta"))
    assert (roberta.max_position_embeddings, roberta.type_vocab_size) == (128, 1)  # 130 rows, 2 before position 0

    model, _, _ = build_bnb(checkpoint("electra"))
    hf = ElectraForPreTraining.from_pretrained(checkpoint("electra"))
    for side in (model.encoder, model.decoder):
        assert torch.equal(side.embeddings.embeddings_project.weight, hf.electra.embeddings_project.weight)
        assert side.embeddings.word_embeddings.weight.shape[1] == 16
    assert model.decoder.lm_head.dense.weight.shape == (16, 32)  # maps down to the tied embeddings' width
    assert model.encoder.embeddings.token_type_embeddings is not None and model.encoder.segments

    # the MLM heads (distilbert's vocab_*, roberta's lm_head.*, an ELECTRA generator's, which maps the
    # hidden states down to the narrow embeddings) give transformers' own MLM logits
    generator = tmp_path / "electra-generator"
    shutil.copytree(checkpoint("electra"), generator)
    torch.manual_seed(5)
    ElectraForMaskedLM(ElectraForMaskedLM.config_class.from_pretrained(generator)).save_pretrained(generator)
    for path, head_class in (
        (checkpoint("distilbert"), DistilBertForMaskedLM),
        (checkpoint("roberta"), RobertaForMaskedLM),
        (str(generator), ElectraForMaskedLM),
    ):
        model, src, _ = build_bnb(path)
        hf = head_class.from_pretrained(path).eval()
        ids = torch.tensor([[src.bos(), 40, 41, 42, src.eos()]])
        with torch.no_grad():
            out = hf(input_ids=ids, output_hidden_states=True)
            ours = model.decoder.lm_head(out.hidden_states[-1], model.decoder.embeddings.word_embeddings.weight)
        assert (ours - out.logits).abs().max() < 1e-4
    roberta_model, _, _ = build_bnb(checkpoint("roberta"))
    assert roberta_model.encoder.embeddings.token_type_embeddings.weight.shape[0] == 1
    assert not roberta_model.encoder.segments  # one token type: 'A </s> B' sources get no segment ids
    distil_model, _, _ = build_bnb(checkpoint("distilbert"))
    assert distil_model.encoder.embeddings.token_type_embeddings is None and not distil_model.encoder.segments


def test_albert_and_modernbert_layers(checkpoint, tmp_path):
    """ALBERT holds its shared layer once and applies it N times (grouped layers too); ModernBERT's local
    window is exercised by the parity sentences; the first N layers of each equal transformers' N-layer
    model; both MLM heads give transformers' MLM logits."""
    import transformers as hf

    from bnb_fairseq.modules import LayerVariant

    albert, src, _ = build_bnb(checkpoint("albert"))
    assert albert.encoder.encoder.order == [0, 0, 0] and len(albert.encoder.encoder.layer) == 1
    assert torch.equal(
        albert.encoder.embeddings.embeddings_project.weight,
        hf.AlbertModel.from_pretrained(checkpoint("albert")).encoder.embedding_hidden_mapping_in.weight,
    )
    modern, _, _ = build_bnb(checkpoint("modernbert"))
    variant = LayerVariant.from_json(modern.cfg.encoder_layer_variant)
    assert variant.attention_windows == (0, 2, 2) and variant.rotary_thetas == (160000.0, 10000.0, 10000.0)
    assert modern.encoder.embeddings.position_embeddings is None and modern.encoder.embeddings.LayerNorm.bias is None
    # config.json as the Hub's ModernBERT checkpoints have it (transformers 4.x keys): the same layers
    hub_style = tmp_path / "modernbert-hub-config"
    shutil.copytree(checkpoint("modernbert"), hub_style)
    cfg = json.loads((hub_style / "config.json").read_text())
    del cfg["layer_types"], cfg["rope_parameters"]
    cfg.update(global_attn_every_n_layers=3, global_rope_theta=160000.0, local_rope_theta=10000.0)
    (hub_style / "config.json").write_text(json.dumps(cfg))
    assert read_bert_sizes(str(hub_style)).layer_variant == modern.cfg.encoder_layer_variant
    from bnb_fairseq.tools.export_hf import ExportError, bert_config

    for model in (albert, modern):  # a BERT directory cannot hold their layers: one message
        with pytest.raises(ExportError, match="layers are not BERT's"):
            bert_config(model.cfg, len(src), src.pad())

    def parity(path, base_class, encoder_layers=None, **config):
        """max |ours - transformers| of the last hidden states on a padded batch."""
        tok = hf.AutoTokenizer.from_pretrained(path)
        model, _, _ = build_bnb(path, encoder_layers=encoder_layers)
        theirs = base_class.from_pretrained(path, **config).eval()
        batch = tok([en for _, en in PAIRS["test"][:3]] + ["And God said"], padding=True, return_tensors="pt")
        with torch.no_grad():
            ours = model.encoder(batch["input_ids"])["encoder_out"][0]
            ref = theirs(**{k: batch[k] for k in ("input_ids", "attention_mask")}).last_hidden_state
        real = batch["attention_mask"].bool()
        return (ours - ref).abs()[real].max().item(), model

    # the first N layers: N applications of ALBERT's shared layer; ModernBERT's first N layers, then its final norm
    assert parity(checkpoint("albert"), hf.AlbertModel, 2, num_hidden_layers=2)[0] < 1e-5
    assert parity(checkpoint("modernbert"), hf.ModernBertModel, 2, num_hidden_layers=2)[0] < 1e-5
    # without its local window, ModernBERT's output changes: the window is in play in the parity test
    no_window = tmp_path / "modernbert-global"
    shutil.copytree(checkpoint("modernbert"), no_window)
    cfg = json.loads((no_window / "config.json").read_text())
    (no_window / "config.json").write_text(json.dumps({**cfg, "local_attention": 1000}))
    tok = hf.AutoTokenizer.from_pretrained(checkpoint("modernbert"))
    ids = tok([PAIRS["test"][0][1]], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        windowed = modern.encoder(ids)["encoder_out"][0]
        wide = build_bnb(str(no_window))[0].encoder(ids)["encoder_out"][0]
    assert ids.size(1) > 8 and (windowed - wide).abs().max() > 1e-3

    # ALBERT with two groups of two layers applied over 4 depths: 4 distinct layers, 8 applied
    grouped = tmp_path / "albert-grouped"
    shutil.copytree(checkpoint("albert"), grouped)
    torch.manual_seed(7)
    config = hf.AlbertConfig.from_pretrained(grouped)
    config.update(dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2))
    hf.AlbertModel(config).save_pretrained(grouped)
    diff, model = parity(str(grouped), hf.AlbertModel, 8)
    assert diff < 1e-5
    assert model.encoder.encoder.order == [0, 1, 0, 1, 2, 3, 2, 3] and len(model.encoder.encoder.layer) == 4

    for path, head_class in (
        (checkpoint("albert"), hf.AlbertForMaskedLM),
        (checkpoint("modernbert"), hf.ModernBertForMaskedLM),
    ):
        model, src, _ = build_bnb(path)
        ref = head_class.from_pretrained(path).eval()
        ids = torch.tensor([[src.bos(), 40, 41, 42, src.eos()]])
        with torch.no_grad():
            out = ref(input_ids=ids, output_hidden_states=True)
            last = out.hidden_states[-1]
            if head_class is hf.ModernBertForMaskedLM:  # its hidden_states stop before the final norm
                last = ref.model.final_norm(last)
            ours = model.decoder.lm_head(last, model.decoder.embeddings.word_embeddings.weight)
        assert (ours - out.logits).abs().max() < 1e-4, path


def test_modernbert_decoder_caches_rotary_and_windowed_steps(checkpoint):
    """A bert2bert decoder from ModernBERT (rotary positions, local window, pre-norm): cached incremental
    decoding equals the full causal pass, so the cache carries positions and the window."""
    model, src, tgt = build_bnb(checkpoint("modernbert"), arch="bert2bert")
    torch.manual_seed(0)
    src_tokens = torch.randint(10, 200, (2, 9))
    src_tokens[:, 0], src_tokens[:, -1] = src.bos(), src.eos()
    enc = model.encoder(src_tokens)
    prev = torch.randint(10, 200, (2, 10))
    prev[:, 0] = tgt.bos()
    full = model.get_normalized_probs(model.decoder(prev, encoder_out=enc), log_probs=True)
    state, steps = {}, []
    for t in range(1, prev.size(1) + 1):
        steps.append(
            model.get_normalized_probs(
                model.decoder(prev[:, :t], encoder_out=enc, incremental_state=state), log_probs=True
            )
        )
    assert (torch.cat(steps, 1) - full).abs().max() < 1e-5
    # a later token does not change earlier outputs (causal), and windowed layers do not see far back
    changed = prev.clone()
    changed[:, 6:] = 300
    again = model.get_normalized_probs(model.decoder(changed, encoder_out=enc), log_probs=True)
    assert torch.allclose(again[:, :6], full[:, :6], atol=1e-5) and not torch.allclose(again[:, 6:], full[:, 6:])


def test_unsupported_model_type_lists_the_supported(checkpoint, tmp_path):
    bad = tmp_path / "gpt2"
    shutil.copytree(checkpoint("bert-cased"), bad)
    cfg = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2"}))
    with pytest.raises(BertCheckpointError) as err:
        read_bert_sizes(str(bad))
    msg = str(err.value)
    assert "'gpt2' is not supported" in msg and str(bad / "config.json") in msg
    supported = {"albert", "bert", "distilbert", "electra", "mobilebert", "modernbert", "roberta", "xlm-roberta"}
    assert set(SUPPORTED_MODEL_TYPES) == supported
    assert f"supported model types: {', '.join(sorted(supported))}" in msg


def train_one_step(model, src, tgt, arch):
    """One training step's backward pass on a 2-sentence batch (CTC for bnb, cross-entropy for bert2bert):
    the names of the parameters it gave a gradient."""
    from bnb_fairseq.criterions.bnb_ctc import ctc_and_kl

    model.train()
    src_tok = torch.tensor(
        [[src.bos(), 30, 31, 32, 33, src.eos()], [src.bos(), 34, 35, src.eos(), src.pad(), src.pad()]]
    )
    target = torch.tensor([[tgt.bos(), 50, 51, tgt.eos()], [tgt.bos(), 52, tgt.eos(), tgt.pad()]])
    prev = torch.cat([target.new_full((2, 1), tgt.eos()), target[:, :-1]], 1)
    logits, extra = model(src_tok, torch.tensor([6, 4]), prev)
    if arch == "bnb":
        lprobs = torch.log_softmax(logits, -1)
        lengths = target.ne(tgt.pad()).sum(1)
        loss = ctc_and_kl(lprobs, extra["padding_mask"], target, lengths, model.decoder.blank_slot)[0]
    else:
        gold = model.get_targets({"target": target}, None)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), gold, ignore_index=tgt.pad())
    assert torch.isfinite(loss)
    loss.backward()
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.mark.parametrize("arch", ["bnb", "bert2bert"])
def test_mixed_families_and_widths_train_a_step(checkpoint, arch):
    """A 48-wide XLM-R encoder with a narrow-embedding ELECTRA decoder (and DistilBERT, without token types):
    one training step reaches every pre-trained part."""
    for dec in ("electra", "distilbert"):
        model, src, tgt = build_bnb(checkpoint("xlm-roberta"), checkpoint(dec), arch=arch)
        grads = train_one_step(model, src, tgt, arch)
        assert "encoder.embeddings.word_embeddings.weight" in grads
        if dec == "electra":
            assert "decoder.embeddings.embeddings_project.weight" in grads
        if arch == "bnb" and dec == "electra":
            assert "decoder.slot_to_embedding.weight" in grads


def test_roberta_blank_is_its_pad(checkpoint):
    """The default --ctc-blank [PAD] means RoBERTa's <pad>; [MASK] its <mask>."""
    from bnb_fairseq.models.bnb import check_ctc_blank

    d = BertDictionary.load(checkpoint("roberta"))
    assert check_ctc_blank(d, "[PAD]") == d.pad() == 1
    assert check_ctc_blank(d, "[MASK]") == d.mask()


# --- 2. through the CLIs: binarize -> fairseq-train -> fairseq-generate ---


def run_pipeline(work, enc, dec=None, extra_train=()):
    """Binarize the short demo verses with the checkpoints' tokenizers, train a few updates, generate the test split."""
    raw = work / "raw"
    raw.mkdir()
    for split, pairs in PAIRS.items():
        write_lines(raw / f"{split}.es", [es for es, _ in pairs])
        write_lines(raw / f"{split}.en", [en for _, en in pairs])
    binarize = run_cli(
        [
            sys.executable,
            os.path.join(ROOT, "preprocess", "binarize.py"),
            "--bert",
            enc,
            *(["--target-bert", dec] if dec else []),
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
            "128",
            "--quiet",
        ]
    )
    assert "truncated" not in binarize.stderr.replace("0 truncated", "")
    train = run_cli(
        [
            "fairseq-train",
            str(work / "bin"),
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
            enc,
            *(["--decoder-bert-checkpoint", dec] if dec else []),
            "--criterion",
            "bnb_ctc",
            "--optimizer",
            "adam",
            "--lr",
            "1e-3",
            "--batch-size",
            "8",
            "--max-update",
            "3",
            "--save-dir",
            str(work / "ckpt"),
            "--no-epoch-checkpoints",
            "--num-workers",
            "0",
            "--seed",
            "1",
            "--log-format",
            "simple",
            "--log-interval",
            "1",
            *extra_train,
        ]
    )
    generate = run_cli(
        [
            "fairseq-generate",
            str(work / "bin"),
            "--user-dir",
            "bnb_fairseq",
            "--task",
            "bnb_seq2seq",
            "-s",
            "es",
            "-t",
            "en",
            "--path",
            str(work / "ckpt" / "checkpoint_last.pt"),
            "--gen-subset",
            "test",
            "--batch-size",
            "3",
            "--bpe",
            "bert_wordpiece",
            "--num-workers",
            "0",
        ]
    )
    lines = {
        kind: {int(i): text for i, text in re.findall(rf"^{kind}-(\d+)\t(?:\S+\t)?(.*)$", generate.stdout, re.M)}
        for kind in ("T", "D")
    }
    return binarize.stderr, train.stdout + train.stderr, lines, work


EVAL_BLEU = ("--eval-bleu", "--eval-bleu-print-samples")


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory, checkpoint):
    """The three pipelines below, run side by side (each command line on one thread): {name: run_pipeline's}."""
    runs = {  # name: (work, encoder, decoder, extra_train)
        "roberta": (tmp_path_factory.mktemp("roberta_run"), checkpoint("roberta"), None, ()),
        # XLM-R (SentencePiece, 48 wide) encoder, cased BERT (WordPiece, 32 wide) decoder, with --eval-bleu
        "mixed": (
            tmp_path_factory.mktemp("mixed_run"),
            checkpoint("xlm-roberta"),
            checkpoint("bert-cased"),
            ["--eval-bleu", "--eval-bleu-print-samples"],
        ),
        # the two remaining families: an ELECTRA encoder with a DistilBERT decoder
        "electra": (tmp_path_factory.mktemp("electra_run"), checkpoint("electra"), checkpoint("distilbert"), ()),
        # ALBERT and ModernBERT alone (both roles), and a ModernBERT encoder with a BERT decoder
        "albert": (tmp_path_factory.mktemp("albert_run"), checkpoint("albert"), None, EVAL_BLEU),
        "modernbert": (tmp_path_factory.mktemp("modernbert_run"), checkpoint("modernbert"), None, EVAL_BLEU),
        "modernbert-bert": (
            tmp_path_factory.mktemp("modernbert_bert_run"),
            checkpoint("modernbert"),
            checkpoint("bert-cased"),
            (),
        ),
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(runs)) as pool:
        futures = {
            name: pool.submit(run_pipeline, work, enc, dec, extra_train=extra)
            for name, (work, enc, dec, extra) in runs.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def roberta_run(pipelines):
    return pipelines["roberta"]


@pytest.fixture(scope="module")
def mixed_run(pipelines):
    """XLM-R (SentencePiece, 48 wide) encoder, cased BERT (WordPiece, 32 wide) decoder, with --eval-bleu."""
    return pipelines["mixed"][3], pipelines["mixed"]


@pytest.mark.slow
def test_roberta_pipeline_answers_every_line(roberta_run):
    binarize_log, train_log, lines, _ = roberta_run
    assert "en: roberta checkpoint, cased BPE tokenizer" in binarize_log
    assert "num_updates 3" in train_log or "num_updates=3" in train_log, train_log[-2000:]
    assert sorted(lines["D"]) == list(range(N_TEST))
    # byte-level BPE is lossless: raw text -> binarized ids -> the target tokenizer's decoder gives it back
    refs = [en for _, en in PAIRS["test"]]
    assert [lines["T"][i] for i in range(N_TEST)] == refs
    assert not any("Ġ" in d for d in lines["D"].values())


@pytest.mark.slow
def test_mixed_pair_trains_and_keeps_case(mixed_run):
    """Encoder and decoder of different families, vocabularies, special ids and widths; the cased
    WordPiece target keeps its case from the raw text through binarization and detokenization."""
    work, (binarize_log, train_log, lines, _) = mixed_run
    assert "es: xlm-roberta checkpoint, cased Unigram tokenizer" in binarize_log
    assert "en: bert checkpoint, cased WordPiece tokenizer" in binarize_log
    assert sorted(lines["D"]) == list(range(N_TEST))
    refs = [en for _, en in PAIRS["test"]]
    assert any(c.isupper() for r in refs for c in r)
    nospace = lambda s: "".join(s.split())  # noqa: E731  (WordPiece decoding re-spaces punctuation)
    assert [nospace(lines["T"][i]) for i in range(N_TEST)] == [nospace(r) for r in refs]
    assert not any("##" in d for d in lines["D"].values())
    # --eval-bleu detokenizes with the target's decoder and keeps its case
    samples = re.findall(r"example reference: (.*)", train_log)
    assert samples and nospace(samples[-1]) in {nospace(en) for _, en in PAIRS["valid"]}, train_log[-3000:]


@pytest.mark.slow
def test_mixed_pair_batches_use_each_sides_specials(mixed_run, checkpoint):
    """XLM-R pads with 1, BERT with 0: targets are padded with the target's own pad, and --eval-bleu
    scores case-sensitively for a cased target tokenizer (lowercased for an uncased one)."""
    from fairseq import tasks

    work, _ = mixed_run
    cfg = train_cfg(
        [
            str(work / "bin"),
            "--user-dir",
            os.path.join(ROOT, "bnb_fairseq"),
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
        ]
    )
    task = tasks.setup_task(cfg.task)
    assert (task.src_dict.pad(), task.tgt_dict.pad()) == (1, 0)
    task.load_dataset("valid")
    ds = task.dataset("valid")
    batch = ds.collater([ds[i] for i in range(N_VALID)])
    target = batch["target"]
    lengths = [len(ds[i]["target"]) for i in range(N_VALID)]
    assert batch["ntokens"] == sum(lengths)
    assert sorted(target.ne(0).sum(1).tolist()) == sorted(lengths)  # padded with BERT's [PAD] (0) only
    assert batch["net_input"]["src_tokens"][:, 0].eq(task.src_dict.bos()).all()
    assert task.target_text_decoder().lowercase is False
    assert TextDecoder.of(load_tokenizer(checkpoint("electra"))).lowercase is True  # an uncased tokenizer config


@pytest.mark.slow
def test_roberta_hub_encodes_as_binarize_and_decodes_losslessly(roberta_run):
    """Raw text through the Python API (the path of fairseq-interactive): the source tokenizer gives the
    binarized ids, the byte-level decoder gives the text back, every input gets an output."""
    from fairseq.data import data_utils

    from bnb_fairseq.models.bnb import BnbModel

    work = roberta_run[3]
    hub = BnbModel.from_pretrained(
        str(work / "ckpt"), checkpoint_file="checkpoint_last.pt", data_name_or_path=str(work / "bin")
    )
    binarized = data_utils.load_indexed_dataset(str(work / "bin" / "test.es-en.es"), None, "mmap")
    for i, (es, _) in enumerate(PAIRS["test"][:3]):
        ids = hub.encode(es)
        assert [hub.task.source_dictionary.bos()] + ids.tolist() == binarized[i].tolist()
        assert hub.decode(ids) == es
    outputs = hub.translate([es for es, _ in PAIRS["test"][:2]] + [""])
    assert len(outputs) == 3 and all(isinstance(o, str) and "Ġ" not in o for o in outputs)


@pytest.mark.slow
def test_electra_encoder_distilbert_decoder_pipeline(pipelines):
    """The two remaining families through binarize -> fairseq-train -> fairseq-generate: an ELECTRA
    encoder (16-wide embeddings projected to 32) with a DistilBERT decoder (no token types)."""
    binarize_log, train_log, lines, _ = pipelines["electra"]
    assert "es: electra checkpoint, uncased" in binarize_log and "en: distilbert checkpoint, uncased" in binarize_log
    assert "num_updates 3" in train_log or "num_updates=3" in train_log, train_log[-2000:]
    assert sorted(lines["D"]) == sorted(lines["T"]) == list(range(N_TEST))
    # an uncased WordPiece target: the references come back lowercased, word for word
    refs = [en for _, en in PAIRS["test"]]
    assert [lines["T"][i].split()[0] for i in range(N_TEST)] == [r.lower().split()[0] for r in refs]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["albert", "modernbert", "modernbert-bert"])
def test_albert_and_modernbert_pipelines_answer_every_line(pipelines, name):
    """binarize -> fairseq-train -> fairseq-generate with ALBERT alone, ModernBERT alone and a ModernBERT
    encoder with a BERT decoder; then the Python API translates raw text (an empty line included)."""
    from bnb_fairseq.models.bnb import BnbModel

    binarize_log, train_log, lines, work = pipelines[name]
    source_family, target_family = {
        "albert": ("albert", "albert"),
        "modernbert": ("modernbert", "modernbert"),
        "modernbert-bert": ("modernbert", "bert"),
    }[name]
    assert f"es: {source_family} checkpoint" in binarize_log and f"en: {target_family} checkpoint" in binarize_log
    assert "num_updates 3" in train_log or "num_updates=3" in train_log, train_log[-2000:]
    assert sorted(lines["D"]) == sorted(lines["T"]) == list(range(N_TEST))
    refs = [en for _, en in PAIRS["test"]]
    nospace = lambda s: "".join(s.split())  # noqa: E731
    # each target tokenizer's own decoder gives the reference text back (ALBERT's SentencePiece, the BPE)
    assert [nospace(lines["T"][i]) for i in range(N_TEST)] == [nospace(r) for r in refs]
    assert not any(marker in d for d in lines["D"].values() for marker in ("Ġ", "▁", "##"))
    if name != "modernbert-bert":  # --eval-bleu detokenized the valid references with the target's tokenizer
        samples = re.findall(r"example reference: (.*)", train_log)
        assert samples and nospace(samples[-1]) in {nospace(en) for _, en in PAIRS["valid"]}, train_log[-3000:]
    hub = BnbModel.from_pretrained(
        str(work / "ckpt"), checkpoint_file="checkpoint_last.pt", data_name_or_path=str(work / "bin")
    )
    outputs = hub.translate([es for es, _ in PAIRS["test"][:2]] + [""])
    assert len(outputs) == 3 and all(isinstance(o, str) for o in outputs)


def test_every_tool_scores_the_d_lines_of_a_roberta_target(roberta_run, tmp_path, capsys):
    """The tools' BLEU equals sacreBLEU on fairseq-generate's D- lines for a byte-level BPE (RoBERTa) target: they
    decode through the task's generator and detokenize with the target tokenizer's own decoder. Scored against
    the D- lines themselves, a tool that detokenizes differently (WordPiece's decoder leaves 'Ġ') falls below 100."""
    from sacrebleu.metrics import BLEU

    from bnb_fairseq.tools import benchmark, decode_score, learning_curve, tune_blank_penalty
    from bnb_fairseq.tools.distill import valid_bleu

    _, _, lines, work = roberta_run
    ckpt, data = str(work / "ckpt" / "checkpoint_last.pt"), str(work / "bin")
    valid = run_cli(
        [
            "fairseq-generate",
            data,
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
            "valid",
            "--batch-size",
            "3",
            "--bpe",
            "bert_wordpiece",
            "--num-workers",
            "0",
        ]
    )
    d_lines = {
        "test": [lines["D"][i] for i in range(N_TEST)],
        "valid": [t for _, t in sorted(detokenized_outputs(valid.stdout).items())],
    }
    assert len(d_lines["valid"]) == N_VALID
    assert sum(len(d.split()) for d in d_lines["test"]) >= 4, d_lines  # something to score
    references = {}
    for split in ("test", "valid"):
        write_lines(tmp_path / f"{split}.d", d_lines[split])
        write_lines(tmp_path / f"{split}.ref", [en for _, en in PAIRS[split]])
        for kind in ("d", "ref"):
            refs = (tmp_path / f"{split}.{kind}").read_text(encoding="utf-8").splitlines()
            expected = round(BLEU(lowercase=False).corpus_score(d_lines[split], [refs]).score, 2)
            references[split, kind] = (str(tmp_path / f"{split}.{kind}"), expected)
    assert references["test", "d"][1] == 100.0 and references["test", "ref"][1] < 100.0

    for kind in ("d", "ref"):
        path, expected = references["test", kind]
        assert learning_curve.decode(ckpt, data, "test", path, False, 4096)["bleu"] == expected
        rows = benchmark.main(
            [
                "--data",
                data,
                "-s",
                "es",
                "-t",
                "en",
                "--nar",
                f"m={ckpt}",
                "--reference",
                path,
                "--out",
                str(tmp_path / f"bench-{kind}"),
                "--fast",
                "--no-cmlm",
            ]
        )
        assert rows[0]["kind"] == "bnb-ctc-greedy" and rows[0]["bleu"] == expected
        path, expected = references["valid", kind]
        tune_blank_penalty.main([ckpt, data, "--subset", "valid", "--reference", path, "--candidates", "0"])
        assert f"blank penalty 0: valid BLEU {expected}," in capsys.readouterr().err
        loaded = decode_score.load(ckpt, data, "valid")
        args = argparse.Namespace(valid_subset="valid", cased=False, batch_size=4, valid_reference=path)
        assert (
            valid_bleu(args, loaded.task, decode_score.build_generator(loaded), loaded.models, False)["bleu"]
            == expected
        )
