"""Atomic file and folder writes: a reader (or a crash) never sees half a file or half a folder.

Each write goes to a temporary file (or folder) in the same folder, is flushed to disk, then
renamed over the target; rename within one filesystem is atomic on POSIX.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_folder(out: Path, fill: Callable[[Path], None]) -> None:
    """Make the folder `out` hold exactly what `fill(staging)` writes into a fresh staging folder.

    The staging folder lies beside `out` under a hidden name. An existing `out` with files in it is
    moved aside until the new one is in place, then deleted; an empty one (the working folder, even)
    is filled in place, its sub-folders moved in before its files, so that a folder's index file
    (a manifest, a run's marker) arrives last. A failure at any point leaves `out` as it was and no
    staging debris. Callers decide beforehand whether `out` may be replaced."""
    out = Path(out).resolve()  # a real name to stage beside, even for `.`
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where a parent folder should be: name the path asked for
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(out)) from None
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    replaced = staging.with_name(staging.name + ".old")
    try:
        fill(staging)
        if out.is_dir() and not any(out.iterdir()):
            _move_entries(staging, out)
            return
        if out.is_dir():
            out.rename(replaced)
        try:
            staging.rename(out)
        except BaseException:
            if replaced.exists():
                replaced.rename(out)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(replaced, ignore_errors=True)


def _move_entries(source: Path, empty: Path) -> None:
    """Move what `source` holds into the folder `empty`, folders first; on a failure take out
    again what was moved, so that `empty` stays empty."""
    moved: list[Path] = []
    try:
        for entry in sorted(source.iterdir(), key=lambda e: (not e.is_dir(), e.name)):
            os.rename(entry, empty / entry.name)
            moved.append(empty / entry.name)
    except BaseException:
        for path in moved:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        raise
