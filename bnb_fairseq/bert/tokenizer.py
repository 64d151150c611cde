"""Tokenizers of BERT-family checkpoints: WordPiece (BERT, ELECTRA, DistilBERT, MobileBERT),
byte-level BPE (RoBERTa, ModernBERT) and SentencePiece (XLM-R, ALBERT), all as fast tokenizers of the
``tokenizers`` library.

Checkpoint directories may hold ``tokenizer.json`` + ``tokenizer_config.json`` (what transformers 5
writes, often without ``vocab.txt``) or the older files (vocab.txt, vocab.json + merges.txt, a
SentencePiece model); ``AutoTokenizer`` reads all of them, and the checks below make a wrong read loud.
"""

import json
import os

from bnb_fairseq.bert.checkpoint import VOCABULARY_FILES, BertCheckpointError


def load_tokenizer(path, what="--bert"):
    """The fast tokenizer of a checkpoint directory (or of a ``tokenizer.<lang>`` folder of a data
    directory), checked against the directory's vocab.txt when it has one.

    transformers 5 builds a 5-entry vocabulary from ``BertTokenizerFast(vocab_file=...)`` without
    complaint, turning every word into [UNK]; ``from_pretrained`` reads the directory properly, and
    the size check below makes any such failure loud.
    """
    if (
        not path
        or not os.path.isdir(path)
        or not any(os.path.isfile(os.path.join(path, name)) for name in VOCABULARY_FILES)
    ):
        raise BertCheckpointError(
            f"{what} {path!r}: not a directory with a tokenizer ({', '.join(VOCABULARY_FILES)}); give a local "
            "checkpoint directory of a BERT-family model"
        )
    has_config = any(os.path.isfile(os.path.join(path, name)) for name in ("tokenizer_config.json", "config.json"))
    if has_config:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(path)
        except (ImportError, ValueError, OSError) as e:
            hint = (
                "; a directory with only a SentencePiece model needs the protobuf package to convert it, or a "
                "tokenizer.json written by tokenizer.save_pretrained(DIR) on a machine that has it"
                if not os.path.isfile(os.path.join(path, "tokenizer.json"))
                else ""
            )
            raise BertCheckpointError(
                f"{what} {path}: transformers could not load its tokenizer "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}){hint}"
            ) from None
    else:  # a bare WordPiece vocab.txt (tokenizer folders of early data directories)
        from transformers import BertTokenizerFast

        tok = BertTokenizerFast.from_pretrained(path)
    if not getattr(tok, "is_fast", False) or getattr(tok, "backend_tokenizer", None) is None:
        raise BertCheckpointError(
            f"{what} {path}: {type(tok).__name__} is not a fast tokenizer; save the "
            "checkpoint's tokenizer with transformers' fast tokenizer (tokenizer.json)"
        )
    vocab_file = os.path.join(path, "vocab.txt")
    if os.path.isfile(vocab_file) and backend_model_type(tok) == "WordPiece":
        n_vocab = vocab_file_size(vocab_file)
        if len(tok) != n_vocab:
            raise BertCheckpointError(
                f"{what} {path}: the tokenizer has {len(tok)} entries but vocab.txt has {n_vocab}"
            )
    return tok


load_wordpiece_tokenizer = load_tokenizer  # the name of the WordPiece-only days


def vocab_file_size(vocab_file):
    """Entries of a vocab.txt, one a line (trailing empty lines do not count), as BertDictionary reads it."""
    with open(vocab_file, encoding="utf-8") as f:
        lines = [line.rstrip("\n").rstrip("\r") for line in f]
    while lines and lines[-1] == "":
        lines.pop()
    return len(lines)


def backend_json(part):
    """A tokenizers component (normalizer, decoder, model ...) as its JSON description."""
    return json.loads(part.__getstate__()) if part is not None else None


def backend_model_type(tok):
    """'WordPiece', 'BPE' or 'Unigram'."""
    return type(tok.backend_tokenizer.model).__name__


def lowercases(tok):
    """Whether the tokenizer lowercases its input (an uncased checkpoint), read from its normalizer, so
    casing follows the checkpoint's own tokenizer config."""

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Lowercase" or (node.get("type") == "BertNormalizer" and node.get("lowercase")):
                return True
            return any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return walk(backend_json(tok.backend_tokenizer.normalizer))


def wordpiece_decoder():
    """Joins ``##`` continuations and tidies spaces before punctuation (tokenizers' own decoder)."""
    from tokenizers import decoders

    return decoders.WordPiece(prefix="##", cleanup=True)


class TextDecoder:
    """Token strings -> text with the tokenizer's own decoder: WordPiece joins ``##`` pieces, byte-level
    BPE maps its byte symbols (``Ġ`` ...) back to UTF-8, SentencePiece turns ``▁`` into spaces. Case is
    kept as the tokens have it; ``lowercase`` says whether the tokenizer had lowercased the text."""

    def __init__(self, decoder, lowercase, is_word_start, continuation_prefix=None):
        self.decoder, self.lowercase, self.is_word_start = decoder, lowercase, is_word_start
        self.continuation_prefix = continuation_prefix  # WordPiece's "##"

    @classmethod
    def of(cls, tok, source="tokenizer"):
        decoder = tok.backend_tokenizer.decoder
        model = backend_json(tok.backend_tokenizer.model)
        wordpiece = model.get("type") == "WordPiece"
        if decoder is None:
            if not wordpiece:
                raise BertCheckpointError(
                    f"{source}: the tokenizer has no decoder, so its {model.get('type')} "
                    "pieces cannot be turned back into text"
                )
            decoder = wordpiece_decoder()
        if wordpiece:
            prefix = model.get("continuing_subword_prefix") or "##"
            return cls(decoder, lowercases(tok), lambda piece: not piece.startswith(prefix), prefix)
        return cls(decoder, lowercases(tok), lambda piece: piece.startswith(("Ġ", "▁")))

    @classmethod
    def from_directory(cls, path, what="tokenizer"):
        return cls.of(load_tokenizer(path, what), source=path)

    @classmethod
    def wordpiece(cls, lowercase):
        return cls(wordpiece_decoder(), lowercase, lambda piece: not piece.startswith("##"), "##")

    def decode(self, pieces):
        """Text of ``pieces``; an output that starts inside a word (a WordPiece continuation first, as when
        the piece before it was an [UNK] left out) starts with that piece's text, not with ``##``."""
        pieces = list(pieces)
        prefix = self.continuation_prefix
        if prefix and pieces and pieces[0].startswith(prefix) and len(pieces[0]) > len(prefix):
            pieces[0] = pieces[0][len(prefix) :]
        return self.decoder.decode(pieces).strip()
