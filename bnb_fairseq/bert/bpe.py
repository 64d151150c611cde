"""``--bpe bert_wordpiece``: raw text <-> BERT word pieces for fairseq-interactive/-generate.

fairseq's own ``--bpe bert`` needs a hub download or a single vocab for both sides, and its
``--post-process wordpiece`` does not join ``##`` pieces. Encoding uses the source side's
tokenizer (saved by preprocess/binarize.py next to the data, or ``--bert-tokenizer DIR``);
decoding only joins word pieces, so it is right for any target vocabulary.
"""
from dataclasses import dataclass, field
from typing import Optional

from fairseq.data.encoders import register_bpe
from fairseq.dataclass import FairseqDataclass

from bnb_fairseq.bert.tokenizer import load_wordpiece_tokenizer, wordpiece_decoder


@dataclass
class BertWordpieceConfig(FairseqDataclass):
    bert_tokenizer: Optional[str] = field(
        default=None,
        metadata={"help": "source-side BERT checkpoint/tokenizer directory; default: the "
                  "tokenizer.<src> folder that binarize.py wrote into the data directory"},
    )


@register_bpe("bert_wordpiece", dataclass=BertWordpieceConfig)
class BertWordpieceBPE:
    def __init__(self, cfg):
        if cfg.bert_tokenizer is None:
            raise ValueError(
                "--bpe bert_wordpiece needs --bert-tokenizer DIR (the task bnb_seq2seq fills it in "
                "from DATA/tokenizer.<src>)"
            )
        self.tokenizer = load_wordpiece_tokenizer(cfg.bert_tokenizer, what="--bert-tokenizer")
        self.decoder = wordpiece_decoder()

    def encode(self, x: str) -> str:
        return " ".join(self.tokenizer.tokenize(x))

    def decode(self, x: str) -> str:
        return self.decoder.decode(x.split())

    def is_beginning_of_word(self, x: str) -> bool:
        return not x.startswith("##")
