"""Benchmarks that train many runs do it as sweeps: a spec built in the script, written beside its
sweep folder, run by `gankit sweep`'s engine (and gone on with when the command runs again).

Why one way: the engine already hands trials to worker processes, keeps every finished run in its
study, resumes a killed one from its checkpoint and refuses a changed spec on an old study; a
benchmark only says which runs it wants and reads their records back (`Run`).

- `add_sweep_options` / `sweep_folder`: the options every such benchmark takes (`--steps` for a
  smoke run that writes nothing unless `--write`, `--folder`, `--workers`) and where its sweeps live:
  runs/NAME (git-ignored), or a temporary folder for a smoke run.
- `run_spec`: one sweep to the end; `runs_of` / `runs_by_point`: a trial's runs in seed order, by point.
- `centre_and_range`: how a table shows a metric over seeds.
- `write_runs_log`: the runs behind a table as JSON lines in docs/results/, the raw data of the block.
- `describe_machine`, `describe_status`, `describe_load`: how a results block names the machine,
  whether it is complete, and how loaded the machine was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from gankit import sweep
from gankit.files import atomic_write_text
from machine import device_name

RUNS = Path(__file__).resolve().parents[1] / "runs"


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


@dataclass(frozen=True)
class Run:
    """One seed's run of a trial, as the engine recorded it: its final evaluation (a diverged run's
    last one), its wall and CPU seconds, and whether it stopped on a non-finite loss."""

    final: dict[str, float]
    wall_s: float
    cpu_s: float
    diverged: bool


def runs_of(trial: dict[str, Any], seeds: list[int]) -> list[Run]:
    """A trial's runs in seed order (every seed trains, a diverged one too: see the engine)."""
    records = [trial["user_attrs"].get(f"seed-{s}") for s in seeds]
    if None in records:
        raise SystemExit(f"trial {trial['number']} ({trial['state']}) has no run of every seed: "
                         f"{trial['user_attrs'].get('error', 'see its folder')}")
    return [Run(r["final"], r["wall_s"], r["cpu_s"], bool(r["diverged"])) for r in records]


def runs_by_point(trials: list[dict[str, Any]], seeds: list[int], key: str) -> dict[Any, list[Run]]:
    """Each trial's runs in seed order, by its value of the space key `key` (lists become tuples)."""
    found = {}
    for trial in trials:
        value = trial["params"][key]
        found[tuple(value) if isinstance(value, list) else value] = runs_of(trial, seeds)
    return found


def centre_and_range(values: list[float], fmt: str, centre=statistics.fmean, dash: str = "–") -> str:
    """"centre (min–max)" of a metric over seeds, `fmt` a format spec such as ".2f" or "+.2f": the
    one summary every table over seeds uses, so that two rows differ by more than their seeds do."""
    return f"{centre(values):{fmt}} ({min(values):{fmt}}{dash}{max(values):{fmt}})"


def write_runs_log(path: Path, sweeps: dict[str, list[dict[str, Any]]], machine: str) -> None:
    """Every run of `sweeps` (name -> trials) as one JSON line: sweep, point, seed, the engine's record."""
    date = time.strftime("%Y-%m-%d")
    lines = [
        json.dumps({"sweep": name, "trial": t["number"], "params": t["params"], "seed": int(key.removeprefix("seed-")),
                    "run": run, "machine": machine, "date": date})
        for name, trials in sweeps.items() for t in trials
        for key, run in t["user_attrs"].items() if key.startswith("seed-")
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines) + "\n")


def add_sweep_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, help="override every training budget (a smoke run: writes nothing)")
    parser.add_argument("--write", action="store_true", help="write docs/RESULTS.md even with --steps")
    parser.add_argument("--folder", type=Path, help="where the sweeps live (default: runs/NAME; "
                        "a temporary folder with --steps)")
    parser.add_argument("--workers", type=int, default=2, help="sweep worker processes (threads: cores / workers)")


def check_sweep_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in ("steps", "workers"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive")


def sweep_folder(stack: contextlib.ExitStack, args: argparse.Namespace, name: str) -> Path:
    """`--folder`, else runs/NAME, else (a smoke run) a temporary folder removed on leaving `stack`."""
    if args.folder is not None:
        return args.folder
    if args.steps is None:
        return RUNS / name
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"{name}-")))


def describe_machine(workers: int) -> str:
    """The machine as every RESULTS.md table names it, and how the runs shared it."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    return f"{device_name(torch.device('cpu'))}, torch {torch.__version__}, {workers} sweep worker(s) × {threads} thread(s)"


def describe_status(done: int, total: int) -> str:
    """The status line of a results block that is rewritten after every finished part."""
    return "complete" if done == total else f"partial, {done} of {total} parts measured"


def describe_load(load_start: float) -> str:
    return f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at the last update of this block"
