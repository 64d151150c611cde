"""A fairseq Dictionary whose ids are exactly a BERT-family checkpoint's token ids."""

import json
import os
import re

from fairseq.data import Dictionary

from bnb_fairseq.bert.checkpoint import BertCheckpointError, checkpoint_family
from bnb_fairseq.bert.families import KNOWN_SPECIALS, ROLES, WORDPIECE_SPECIALS
from bnb_fairseq.bert.tokenizer import load_tokenizer

BERT_SPECIALS = WORDPIECE_SPECIALS  # the name older code imports


def specials_from_tokenizer_config(cfg):
    """{role: token} from a tokenizer_config.json (tokens may be strings or serialized AddedTokens);
    [CLS]/<s> plays bos and [SEP]/</s> eos, as the tokenizers themselves frame a sentence."""

    def token(*keys):
        for key in keys:
            value = cfg.get(key)
            if isinstance(value, dict):
                value = value.get("content")
            if value:
                return value
        return None

    found = {
        "bos": token("cls_token", "bos_token"),
        "eos": token("sep_token", "eos_token"),
        "pad": token("pad_token"),
        "unk": token("unk_token"),
        "mask": token("mask_token"),
    }
    return found if all(found.values()) else None


def sibling_tokenizer_specials(path):
    """The specials that the tokenizer folder binarize.py wrote beside ``DATA/dict.<lang>.txt`` declares."""
    m = re.fullmatch(r"dict\.(.+)\.txt", os.path.basename(path))
    cfg_file = m and os.path.join(os.path.dirname(path), f"tokenizer.{m.group(1)}", "tokenizer_config.json")
    if not cfg_file or not os.path.isfile(cfg_file):
        return None
    with open(cfg_file, encoding="utf-8") as f:
        return specials_from_tokenizer_config(json.load(f))


class BertDictionary(Dictionary):
    """Built from a vocabulary listed one token a line, so id i is line i.

    fairseq's own Dictionary prepends <s> <pad> </s> <unk>; here the checkpoint's own specials play
    bos/eos/pad/unk/mask at their own ids ([CLS] [SEP] [PAD] [UNK] [MASK] for WordPiece families,
    <s> </s> <pad> <unk> <mask> for RoBERTa and XLM-R), and nothing is added or reordered.
    ``specials`` ({role: token}) names them; by default the first known set fully present is used.
    """

    def __init__(self, tokens, source=None, specials=None):
        super().__init__(
            bos=WORDPIECE_SPECIALS["bos"],
            pad=WORDPIECE_SPECIALS["pad"],
            eos=WORDPIECE_SPECIALS["eos"],
            unk=WORDPIECE_SPECIALS["unk"],
        )
        self.symbols, self.count, self.indices = [], [], {}
        for token in tokens:
            # Keep duplicates as separate ids (ids must stay aligned with the embedding rows);
            # lookups resolve to the first occurrence, as BERT's tokenizer does.
            self.indices.setdefault(token, len(self.symbols))
            self.symbols.append(token)
            self.count.append(1)
        self.source = source
        if specials is None:
            specials = next((s for s in KNOWN_SPECIALS if all(t in self.indices for t in s.values())), None)
            if specials is None:
                missing = [s for s in WORDPIECE_SPECIALS.values() if s not in self.indices]
                raise ValueError(
                    f"{source or 'vocabulary'}: missing BERT special token(s) {', '.join(missing)} (and not all of "
                    f"RoBERTa's {' '.join(KNOWN_SPECIALS[1].values())} either); this does not look like the "
                    "vocabulary of a BERT-family checkpoint"
                )
        missing = [f"{role} {specials.get(role)!r}" for role in ROLES if specials.get(role) not in self.indices]
        if missing:
            raise ValueError(
                f"{source or 'vocabulary'}: the special token(s) {', '.join(missing)} are not in the vocabulary"
            )
        self.specials = {role: specials[role] for role in ROLES}
        self.bos_index, self.eos_index, self.pad_index, self.unk_index, self.mask_index = (
            self.indices[self.specials[role]] for role in ROLES
        )
        self.bos_word, self.eos_word, self.pad_word, self.unk_word = (
            self.specials[role] for role in ("bos", "eos", "pad", "unk")
        )
        self.nspecial = 0  # the specials live inside the vocabulary, not in a prefix

    def mask(self):
        return self.mask_index

    def special_token(self, role_or_token):
        """This vocabulary's token for a role given by its WordPiece name: ``[PAD]`` is ``<pad>`` in a
        RoBERTa vocabulary. Any other token is returned as it is."""
        for role, token in WORDPIECE_SPECIALS.items():
            if role_or_token == token and token not in self.indices:
                return self.specials[role]
        return role_or_token

    @classmethod
    def load(cls, f, specials=None):
        """Read a vocabulary listed one token a line (a WordPiece vocab.txt, the ``dict.<lang>.txt`` of a
        data directory), or the vocabulary of a checkpoint directory (its vocab.txt, else its tokenizer)."""
        if not isinstance(f, str):
            return cls([line.rstrip("\n") for line in f], specials=specials)
        if os.path.isdir(f):
            if not os.path.isfile(os.path.join(f, "vocab.txt")):
                return checkpoint_dictionary(f)
            f = os.path.join(f, "vocab.txt")
        if not os.path.isfile(f):
            raise FileNotFoundError(
                f"{f}: no such vocabulary file; give a BERT checkpoint directory with a vocab.txt "
                "(or a data directory written by preprocess/binarize.py)"
            )
        with open(f, encoding="utf-8") as fh:
            tokens = [line.rstrip("\n").rstrip("\r") for line in fh]
        while tokens and tokens[-1] == "":
            tokens.pop()
        if specials is None:
            own = sibling_tokenizer_specials(f)
            if own is not None and all(t in tokens for t in own.values()):
                specials = own
        return cls(tokens, source=f, specials=specials)

    def save(self, f):
        """Write one token a line, the vocab.txt format, so ``load`` gives the same ids back."""
        if isinstance(f, str):
            os.makedirs(os.path.dirname(os.path.abspath(f)), exist_ok=True)
            with open(f, "w", encoding="utf-8") as fh:
                return self.save(fh)
        for i, token in enumerate(self.symbols):
            if "\n" in token or "\r" in token or token != token.rstrip("\r\n"):
                raise ValueError(
                    f"{self.source or 'vocabulary'}: token {i} {token!r} holds a line break, which "
                    "a one-token-a-line vocabulary file cannot store"
                )
            print(token, file=f)

    def same_vocabulary(self, other):
        return self.symbols == other.symbols

    def first_difference(self, other):
        """(id, our token, their token) of the first mismatch, or None."""
        for i in range(max(len(self), len(other))):
            a = self.symbols[i] if i < len(self) else None
            b = other.symbols[i] if i < len(other) else None
            if a != b:
                return i, a, b
        return None


# --- a checkpoint's tokenizer as a dictionary (here, not in tokenizer.py: tokenizers know no dictionaries) ---


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
        raise BertCheckpointError(
            f"{source}: the tokenizer's ids do not run from 0 to {len(vocab) - 1} without "
            "gaps; its vocabulary cannot be a list of rows of the embedding matrix"
        )
    return tokens


def tokenizer_specials(tok, source):
    """{role: token} of the tokens the tokenizer frames sentences with: [CLS]/<s> as bos, [SEP]/</s> as eos."""
    found = {
        "bos": tok.cls_token or tok.bos_token,
        "eos": tok.sep_token or tok.eos_token,
        "pad": tok.pad_token,
        "unk": tok.unk_token,
        "mask": tok.mask_token,
    }
    missing = [role for role, token in found.items() if not token]
    if missing:
        raise BertCheckpointError(
            f"{source}: the tokenizer declares no {', '.join(missing)} token; a BERT-family "
            "tokenizer_config.json names cls/sep (or bos/eos), pad, unk and mask tokens"
        )
    return {role: str(token) for role, token in found.items()}


def tokenizer_dictionary(tok, source):
    """The tokenizer's vocabulary as a BertDictionary, ids and specials kept exactly."""
    return BertDictionary(tokenizer_vocabulary(tok, source), source=source, specials=tokenizer_specials(tok, source))


def checkpoint_dictionary(path, what="--bert-checkpoint"):
    """A checkpoint's vocabulary: its vocab.txt for WordPiece families (id i = line i), otherwise (and
    for directories without vocab.txt) its tokenizer's vocabulary."""
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
        raise BertCheckpointError(
            f"{what}: the tokenizer's vocabulary ({len(theirs)} entries) differs from "
            f"{dictionary.source or 'the vocabulary'} ({len(dictionary)} entries) at id {i}: "
            f"{other!r} vs {ours!r}"
        )
    wrong = [
        f"{role} {theirs.specials[role]!r} vs {dictionary.specials[role]!r}"
        for role in theirs.specials
        if theirs.specials[role] != dictionary.specials[role]
    ]
    if wrong:
        raise BertCheckpointError(
            f"{what}: the tokenizer's special tokens differ from the vocabulary's: " + ", ".join(wrong)
        )
