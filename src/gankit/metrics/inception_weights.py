"""Where the FID Inception-v3 weights file is, without importing the network.

Kept apart from `inception.py` because that module builds on torchvision's Inception blocks, which
take seconds to import: the commands that only ask whether the weights are at hand (to choose a
default feature space) stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gankit.errors import UserError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"


def find_weights(path: str | os.PathLike[str] | None = None) -> Path:
    """Where the weights file is: `path`, `$GANKIT_INCEPTION_WEIGHTS` or the torch hub cache.

    A place that is named but empty is an error rather than a reason to look further: the user
    meant that file.
    """
    if path is not None:
        return _existing(Path(path), "the path given")
    if os.environ.get(WEIGHTS_ENV):
        return _existing(Path(os.environ[WEIGHTS_ENV]), f"from ${WEIGHTS_ENV}")
    cached = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
    if cached.is_file():
        return cached
    raise UserError(
        f"FID Inception weights not found: no path given, ${WEIGHTS_ENV} unset, no {cached}; "
        f"download {WEIGHTS_URL} and pass its path or set {WEIGHTS_ENV} to it"
    )


def _existing(file: Path, source: str) -> Path:
    if not file.is_file():
        raise UserError(f"Inception weights file {file} ({source}) is not a file")
    return file
