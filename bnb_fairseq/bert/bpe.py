"""``--bpe bert_wordpiece``: raw text <-> the checkpoints' tokens for fairseq-interactive/-generate.

Despite its name (kept for existing command lines) it serves every supported family: WordPiece,
byte-level BPE (RoBERTa) and SentencePiece (XLM-R). fairseq's own ``--bpe bert`` needs a hub download
or a single vocab for both sides, and its ``--post-process wordpiece`` does not join ``##`` pieces.
Encoding uses the source side's tokenizer, decoding the target side's own decoder (saved by
preprocess/binarize.py next to the data as ``tokenizer.<lang>/``), so a BERT encoder with a RoBERTa
decoder reads and writes plain text too.
"""

from dataclasses import dataclass, field
from typing import Optional

from fairseq.data.encoders import register_bpe
from fairseq.dataclass import FairseqDataclass

from bnb_fairseq.bert.tokenizer import TextDecoder, load_tokenizer


@dataclass
class BertWordpieceConfig(FairseqDataclass):
    bert_tokenizer: Optional[str] = field(
        default=None,
        metadata={
            "help": "source-side checkpoint/tokenizer directory; default: the tokenizer.<src> folder "
            "that binarize.py wrote into the data directory"
        },
    )
    bert_target_tokenizer: Optional[str] = field(
        default=None,
        metadata={
            "help": "target-side checkpoint/tokenizer directory, whose decoder turns outputs into text; "
            "default: the tokenizer.<tgt> folder of the data directory, else --bert-tokenizer"
        },
    )


@register_bpe("bert_wordpiece", dataclass=BertWordpieceConfig)
class BertWordpieceBPE:
    def __init__(self, cfg):
        if cfg.bert_tokenizer is None:
            raise ValueError(
                "--bpe bert_wordpiece needs --bert-tokenizer DIR (the task bnb_seq2seq fills it in "
                "from DATA/tokenizer.<src>)"
            )
        self.tokenizer = load_tokenizer(cfg.bert_tokenizer, what="--bert-tokenizer")
        target = getattr(cfg, "bert_target_tokenizer", None)
        self.decoder = (
            TextDecoder.from_directory(target, "--bert-target-tokenizer")
            if target
            else TextDecoder.of(self.tokenizer, cfg.bert_tokenizer)
        )

    def encode(self, x: str) -> str:
        return " ".join(self.tokenizer.tokenize(x))

    def decode(self, x: str) -> str:
        return self.decoder.decode(x.split())

    def is_beginning_of_word(self, x: str) -> bool:
        return self.decoder.is_word_start(x)
