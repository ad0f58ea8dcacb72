"""Checkpoints: every tensor in one safetensors file, everything else in JSON, written atomically.

Layout: `RUN/checkpoints/step-00001000/{weights.safetensors, state.json}`. A checkpoint is written
into a hidden temporary folder and renamed into place only when both files are complete, so a
process killed at any moment leaves either the old set of checkpoints or the new one, never half
of one. `state.json` records the SHA-256 of the weights, so truncation or tampering is detected on
load and reported as a clear error instead of loading garbage. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

from gankit.errors import UserError
from gankit.files import atomic_write_bytes, replace_folder

WEIGHTS = "weights.safetensors"
STATE = "state.json"
_STEP_DIR = re.compile(r"^step-(\d{8})$")


@dataclass
class Checkpoint:
    path: Path
    step: int
    tensors: dict[str, Tensor]
    state: dict[str, Any]


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def save(run_dir: Path, step: int, tensors: dict[str, Tensor], state: dict[str, Any]) -> Path:
    """Write checkpoint `step` atomically and return its folder."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    blob = save_safetensors({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    meta = {**state, "step": step, "weights_sha256": hashlib.sha256(blob).hexdigest()}

    def fill(folder: Path) -> None:
        atomic_write_bytes(folder / WEIGHTS, blob)
        atomic_write_bytes(folder / STATE, json.dumps(meta, indent=2).encode())

    replace_folder(final, fill, replace=True)  # the same step saved again (a resumed run): replaced whole
    return final


def list_steps(run_dir: Path) -> list[int]:
    root = checkpoint_dir(run_dir)
    if not root.is_dir():
        return []
    steps = [int(m.group(1)) for p in root.iterdir() if (m := _STEP_DIR.match(p.name))]
    return sorted(steps)


def prune(run_dir: Path, keep: int, protect: Collection[int] = ()) -> None:
    """Delete all but the newest `keep` checkpoints, sparing the steps in `protect` (the best)."""
    steps = list_steps(run_dir)
    for step in steps[:-keep] if keep else steps:
        if step not in protect:
            shutil.rmtree(checkpoint_dir(run_dir) / f"step-{step:08d}", ignore_errors=True)


def load(run_dir: Path, step: int | None = None) -> Checkpoint:
    """Load checkpoint `step` (default: the newest), verifying its checksum."""
    steps = list_steps(run_dir)
    if not steps:
        raise UserError(f"{run_dir} has no checkpoints (is it a gankit run folder?)")
    if step is None:
        step = steps[-1]
    elif step not in steps:
        raise UserError(f"{run_dir} has no checkpoint at step {step}; it has {steps}")
    folder = checkpoint_dir(run_dir) / f"step-{step:08d}"
    try:
        state = json.loads((folder / STATE).read_text())
        expected = state["weights_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"checkpoint {folder} is corrupt: {STATE} is missing or unreadable") from None
    if state.get("step") != step:  # not covered by the checksum: it must agree with the folder's name
        raise UserError(f"checkpoint {folder} is corrupt: its {STATE} says step {state.get('step')!r}")
    try:
        blob = (folder / WEIGHTS).read_bytes()
    except OSError:
        raise UserError(f"checkpoint {folder} is incomplete: {WEIGHTS} is missing") from None
    if hashlib.sha256(blob).hexdigest() != expected:
        raise UserError(
            f"checkpoint {folder} is corrupt: {WEIGHTS} does not match its recorded checksum "
            "(truncated or modified)"
        )
    try:
        tensors = load_safetensors(blob)
    except SafetensorError as exc:
        raise UserError(f"checkpoint {folder} is corrupt: {exc}") from None
    return Checkpoint(folder, step, tensors, state)
