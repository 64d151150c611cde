"""Let torch >= 2.6 (weights_only=True by default) load fairseq checkpoints.

fairseq 0.12 stores the parsed command line (an ``argparse.Namespace``) in every
checkpoint; with weights_only loading that global must be allow-listed. We add
exactly what our checkpoints need and never switch weights_only off.
"""
import argparse

import torch


def allow_fairseq_checkpoint_globals():
    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is not None:  # torch < 2.4 loads everything anyway
        add([argparse.Namespace])
