"""Checkpoints: round trip, atomicity and detection of truncation or tampering."""

from __future__ import annotations

import json
import os

import pytest
import torch

from gankit.errors import UserError
from gankit.train import checkpoint


def _tensors() -> dict[str, torch.Tensor]:
    return {"g.w": torch.arange(6.0).view(2, 3), "rng": torch.tensor([1, 2, 3], dtype=torch.uint8)}


def test_round_trip_and_latest(tmp_path):
    checkpoint.save(tmp_path, 5, _tensors(), {"note": "a"})
    checkpoint.save(tmp_path, 10, {k: v + 1 for k, v in _tensors().items()}, {"note": "b"})
    ckpt = checkpoint.load(tmp_path)
    assert ckpt.step == 10 and ckpt.state["note"] == "b"
    assert torch.equal(ckpt.tensors["g.w"], torch.arange(6.0).view(2, 3) + 1)
    assert checkpoint.load(tmp_path, 5).state["note"] == "a"


def test_prune_keeps_the_newest(tmp_path):
    for step in (1, 2, 3, 4):
        checkpoint.save(tmp_path, step, _tensors(), {})
    checkpoint.prune(tmp_path, keep=2)
    assert checkpoint.list_steps(tmp_path) == [3, 4]


def test_prune_spares_the_best(tmp_path):
    for step in (1, 2, 3, 4):
        checkpoint.save(tmp_path, step, _tensors(), {})
    checkpoint.prune(tmp_path, keep=1, protect={2})
    assert checkpoint.list_steps(tmp_path) == [2, 4]


def test_truncated_weights_are_reported(tmp_path):
    folder = checkpoint.save(tmp_path, 1, _tensors(), {})
    weights = folder / checkpoint.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-7])
    with pytest.raises(UserError, match="corrupt.*checksum"):
        checkpoint.load(tmp_path)


def test_tampered_weights_are_reported(tmp_path):
    folder = checkpoint.save(tmp_path, 1, _tensors(), {})
    weights = folder / checkpoint.WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="does not match its recorded checksum"):
        checkpoint.load(tmp_path)


def test_garbage_with_a_matching_checksum_is_still_refused(tmp_path):
    folder = checkpoint.save(tmp_path, 1, _tensors(), {})
    (folder / checkpoint.WEIGHTS).write_bytes(b"not a safetensors file")
    state = json.loads((folder / checkpoint.STATE).read_text())
    import hashlib

    state["weights_sha256"] = hashlib.sha256(b"not a safetensors file").hexdigest()
    (folder / checkpoint.STATE).write_text(json.dumps(state))
    with pytest.raises(UserError, match="corrupt"):
        checkpoint.load(tmp_path)


def test_broken_state_json_is_reported(tmp_path):
    folder = checkpoint.save(tmp_path, 1, _tensors(), {})
    (folder / checkpoint.STATE).write_text("{ not json")
    with pytest.raises(UserError, match="state.json is missing or unreadable"):
        checkpoint.load(tmp_path)


def test_an_interrupted_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save(tmp_path, 1, _tensors(), {"note": "good"})

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path, 2, _tensors(), {"note": "never"})
    assert checkpoint.list_steps(tmp_path) == [1]
    assert checkpoint.load(tmp_path).state["note"] == "good"
    assert not [p for p in checkpoint.checkpoint_dir(tmp_path).iterdir() if p.name.startswith(".")]


def test_no_checkpoints(tmp_path):
    with pytest.raises(UserError, match="no checkpoints"):
        checkpoint.load(tmp_path)


def test_a_diverged_evaluation_is_never_the_best(tmp_path):
    """NaN compares false with everything: taken as a best, every later value would beat it."""
    from gankit.train.best import BestCheckpoint

    best = BestCheckpoint(tmp_path, "fid", [{"step": 1, "fid": 10.0}, {"step": 2, "fid": float("nan")}])
    assert (best.step, best.value) == (1, 10.0)
    assert not best.offer(3, {"fid": 50.0}) and not best.offer(4, {"fid": float("inf")})
    assert best.offer(5, {"fid": 9.0}) and best.protected() == {5}
    best.record()
    assert json.loads((tmp_path / "checkpoints" / "best.json").read_text()) == {"metric": "fid", "value": 9.0, "step": 5}
