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


def holds_working_folder(path: Path) -> bool:
    """True when `path` is the working folder or one of its parents: replacing it would pull the
    folder out from under this process (and the user's shell)."""
    here, path = Path.cwd().resolve(), Path(path).resolve()
    return path == here or path in here.parents


def replace_folder(out: Path, fill: Callable[[Path], None], *, replace: bool = False) -> None:
    """Make the folder `out` hold exactly what `fill(folder)` writes into a fresh staging folder,
    all at once: a failure at any point leaves `out` as it was and no staging debris.

    - An absent `out` becomes the staging folder by one rename beside it.
    - An empty `out` (the working folder, even) is filled in place: staged inside itself, so on its
      own filesystem and under its own permissions, sub-folders moved up before files.
    - An `out` with files in it is refused (FileExistsError) unless `replace`; then it is moved
      aside until the new folder is in place, and deleted only once it is. The same rename refuses
      a folder that another process filled after the caller's checks.
    """
    out = Path(out).resolve()  # a real name to stage beside, even for `.`
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where a parent folder should be: name the path asked for
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(out)) from None
    if out.is_dir() and not any(out.iterdir()):
        staging = _staging(out, inside=out)
        try:
            fill(staging)
            _move_entries(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        fsync_dir(out)
        return
    existing = out.exists()
    if existing and not replace:
        raise FileExistsError(errno.EEXIST, "exists and is not empty", str(out))
    if existing and holds_working_folder(out):
        raise FileExistsError(errno.EEXIST, "is the working folder or holds it; run from outside it", str(out))
    staging = _staging(out, inside=out.parent)
    try:
        fill(staging)
        fsync_dir(staging)
        (_swap if existing else _rename_into_place)(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(out.parent)


def _staging(out: Path, inside: Path) -> Path:
    """A fresh hidden folder named after `out`, with the mode a plain mkdir would give it (mkdtemp
    makes it private)."""
    staging = Path(tempfile.mkdtemp(dir=inside, prefix=f".{out.name}."))
    os.chmod(staging, 0o777 & ~_umask())
    return staging


def _rename_into_place(staging: Path, out: Path) -> None:
    """rename(2) over a folder succeeds only when that folder is empty: a folder filled by another
    process in the meantime is refused, not replaced."""
    try:
        os.rename(staging, out)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise FileExistsError(errno.EEXIST, "exists and is not empty", str(out)) from None
        raise


def _swap(staging: Path, out: Path) -> None:
    """Put `staging` in place of the folder `out`, deleting the old one only once the new is in."""
    aside = staging.with_name(staging.name + ".old")
    os.rename(out, aside)
    try:
        _rename_into_place(staging, out)
    except BaseException as exc:
        try:
            os.rename(aside, out)
        except OSError:
            raise FileExistsError(
                errno.EEXIST, f"the new folder could not be put in place; the old one is kept as {aside}", str(out)
            ) from exc
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _move_entries(source: Path, empty: Path) -> None:
    """Move what `source` holds into the folder `empty`, folders first; on a failure take out
    again what was moved, so that `empty` stays as it was."""
    moved: list[Path] = []
    try:
        for entry in sorted(source.iterdir(), key=lambda e: (not e.is_dir(), e.name)):
            os.rename(entry, empty / entry.name)
            moved.append(empty / entry.name)
    except BaseException:
        for path in moved:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        raise
