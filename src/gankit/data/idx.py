"""MNIST-format IDX files (`*-ubyte`, optionally gzipped): reading them and finding them.

The IDX format (LeCun et al.): two zero bytes, a type byte (0x08 = unsigned byte), the number of
dimensions, each dimension as a big-endian int32, then the data in C order. The reader checks the
header against the file's length, so a truncated or padded download is an error naming the file,
never a silently short data set.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.errors import UserError, first_line

DATA_ROOT_ENV = "GANKIT_DATA"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_UBYTE = 0x08
CLASSES = 10  # MNIST and Fashion-MNIST alike
# where torchvision's MNIST / FashionMNIST classes keep the raw files under their root
_TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: Path) -> Tensor:
    """The array in an IDX file of unsigned bytes, as a uint8 tensor."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            blob = handle.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise UserError(f"{path}: cannot read it ({exc.__class__.__name__}: {exc}); the file is corrupt or truncated") from None
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0:
        raise UserError(f"{path}: not an IDX file (bad magic number)")
    if blob[2] != _UBYTE:
        raise UserError(f"{path}: IDX type 0x{blob[2]:02x} is not unsigned bytes (0x08)")
    ndim = blob[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(blob) < header:
        raise UserError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    found = len(blob) - header
    if found != expected:
        state = "truncated" if found < expected else "longer than its header says"
        raise UserError(f"{path}: IDX file {state}: header {dims} needs {expected} bytes of data, found {found}")
    array = np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())


def candidate_dirs(name: str, root: Path | None) -> list[Path]:
    """Where to look for a data set's IDX files, in order."""
    bases = [root] if root is not None else []
    if root is None and os.environ.get(DATA_ROOT_ENV):
        bases.append(Path(os.environ[DATA_ROOT_ENV]))
    dirs: list[Path] = []
    for base in bases:
        dirs += [base, base / name, base / _TORCHVISION_FOLDER[name] / "raw"]
    if root is None and name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION_MNIST)
    return dirs


def find_idx_pair(name: str, split: str, root: Path | None) -> tuple[Path, Path] | None:
    """The (images, labels) files of a split, gzipped or not, from the first folder holding both."""
    prefix = _PREFIX[split]
    for folder in candidate_dirs(name, root):
        found = []
        for kind in ("images-idx3", "labels-idx1"):
            stem = folder / f"{prefix}-{kind}-ubyte"
            hits = [p for p in (stem, stem.with_name(stem.name + ".gz")) if p.is_file()]
            found.append(hits[0] if hits else None)
        if all(found):
            return found[0], found[1]
    return None


def download_with_torchvision(name: str, root: Path) -> None:
    """Fetch the IDX files with torchvision into `root/<MNIST|FashionMNIST>/raw` (needs internet)."""
    import torchvision.datasets as tvd

    cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
    try:
        cls(str(root), train=True, download=True)
        cls(str(root), train=False, download=True)
    except Exception as exc:  # network errors come in many types; all mean "could not download"
        raise UserError(f"downloading {name} into {root} failed ({exc.__class__.__name__}: {first_line(exc)}); "
                        "offline? put the IDX files there yourself") from None


def load_idx_dataset(name: str, split: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor]:
    """(images N×1×H×W uint8, labels N int64) of MNIST or Fashion-MNIST, or a UserError saying how
    to get the files."""
    pair = find_idx_pair(name, split, root)
    if pair is None and download:
        target = root or Path(os.environ.get(DATA_ROOT_ENV) or Path.home() / ".cache" / "gankit")
        download_with_torchvision(name, target)
        pair = find_idx_pair(name, split, target)
    if pair is None:
        searched = ", ".join(str(d) for d in candidate_dirs(name, root)) or "(nowhere: no data.root and no $GANKIT_DATA)"
        hint = "apt-get install dataset-fashion-mnist, or " if name == "fashion-mnist" else ""
        raise UserError(
            f"{name} {split} IDX files ({_PREFIX[split]}-images-idx3-ubyte[.gz], {_PREFIX[split]}-labels-idx1-ubyte[.gz]) "
            f"not found in {searched}; {hint}set data.root or ${DATA_ROOT_ENV} to their folder, "
            "or add --set data.download=true when online"
        )
    images, labels = read_idx(pair[0]), read_idx(pair[1])
    if images.ndim != 3:
        raise UserError(f"{pair[0]}: expected N×H×W images, found shape {list(images.shape)}")
    if images.shape[0] == 0:
        raise UserError(f"{pair[0]}: the file holds no images")
    if labels.shape != images.shape[:1]:
        raise UserError(f"{pair[1]}: {labels.shape[0] if labels.ndim else 0} labels for {images.shape[0]} images in {pair[0]}")
    if int(labels.max()) >= CLASSES:
        raise UserError(f"{pair[1]}: label {int(labels.max())} is not a {name} class (0-{CLASSES - 1})")
    return images.unsqueeze(1), labels.long()
