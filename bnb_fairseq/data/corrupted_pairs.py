"""(corrupted source, original target) pairs made from blocks when a batch is built.

Each block's corruption is drawn from a generator seeded by (seed, epoch, block index), so it is
the same whatever the batching, the number of data-loader workers or the process that loads it,
and different in every epoch. Batches look like ``LanguagePairDataset``'s (right-padded), so the
``bnb`` models and criteria train on them unchanged.
"""

import numpy as np
import torch
from fairseq.data import FairseqDataset
from fairseq.data.language_pair_dataset import collate


def block_generator(seed, epoch, index):
    """A torch generator that depends on all of (seed, epoch, index), well mixed."""
    state = np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed((int(state[0]) << 31) ^ int(state[1]))


class CorruptedPairsDataset(FairseqDataset):
    """``corrupt(block, generator) -> (name, source, target)`` applied to every block on the fly.

    ``vary_with_epoch=False`` (validation) keeps epoch 1's corruption forever, so valid losses
    of different epochs are comparable.
    """

    def __init__(self, blocks, sizes, corrupt, seed, pad, eos, vary_with_epoch=True):
        super().__init__()
        self.blocks, self.corrupt = blocks, corrupt
        self.seed, self.pad, self.eos = seed, pad, eos
        self._sizes = np.asarray(sizes, dtype=np.int64)
        self.vary_with_epoch = vary_with_epoch
        self.epoch = 1

    def set_epoch(self, epoch):
        if self.vary_with_epoch:
            self.epoch = epoch

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        # a reused iterator keeps its data-loader workers, whose copies of this dataset would
        # miss set_epoch and repeat epoch 1's corruption
        return not self.vary_with_epoch

    def corrupted(self, index):
        """(corruption name, source, target) of block ``index`` in the current epoch."""
        return self.corrupt(self.blocks[index], block_generator(self.seed, self.epoch, index))

    def __getitem__(self, index):
        _, source, target = self.corrupted(index)
        return {"id": index, "source": source, "target": target}

    def __len__(self):
        return len(self._sizes)

    def collater(self, samples, pad_to_length=None):
        return collate(
            samples, self.pad, self.eos, left_pad_source=False, left_pad_target=False, pad_to_length=pad_to_length
        )

    @property
    def sizes(self):
        """Block lengths: an upper bound of both sides (only clm shortens them)."""
        return self._sizes

    def num_tokens(self, index):
        return int(self._sizes[index])

    def num_tokens_vec(self, indices):
        return self._sizes[indices]

    def size(self, index):
        return int(self._sizes[index]), int(self._sizes[index])

    def ordered_indices(self):
        """Shuffled (under fairseq's numpy seed), then stably sorted by length."""
        order = np.random.permutation(len(self))
        return order[np.argsort(self._sizes[order], kind="mergesort")]

    def filter_indices_by_size(self, indices, max_sizes):
        limits = max_sizes if isinstance(max_sizes, (tuple, list)) else (max_sizes,)
        limits = [m for m in limits if m is not None]
        if not limits:
            return indices, []
        too_long = self._sizes[indices] > min(limits)
        return indices[~too_long], indices[too_long].tolist()
