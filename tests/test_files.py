"""replace_folder: a folder is put in place whole, and a failure leaves the old one and no debris."""

import errno
import os
import stat
from pathlib import Path

import pytest

from gankit.files import replace_folder


def write_files(*names, fail_at=None):
    def fill(folder):
        for k, name in enumerate(names):
            if k == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text("new")
    return fill


def contents(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def old(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.png").write_text("old")
    return tmp_path / "out"


def failing_rename(monkeypatch, fails):
    """os.rename that raises ENOSPC for the (source, destination) pairs `fails` picks."""
    real = os.rename

    def rename(src, dst):
        if fails(Path(src), Path(dst)):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)


def test_a_failure_while_filling_leaves_the_old_folder_and_no_debris(old):
    with pytest.raises(OSError):
        replace_folder(old, write_files("a.png", "b.png", fail_at=1), replace=True)
    assert [p.name for p in old.parent.iterdir()] == ["out"]
    assert contents(old) == ["old.png"]


def test_a_failure_to_swap_puts_the_old_folder_back(old, monkeypatch):
    failing_rename(monkeypatch, lambda src, dst: dst == old and not src.name.endswith(".old"))
    with pytest.raises(OSError, match="No space"):
        replace_folder(old, write_files("a.png"), replace=True)
    assert [p.name for p in old.parent.iterdir()] == ["out"]
    assert (old / "old.png").read_text() == "old"


def test_when_the_old_folder_cannot_go_back_it_is_kept_and_named(old, monkeypatch):
    failing_rename(monkeypatch, lambda src, dst: dst == old)
    with pytest.raises(FileExistsError, match="the old one is kept as") as caught:
        replace_folder(old, write_files("a.png"), replace=True)
    kept = Path(caught.value.strerror.split("kept as ")[1])
    assert (kept / "old.png").read_text() == "old"


def test_a_full_folder_is_refused_unless_replacing_and_then_replaced_whole(old):
    with pytest.raises(FileExistsError):
        replace_folder(old, write_files("a.png"))
    assert contents(old) == ["old.png"]
    replace_folder(old, write_files("a.png", "sub/b.png"), replace=True)
    assert [p.name for p in old.parent.iterdir()] == ["out"]
    assert contents(old) == ["a.png", "sub", "sub/b.png"]


def test_a_missing_folder_is_made_with_its_parents_and_a_plain_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        replace_folder(tmp_path / "a" / "b", write_files("x"))
    finally:
        os.umask(umask)
    assert (tmp_path / "a" / "b" / "x").read_text() == "new"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b"]
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o755  # not mkdtemp's 0700


def test_the_empty_working_folder_is_filled_in_place_folders_first(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    moved = []
    real = os.rename

    def recording_rename(src, dst):
        moved.append(os.path.basename(dst))
        real(src, dst)

    monkeypatch.setattr(os, "rename", recording_rename)
    replace_folder(Path("."), write_files("manifest.json", "pictures/1.png"))
    assert moved == ["pictures", "manifest.json"]  # the folder before the file that indexes it
    assert contents(here) == ["manifest.json", "pictures", "pictures/1.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["here"]


def test_a_failed_move_into_an_empty_folder_leaves_it_empty(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    failing_rename(monkeypatch, lambda src, dst: dst.name == "manifest.json")
    with pytest.raises(OSError):
        replace_folder(tmp_path / "out", write_files("manifest.json", "pictures/1.png"))
    assert list((tmp_path / "out").iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_the_working_folder_with_files_is_never_swapped_out(old, monkeypatch):
    monkeypatch.chdir(old)
    with pytest.raises(FileExistsError, match="working folder"):
        replace_folder(Path("."), write_files("a.png"), replace=True)
    assert contents(old) == ["old.png"]


def test_a_file_write_that_fails_before_its_rename_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    """atomic_write_bytes writes a temporary file and renames it over the target: a failure at
    the rename (the last moment) leaves the old content whole."""
    from gankit.files import atomic_write_bytes

    target = tmp_path / "best.json"
    target.write_text("old")

    def refuse(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["best.json"]
