"""Outputs written into a staging folder first and moved into place at the end, so that a run that
fails half-way leaves the destination as it was (binarize.py, tools/distill.py)."""

import os
import shutil


def commit(stage, destdir):
    """Move everything from the staging folder into ``destdir``, replacing same-named outputs."""
    os.makedirs(destdir, exist_ok=True)
    for name in sorted(os.listdir(stage)):
        dst = os.path.join(destdir, name)
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        os.replace(os.path.join(stage, name), dst)
