"""A fairseq Dictionary whose ids are exactly a BERT checkpoint's WordPiece ids."""
import os

from fairseq.data import Dictionary

BERT_SPECIALS = {"pad": "[PAD]", "unk": "[UNK]", "bos": "[CLS]", "eos": "[SEP]", "mask": "[MASK]"}


class BertDictionary(Dictionary):
    """Built from ``vocab.txt`` line by line, so id i is line i.

    fairseq's own Dictionary prepends <s> <pad> </s> <unk>; here [CLS] plays bos, [SEP] eos,
    [PAD] pad and [UNK] unk at their BERT positions, and nothing is added or reordered.
    """

    def __init__(self, tokens, source=None):
        super().__init__(
            bos=BERT_SPECIALS["bos"], pad=BERT_SPECIALS["pad"],
            eos=BERT_SPECIALS["eos"], unk=BERT_SPECIALS["unk"],
        )
        self.symbols, self.count, self.indices = [], [], {}
        for token in tokens:
            # Keep duplicates as separate ids (ids must stay aligned with the embedding rows);
            # lookups resolve to the first occurrence, as BERT's tokenizer does.
            self.indices.setdefault(token, len(self.symbols))
            self.symbols.append(token)
            self.count.append(1)
        self.source = source
        missing = [s for s in BERT_SPECIALS.values() if s not in self.indices]
        if missing:
            raise ValueError(
                f"{source or 'vocabulary'}: missing BERT special token(s) {', '.join(missing)}; "
                "this does not look like a BERT WordPiece vocab.txt"
            )
        self.bos_index = self.indices[BERT_SPECIALS["bos"]]
        self.pad_index = self.indices[BERT_SPECIALS["pad"]]
        self.eos_index = self.indices[BERT_SPECIALS["eos"]]
        self.unk_index = self.indices[BERT_SPECIALS["unk"]]
        self.mask_index = self.indices[BERT_SPECIALS["mask"]]
        self.nspecial = 0  # BERT specials live inside the vocabulary, not in a prefix

    def mask(self):
        return self.mask_index

    @classmethod
    def load(cls, f):
        """Read a WordPiece vocab.txt (one token a line); ``dict.<lang>.txt`` files use this format."""
        if not isinstance(f, str):
            return cls([line.rstrip("\n") for line in f])
        if os.path.isdir(f):
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
        return cls(tokens, source=f)

    def save(self, f):
        """Write one token a line, the vocab.txt format, so ``load`` gives the same ids back."""
        if isinstance(f, str):
            os.makedirs(os.path.dirname(os.path.abspath(f)), exist_ok=True)
            with open(f, "w", encoding="utf-8") as fh:
                return self.save(fh)
        for token in self.symbols:
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
