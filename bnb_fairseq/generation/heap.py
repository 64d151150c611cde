"""Give the heap pages glibc keeps after a batch back to the system during long generation runs.

After its first large free, glibc raises its mmap threshold (up to 32 MB), so later activation
buffers of varying sizes come from the heap, which fragments: the resident memory of a CPU
generation run then creeps up with the number of batches although nothing is kept from one batch to
the next (README, "Memory of long generation runs"). ``malloc_trim(0)`` every few batches returns the
free pages, which keeps the peak flat for any number of sentences at a negligible cost.
"""

import ctypes
import ctypes.util
import os
import sys

# batches between two trims; BNB_HEAP_TRIM_EVERY=0 turns trimming off (to measure without it)
TRIM_EVERY = int(os.environ.get("BNB_HEAP_TRIM_EVERY", "16"))


def glibc_malloc_trim():
    """glibc's malloc_trim, or None (not Linux, or a C library without it, e.g. musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class HeapTrimmer:
    def __init__(self, every=TRIM_EVERY):
        self.trim = glibc_malloc_trim()
        self.every = every
        self.batches = 0
        self.trims = 0

    def after_batch(self):
        if self.trim is None or self.every <= 0:
            return
        self.batches += 1
        if self.batches % self.every == 0:
            self.trim(0)
            self.trims += 1
