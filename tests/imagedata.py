"""Small image fixtures the tests write themselves: IDX files and image folders."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic (0, 0, 0x08, ndim), big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n: int = 40, size: int = 28, gz: bool = True, split: str = "train") -> np.ndarray:
    """A fake MNIST split: images whose brightness encodes their label, so loads can be checked."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = np.repeat((labels * 25)[:, None, None], size, 1).repeat(size, 2).astype(np.uint8)
    prefix = "train" if split == "train" else "t10k"
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        path = folder / f"{prefix}-{kind}-ubyte"
        blob = idx_bytes(array)
        if gz:
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(blob))
        else:
            path.write_bytes(blob)
    return images


def write_png_header(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width×height grey pixels over a few bytes of data: a
    decompression bomb when the size is huge (Pillow would need width×height bytes to decode it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
