"""replace_folder: a folder is swapped in whole, and a failure leaves the old one and no debris."""

import os
from pathlib import Path

import pytest

from gankit.train.files import replace_folder


def write_files(*names, fail_at=None):
    def fill(folder):
        for k, name in enumerate(names):
            if k == fail_at:
                raise OSError(28, "No space left on device")
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text("new")
    return fill


def test_a_failure_midway_leaves_the_old_folder_and_no_staging_debris(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.png").write_text("old")
    with pytest.raises(OSError):
        replace_folder(tmp_path / "out", write_files("a.png", "b.png", fail_at=1))
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.png"]


def test_a_full_folder_is_replaced_whole(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.png").write_text("old")
    replace_folder(tmp_path / "out", write_files("a.png", "sub/b.png"))
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")) == ["a.png", "sub", "sub/b.png"]


def test_a_missing_folder_is_made_with_its_parents(tmp_path):
    replace_folder(tmp_path / "a" / "b", write_files("x"))
    assert (tmp_path / "a" / "b" / "x").read_text() == "new"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b"]


def test_the_empty_working_folder_is_filled_in_place_folders_first(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    moved = []
    real_rename = os.rename

    def recording_rename(src, dst):
        moved.append(os.path.basename(dst))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", recording_rename)
    replace_folder(Path("."), write_files("manifest.json", "images/1.png"))
    assert moved == ["images", "manifest.json"]  # the index file last
    assert sorted(p.name for p in here.iterdir()) == ["images", "manifest.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["here"]


def test_a_failed_fill_in_place_leaves_the_empty_folder_empty(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    real_rename = os.rename

    def rename_then_fail(src, dst):
        if os.path.basename(dst) == "manifest.json":
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename_then_fail)
    with pytest.raises(OSError):
        replace_folder(tmp_path / "out", write_files("manifest.json", "images/1.png"))
    assert list((tmp_path / "out").iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
