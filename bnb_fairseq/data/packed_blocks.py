"""Monolingual binarized lines (``[CLS] pieces [SEP]`` each) packed into ``[CLS] pieces [SEP]`` blocks.

The lines' own [CLS]/[SEP] are dropped inside a block (a [SEP] there would start BERT's second
segment, see ``BertEncoder.segment_ids``), and a line longer than a block is cut into consecutive
chunks, so every piece of the corpus lands in exactly one block and no block exceeds its size.
"""

import numpy as np
import torch
from fairseq.data import BaseWrapperDataset, FairseqDataset, TokenBlockDataset

from bnb_fairseq.data.resized import ResizedRowsMixin

BREAK_MODES = ("complete", "none", "eos")


class LineChunksDataset(FairseqDataset):
    """The pieces between [CLS] and [SEP] of each line, in chunks of at most ``limit`` (a line that
    fits is one chunk; a line without pieces gives none)."""

    def __init__(self, lines, sizes, limit, bos, eos, source_name="the data"):
        super().__init__()
        if limit < 1:
            raise ValueError(f"chunk limit must be >= 1, got {limit}")
        self.lines, self.bos, self.eos, self.source_name = lines, bos, eos, source_name
        content = np.asarray(sizes, dtype=np.int64) - 2
        short = np.flatnonzero(content < 0)
        if len(short):
            raise ValueError(
                f"line {short[0] + 1} of {source_name} has {content[short[0]] + 2} token(s); every "
                "line must be [CLS] pieces [SEP]: binarize the corpus with preprocess/binarize.py "
                "--only-source"
            )
        n_chunks = -(-content // limit)
        self.line = np.repeat(np.arange(len(content), dtype=np.int64), n_chunks)
        first_chunk = np.cumsum(n_chunks) - n_chunks
        k = np.arange(len(self.line), dtype=np.int64) - first_chunk[self.line]
        self.start = (1 + k * limit).astype(np.int32)
        self._sizes = np.minimum(limit, content[self.line] - k * limit).astype(np.int32)

    def __getitem__(self, index):
        line = int(self.line[index])
        tokens = self.lines[line]
        if len(tokens) < 2 or tokens[0] != self.bos or tokens[-1] != self.eos:
            raise ValueError(
                f"line {line + 1} of {self.source_name} is not [CLS] pieces [SEP] (it starts with id "
                f"{int(tokens[0])} and ends with id {int(tokens[-1])}): binarize the corpus with "
                "preprocess/binarize.py --only-source"
            )
        start = int(self.start[index])
        return tokens[start : start + int(self._sizes[index])]

    def __len__(self):
        return len(self.line)

    @property
    def sizes(self):
        return self._sizes


class PackedBlocksDataset(ResizedRowsMixin, BaseWrapperDataset):
    """Blocks of at most ``tokens_per_block`` tokens, ``[CLS]`` and ``[SEP]`` included.

    ``break_mode``: ``complete`` packs whole lines (a line longer than a block is cut into chunks
    first), ``none`` fills every block to the brim across line boundaries, ``eos`` makes one block
    of each line (chunks of it when it is too long).
    """

    def __init__(self, lines, sizes, tokens_per_block, bos, eos, pad, break_mode="complete", source_name="the data"):
        if break_mode not in BREAK_MODES:
            raise ValueError(f"--sample-break-mode {break_mode!r}: choose from {', '.join(BREAK_MODES)}")
        if tokens_per_block < 3:
            raise ValueError(f"--tokens-per-block {tokens_per_block}: a block needs at least [CLS] piece [SEP] (3)")
        capacity = tokens_per_block - 2
        chunks = LineChunksDataset(lines, sizes, capacity, bos, eos, source_name)
        if len(chunks) == 0:
            raise ValueError(f"{source_name}: no word pieces to pre-train on")
        if break_mode == "eos":
            blocks, block_sizes = chunks, chunks.sizes
        else:
            blocks = TokenBlockDataset(chunks, chunks.sizes, capacity, pad=pad, eos=eos, break_mode=break_mode)
            block_sizes = blocks.sizes
        super().__init__(blocks)
        self.bos, self.eos = bos, eos
        self._sizes = np.asarray(block_sizes, dtype=np.int64) + 2

    def __getitem__(self, index):
        content = self.dataset[index]
        return torch.cat([content.new_tensor([self.bos]), content, content.new_tensor([self.eos])])
