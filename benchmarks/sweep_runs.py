"""Benchmarks that are sweeps: a spec built in the script, written beside its sweep folder, run
by `gankit sweep`'s engine (and gone on with when the command runs again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gankit import sweep


def run_spec(name: str, spec: dict[str, Any], folder: Path, workers: int) -> list[dict[str, Any]]:
    """Write `spec` to `folder/NAME.yaml`, run its sweep in `folder/NAME` to the end with `workers`
    processes, and return its trials (`gankit.sweep.trials_json`). The same command later finds the
    study and goes on with it; a changed spec is refused by the engine."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    text = yaml.safe_dump(spec, sort_keys=False)
    if path.exists() and path.read_text() != text:  # keep the spec its study was made from
        raise SystemExit(f"{path} holds another spec (other options?): give --folder another folder, "
                         f"or delete {folder / name} and the spec to start again")
    path.write_text(text)
    opened = sweep.Sweep.open(path, folder / name, None)
    print(sweep.run_sweep(opened, workers), flush=True)
    return sweep.trials_json(opened)
