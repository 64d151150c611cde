"""WordPiece tokenizers for BERT checkpoint directories (fast, from the tokenizers library)."""
import os

from bnb_fairseq.bert.checkpoint import BertCheckpointError
from bnb_fairseq.bert.dictionary import BertDictionary


def load_wordpiece_tokenizer(path, what="--bert"):
    """``BertTokenizerFast`` of a checkpoint directory, checked against its vocab.txt.

    transformers 5 builds a 5-entry vocabulary from ``BertTokenizerFast(vocab_file=...)`` without
    complaint, turning every word into [UNK]; ``from_pretrained`` reads the directory properly, and
    the size check below makes any such failure loud.
    """
    from transformers import BertTokenizerFast

    vocab_file = os.path.join(path, "vocab.txt") if path else None
    if not path or not os.path.isdir(path) or not os.path.isfile(vocab_file):
        raise BertCheckpointError(
            f"{what} {path!r}: not a directory with a vocab.txt; give a local BERT checkpoint directory"
        )
    tok = BertTokenizerFast.from_pretrained(path)
    n_vocab = len(BertDictionary.load(vocab_file))
    if len(tok) != n_vocab:
        raise BertCheckpointError(
            f"{what} {path}: the tokenizer has {len(tok)} entries but vocab.txt has {n_vocab}"
        )
    return tok


def wordpiece_decoder():
    """Joins ``##`` continuations and tidies spaces before punctuation (tokenizers' own decoder)."""
    from tokenizers import decoders

    return decoders.WordPiece(prefix="##", cleanup=True)
