"""Export the BERT encoder of a bnb (or bert2bert) checkpoint as a Hugging Face BERT directory.

  python -m bnb_fairseq.tools.export_hf CHECKPOINT OUT [--tokenizer DIR] [--pooler-from BERT_DIR | --no-pooler]

OUT receives ``config.json``, ``model.safetensors`` (``BertModel`` parameter names), ``vocab.txt``
and the tokenizer files, and ``bnb_export.json`` (where it came from), so that
``BertModel.from_pretrained(OUT)`` and ``BertForSequenceClassification.from_pretrained(OUT)`` load
it, e.g. for GLUE (examples/glue.sh). The plugin's encoder already uses BERT's layout and names, so
the weights are copied as they are; the encoder's layer count, widths, dropout and positions become
the config.

* Tokenizer: ``--tokenizer DIR``, else the ``tokenizer.<source lang>`` folder that binarize.py wrote
  into the checkpoint's data directory, else the model's ``--bert-checkpoint``.
* Pooler: BnB never trains BERT's pooler (the dense layer over [CLS] that sequence classifiers
  read). It is copied from ``--pooler-from`` or, by default, from the model's ``--bert-checkpoint``
  when that directory is still there and has one; otherwise (or with ``--no-pooler``) transformers
  initialises it at random when loading, and says so.

Before the directory is moved into place, transformers' BertModel and the plugin's encoder encode
the same batch (a sentence pair with segment ids and a padded single sentence); the export fails if
their hidden states differ by more than --tolerance.
"""

import argparse
import json
import os
import shutil
import sys

import torch

PREFIX = "encoder."  # the encoder's parameters in a bnb/bert2bert state dict
PROBE = [
    ("who built the observatory ?", "the copper bell observatory was built in 1891 by mira castell ."),
    ("a short single sentence .", None),
]


class ExportError(Exception):
    """A checkpoint or option that cannot be exported: one message, exit status 1."""


def encoder_state(model_state, checkpoint):
    state = {k[len(PREFIX) :]: v for k, v in model_state.items() if k.startswith(PREFIX)}
    if not state:
        raise ExportError(f"{checkpoint}: no encoder.* parameters; give a bnb or bert2bert checkpoint")
    return state


def bert_config(model_cfg, vocab_size, pad_id):
    from transformers import BertConfig

    if getattr(model_cfg, "encoder_layer_variant", ""):
        raise ExportError(
            f"this encoder's layers are not BERT's ({model_cfg.encoder_layer_variant}: an ALBERT, ModernBERT "
            "or MobileBERT encoder); a BERT directory cannot hold them"
        )
    if getattr(model_cfg, "encoder_embedding_size", 0):
        raise ExportError(
            "this encoder embeds in a narrower width and projects up (ELECTRA); a BERT directory "
            "cannot hold that projection"
        )
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=model_cfg.encoder_embed_dim,
        num_hidden_layers=model_cfg.encoder_layers,
        num_attention_heads=model_cfg.encoder_attention_heads,
        intermediate_size=model_cfg.encoder_ffn_embed_dim,
        hidden_act=model_cfg.encoder_activation,
        hidden_dropout_prob=model_cfg.dropout,
        attention_probs_dropout_prob=model_cfg.attention_dropout,
        max_position_embeddings=model_cfg.encoder_max_positions,
        type_vocab_size=model_cfg.encoder_type_vocab_size,
        layer_norm_eps=model_cfg.encoder_layer_norm_eps,
        pad_token_id=pad_id,
        architectures=["BertModel"],
    )


def check_names(state, config):
    """Our encoder's names must be exactly BertModel's (the pooler aside)."""
    from transformers import BertModel

    with torch.device("meta"):
        expected = {k: v.shape for k, v in BertModel(config, add_pooling_layer=False).state_dict().items()}
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k]))
    if missing or extra or wrong:
        raise ExportError(
            "the encoder does not have BERT's layout: "
            + "; ".join(
                f"{what}: {', '.join(names[:5])}" + (" ..." if len(names) > 5 else "")
                for what, names in (("missing", missing), ("not in BERT", extra), ("other shape", wrong))
                if names
            )
        )


def find_tokenizer(cfg, option):
    if option:
        return option
    data = getattr(cfg.task, "data", None)
    src = getattr(cfg.task, "source_lang", None)
    candidates = []
    if data and src:
        candidates.append(os.path.join(str(data).split(os.pathsep)[0], f"tokenizer.{src}"))
    if getattr(cfg.model, "bert_checkpoint", None):
        candidates.append(cfg.model.bert_checkpoint)
    for path in candidates:
        if os.path.isdir(path):
            return path
    raise ExportError(
        f"no tokenizer found (looked in {', '.join(candidates) or 'nothing'}): pass --tokenizer DIR, "
        "the data directory's tokenizer.<src> folder or the BERT checkpoint the model started from"
    )


def pooler_weights(cfg, pooler_from, no_pooler):
    """({pooler.dense.*: tensor}, where from) or ({}, why none)."""
    if no_pooler:
        return {}, "none (--no-pooler): transformers initialises it at random"
    from bnb_fairseq.bert.checkpoint import load_bert_weights

    source = pooler_from or getattr(cfg.model, "bert_checkpoint", None)
    if not source or not os.path.isdir(source):
        if pooler_from:
            raise ExportError(f"--pooler-from {pooler_from}: no such directory")
        return {}, f"none ({source} is not there): transformers initialises it at random"
    weights = load_bert_weights(source, "--pooler-from")
    pooler = {k: v for k, v in weights.items() if k.startswith("pooler.")}
    if not pooler:
        if pooler_from:
            raise ExportError(f"--pooler-from {pooler_from}: the checkpoint has no pooler.* weights")
        return {}, f"none ({source} has no pooler): transformers initialises it at random"
    return pooler, f"copied from {source} (BnB does not train it)"


def save_tokenizer(tokenizer_dir, out, vocab_size):
    from bnb_fairseq.bert.tokenizer import load_wordpiece_tokenizer

    tok = load_wordpiece_tokenizer(tokenizer_dir, what="--tokenizer")
    if len(tok) != vocab_size:
        raise ExportError(
            f"--tokenizer {tokenizer_dir} has {len(tok)} entries, the encoder's embeddings {vocab_size} "
            "rows: give the tokenizer the model was trained with"
        )
    tok.save_pretrained(out)
    vocab = os.path.join(tokenizer_dir, "vocab.txt")
    if os.path.isfile(vocab):  # transformers 5 writes tokenizer.json but no vocab.txt
        shutil.copy(vocab, os.path.join(out, "vocab.txt"))
    else:
        ids = tok.get_vocab()
        with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t, _ in sorted(ids.items(), key=lambda kv: kv[1]))
    return tok


def plugin_encoder(model_cfg, state, vocab_file):
    from bnb_fairseq.bert.dictionary import BertDictionary
    from bnb_fairseq.models.bert_seq2seq import BertEncoder

    encoder = BertEncoder(model_cfg, BertDictionary.load(vocab_file))
    encoder.load_state_dict(state)
    return encoder.eval()


def probe_batch(tok):
    """A sentence pair (segment ids 0 and 1) and a shorter single sentence, right-padded."""
    firsts = [a for a, _ in PROBE]
    seconds = [b for _, b in PROBE]
    rows = [tok(a, b)["input_ids"] if b else tok(a)["input_ids"] for a, b in zip(firsts, seconds)]
    batch = torch.full((len(rows), max(map(len, rows))), tok.pad_token_id, dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, : len(r)] = torch.tensor(r)
    types = torch.zeros_like(batch)
    for i, (a, b) in enumerate(zip(firsts, seconds)):
        if b:
            types[i] = torch.tensor(tok(a, b, padding="max_length", max_length=batch.size(1))["token_type_ids"])
    return batch, types


def parity(out, model_cfg, state, tok):
    """Largest |difference| of the hidden states of the real tokens, plugin encoder vs HF BertModel."""
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its load report would list the pooler this check leaves out
    try:
        hf = BertModel.from_pretrained(out, add_pooling_layer=False).eval()
    finally:
        hf_logging.set_verbosity(level)
    ours = plugin_encoder(model_cfg, state, os.path.join(out, "vocab.txt"))
    tokens, types = probe_batch(tok)
    mask = tokens.ne(tok.pad_token_id)
    with torch.no_grad():
        ref = hf(input_ids=tokens, attention_mask=mask.long(), token_type_ids=types).last_hidden_state
        got = ours(tokens)["encoder_out"][0]
    return (ref - got).abs()[mask].max().item()


def export(checkpoint, out, tokenizer=None, pooler_from=None, no_pooler=False, tolerance=1e-4):
    from fairseq import checkpoint_utils
    from safetensors.torch import save_file

    import bnb_fairseq  # noqa: F401  (registers the models, so the checkpoint's config loads)

    if not os.path.isfile(checkpoint):
        raise ExportError(f"{checkpoint}: no such checkpoint")
    if os.path.exists(out):
        raise ExportError(f"{out} exists; give a new directory")
    ckpt = checkpoint_utils.load_checkpoint_to_cpu(checkpoint)
    cfg = ckpt["cfg"]
    state = {k: v.float().contiguous() for k, v in encoder_state(ckpt["model"], checkpoint).items()}
    vocab_size, _ = state["embeddings.word_embeddings.weight"].shape
    stage = out.rstrip("/") + ".partial"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    try:
        tok = save_tokenizer(find_tokenizer(cfg, tokenizer), stage, vocab_size)
        config = bert_config(cfg.model, vocab_size, tok.pad_token_id)
        check_names(state, config)
        pooler, pooler_note = pooler_weights(cfg, pooler_from, no_pooler)
        config.save_pretrained(stage)
        save_file({**state, **pooler}, os.path.join(stage, "model.safetensors"), metadata={"format": "pt"})
        diff = parity(stage, cfg.model, state, tok)
        if not diff <= tolerance:
            raise ExportError(
                f"the exported encoder's hidden states differ from the plugin's by {diff:.2e} "
                f"(more than --tolerance {tolerance}): this encoder is not a plain BERT"
            )
        info = {
            "checkpoint": os.path.abspath(checkpoint),
            "arch": cfg.model.get("_name", None),
            "updates": ckpt.get("optimizer_history", [{}])[-1].get("num_updates"),
            "layers": cfg.model.encoder_layers,
            "pooler": pooler_note,
            "max_abs_difference": diff,
        }
        with open(os.path.join(stage, "bnb_export.json"), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=2)
        os.replace(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return info


def get_parser():
    p = argparse.ArgumentParser(
        prog="python -m bnb_fairseq.tools.export_hf",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", help="a bnb or bert2bert fairseq checkpoint")
    p.add_argument("out", help="directory to write (must not exist)")
    p.add_argument("--tokenizer", metavar="DIR", help="tokenizer directory (default: see above)")
    pooler = p.add_mutually_exclusive_group()
    pooler.add_argument("--pooler-from", metavar="BERT_DIR", help="BERT checkpoint to copy the pooler from")
    pooler.add_argument("--no-pooler", action="store_true", help="leave the pooler to transformers' initialisation")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest hidden-state difference accepted")
    return p


def main(argv=None):
    args = get_parser().parse_args(argv)
    try:
        info = export(args.checkpoint, args.out, args.tokenizer, args.pooler_from, args.no_pooler, args.tolerance)
    except (ExportError, ValueError, FileNotFoundError) as e:
        print(f"export_hf: error: {e}", file=sys.stderr)
        return 1
    print(
        f"| exported the {info['layers']}-layer encoder of {args.checkpoint} to {args.out}; "
        f"pooler: {info['pooler']}; "
        f"largest hidden-state difference to the plugin: {info['max_abs_difference']:.2e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
