"""Datasets and corruptions for NAR pre-training on monolingual text."""

from bnb_fairseq.data.corrupted_pairs import CorruptedPairsDataset, block_generator  # noqa: F401
from bnb_fairseq.data.corruption import CorruptionMix, parse_weights  # noqa: F401
from bnb_fairseq.data.packed_blocks import BREAK_MODES, LineChunksDataset, PackedBlocksDataset  # noqa: F401
