"""Tokenizers of BERT-family checkpoints: WordPiece (BERT, ELECTRA, DistilBERT), byte-level BPE (RoBERTa)
and SentencePiece (XLM-R), all as fast tokenizers of the ``tokenizers`` library.

Checkpoint directories may hold ``tokenizer.json`` + ``tokenizer_config.json`` (what transformers 5
writes, often without ``vocab.txt``) or the older files (vocab.txt, vocab.json + merges.txt, a
SentencePiece model); ``AutoTokenizer`` reads all of them, and the checks below make a wrong read loud.
"""
import json
import os

from bnb_fairseq.bert.checkpoint import VOCABULARY_FILES, BertCheckpointError
from bnb_fairseq.bert.dictionary import BertDictionary


def load_tokenizer(path, what="--bert"):
    """The fast tokenizer of a checkpoint directory (or of a ``tokenizer.<lang>`` folder of a data
    directory), checked against the directory's vocab.txt when it has one.

    transformers 5 builds a 5-entry vocabulary from ``BertTokenizerFast(vocab_file=...)`` without
    complaint, turning every word into [UNK]; ``from_pretrained`` reads the directory properly, and
    the size check below makes any such failure loud.
    """
    if not path or not os.path.isdir(path) or not any(
            os.path.isfile(os.path.join(path, name)) for name in VOCABULARY_FILES):
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
            hint = ("; a directory with only a SentencePiece model needs the protobuf package to convert it, or a "
                    "tokenizer.json written by tokenizer.save_pretrained(DIR) on a machine that has it"
                    if not os.path.isfile(os.path.join(path, "tokenizer.json")) else "")
            raise BertCheckpointError(f"{what} {path}: transformers could not load its tokenizer "
                                      f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}){hint}") from None
    else:  # a bare WordPiece vocab.txt (tokenizer folders of early data directories)
        from transformers import BertTokenizerFast

        tok = BertTokenizerFast.from_pretrained(path)
    if not getattr(tok, "is_fast", False) or getattr(tok, "backend_tokenizer", None) is None:
        raise BertCheckpointError(f"{what} {path}: {type(tok).__name__} is not a fast tokenizer; save the "
                                  "checkpoint's tokenizer with transformers' fast tokenizer (tokenizer.json)")
    vocab_file = os.path.join(path, "vocab.txt")
    if os.path.isfile(vocab_file) and backend_model_type(tok) == "WordPiece":
        n_vocab = len(BertDictionary.load(vocab_file))
        if len(tok) != n_vocab:
            raise BertCheckpointError(
                f"{what} {path}: the tokenizer has {len(tok)} entries but vocab.txt has {n_vocab}"
            )
    return tok


load_wordpiece_tokenizer = load_tokenizer  # the name of the WordPiece-only days


def backend_json(part):
    """A tokenizers component (normalizer, decoder, model ...) as its JSON description."""
    return json.loads(part.__getstate__()) if part is not None else None


def backend_model_type(tok):
    """'WordPiece', 'BPE' or 'Unigram'."""
    return type(tok.backend_tokenizer.model).__name__


def tokenizer_vocabulary(tok, source):
    """Token strings by id, the tokenizer's added tokens (specials) included; ids must run 0..n-1."""
    vocab = tok.backend_tokenizer.get_vocab(with_added_tokens=True)
    tokens = [None] * len(vocab)
    for token, i in vocab.items():
        if not 0 <= i < len(tokens) or tokens[i] is not None:
            tokens = None
            break
        tokens[i] = token
    if tokens is None or any(t is None for t in tokens):
        raise BertCheckpointError(f"{source}: the tokenizer's ids do not run from 0 to {len(vocab) - 1} without "
                                  "gaps; its vocabulary cannot be a list of rows of the embedding matrix")
    return tokens


def tokenizer_specials(tok, source):
    """{role: token} of the tokens the tokenizer frames sentences with: [CLS]/<s> as bos, [SEP]/</s> as eos."""
    found = {"bos": tok.cls_token or tok.bos_token, "eos": tok.sep_token or tok.eos_token,
             "pad": tok.pad_token, "unk": tok.unk_token, "mask": tok.mask_token}
    missing = [role for role, token in found.items() if not token]
    if missing:
        raise BertCheckpointError(f"{source}: the tokenizer declares no {', '.join(missing)} token; a BERT-family "
                                  "tokenizer_config.json names cls/sep (or bos/eos), pad, unk and mask tokens")
    return {role: str(token) for role, token in found.items()}


def tokenizer_dictionary(tok, source):
    """The tokenizer's vocabulary as a BertDictionary, ids and specials kept exactly."""
    return BertDictionary(tokenizer_vocabulary(tok, source), source=source,
                          specials=tokenizer_specials(tok, source))


def checkpoint_dictionary(path, what="--bert-checkpoint"):
    """A checkpoint's vocabulary: its vocab.txt for WordPiece families (id i = line i), otherwise (and
    for directories without vocab.txt) its tokenizer's vocabulary."""
    from bnb_fairseq.bert.checkpoint import checkpoint_family

    vocab_file = os.path.join(path, "vocab.txt")
    has_config = os.path.isfile(os.path.join(path, "config.json"))
    if os.path.isfile(vocab_file) and (not has_config or checkpoint_family(path, what).wordpiece):
        return BertDictionary.load(vocab_file)
    tok = load_tokenizer(path, what)
    source = os.path.join(path, "tokenizer.json")
    return tokenizer_dictionary(tok, source if os.path.isfile(source) else path)


def check_tokenizer_matches(tok, dictionary, what):
    """The ids the tokenizer writes must be the dictionary's: same tokens, same specials."""
    theirs = tokenizer_dictionary(tok, what)
    diff = dictionary.first_difference(theirs)
    if diff is not None:
        i, ours, other = diff
        raise BertCheckpointError(f"{what}: the tokenizer's vocabulary ({len(theirs)} entries) differs from "
                                  f"{dictionary.source or 'the vocabulary'} ({len(dictionary)} entries) at id {i}: "
                                  f"{other!r} vs {ours!r}")
    wrong = [f"{role} {theirs.specials[role]!r} vs {dictionary.specials[role]!r}" for role in theirs.specials
             if theirs.specials[role] != dictionary.specials[role]]
    if wrong:
        raise BertCheckpointError(f"{what}: the tokenizer's special tokens differ from the vocabulary's: "
                                  + ", ".join(wrong))


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

    def __init__(self, decoder, lowercase, is_word_start):
        self.decoder, self.lowercase, self.is_word_start = decoder, lowercase, is_word_start

    @classmethod
    def of(cls, tok, source="tokenizer"):
        decoder = tok.backend_tokenizer.decoder
        model = backend_json(tok.backend_tokenizer.model)
        wordpiece = model.get("type") == "WordPiece"
        if decoder is None:
            if not wordpiece:
                raise BertCheckpointError(f"{source}: the tokenizer has no decoder, so its {model.get('type')} "
                                          "pieces cannot be turned back into text")
            decoder = wordpiece_decoder()
        if wordpiece:
            prefix = model.get("continuing_subword_prefix") or "##"
            return cls(decoder, lowercases(tok), lambda piece: not piece.startswith(prefix))
        return cls(decoder, lowercases(tok), lambda piece: piece.startswith(("Ġ", "▁")))

    @classmethod
    def from_directory(cls, path, what="tokenizer"):
        return cls.of(load_tokenizer(path, what), source=path)

    @classmethod
    def wordpiece(cls, lowercase):
        return cls(wordpiece_decoder(), lowercase, lambda piece: not piece.startswith("##"))

    def decode(self, pieces):
        return self.decoder.decode(list(pieces)).strip()
