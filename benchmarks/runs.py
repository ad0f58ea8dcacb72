"""What the quality benchmarks share: training runs in worker processes, and a resumable runs log.

Why a module: `toy_modes.py` and `improved_gan_ablation.py` both train many runs of a preset,
side by side, and keep every finished run in a JSON-lines log so that an interrupted benchmark picks
up where it stopped. The pieces that do that live here once.

- `train_run` trains one RunConfig with the same library calls as `gankit train`, quietly, and
  returns its final evaluation row with the wall and CPU time it took.
- `Runner` submits runs to a pool of worker processes (`jobs` × `threads`, each worker dying with
  the parent) or, when the runs log already holds a run, hands back the logged result instead. A
  log row is keyed by (fingerprint, steps): the config fingerprint (`RunConfig.fingerprint()`, which
  covers everything that changes the training math) or any other string the benchmark derives
  from it, and the number of training steps.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import ctypes
import dataclasses
import io
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.config import RunConfig
from gankit.errors import TrainingDiverged
from gankit.run import pick_device, train
from gankit.train.distributed import Distributed
from machine import device_name

RunKey = tuple[str, int]  # (fingerprint, steps)
R = typing.TypeVar("R")


class Clock:
    """Wall and CPU time since creation. CPU time is the process's own: robust to other work on the
    machine, unlike wall time."""

    def __init__(self) -> None:
        self.wall_start, self.cpu_start = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall_start, time.process_time() - self.cpu_start


@dataclass(frozen=True)
class Trained:
    """A finished run: its final evaluation row (`metrics.jsonl`'s last `eval` row, without the
    bookkeeping keys), its wall and CPU seconds, and whether it stopped on a non-finite loss."""

    final: dict[str, float]
    wall_s: float
    cpu_s: float
    diverged: bool


def train_run(cfg: RunConfig, preset: str, run_dir: Path) -> Trained:
    """Train one run quietly and read its final evaluation back from metrics.jsonl. A diverged run
    reports the last evaluation it made (the step-0 one at worst)."""
    captured = io.StringIO()
    diverged = False
    clock = Clock()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            train(cfg, run_dir, Distributed(), pick_device(cfg.train.device), resume=False, preset=preset, overwrite=True)
    except TrainingDiverged:
        diverged = True
    except Exception:
        sys.stderr.write(captured.getvalue()[-4000:])
        raise
    wall, cpu = clock.read()
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in rows if r["kind"] == "eval"][-1]
    metrics = {k: v for k, v in final.items() if k not in ("kind", "step")}
    return Trained(metrics, wall, cpu, diverged)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark built on `Runner` takes: budget override, output, parallelism."""
    parser.add_argument("--steps", type=int, help="override every training budget (a smoke run: writes nothing)")
    parser.add_argument("--write", action="store_true", help="write docs/RESULTS.md and the runs log even with --steps")
    parser.add_argument("--out-dir", type=Path, help="keep the run folders here (default: a temp dir)")
    parser.add_argument("--fresh", action="store_true", help="retrain runs already in the runs log")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side (processes)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads per run")


def check_run_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in ("steps", "jobs", "threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive")


def init_worker(threads: int) -> None:
    """Worker initializer: fixed intra-op threads, so parallel runs don't oversubscribe the cores,
    and (on Linux) death with the parent, so a killed benchmark leaves no orphans training on."""
    torch.set_num_threads(threads)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def describe_machine(jobs: int, threads: int) -> str:
    """The machine as every RESULTS.md table names it, and how the runs shared it."""
    return (
        f"{device_name(torch.device('cpu'))}, torch {torch.__version__}, "
        f"{jobs} run(s) at a time × {threads} thread(s) each"
    )


def describe_status(done: int, total: int, reused: int) -> str:
    """The status line of a results block that is rewritten after every finished cell."""
    status = "complete" if done == total else f"partial, {done} of {total} cells measured"
    return status + (f"; {reused} runs taken from the runs log of an earlier invocation" if reused else "")


def describe_load(load_start: float) -> str:
    return f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at the last update of this block"


def read_runs_log(path: Path) -> dict[RunKey, dict]:
    """Finished runs' results (as logged) by (fingerprint, steps); the last row wins."""
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        found[row["fingerprint"], row["steps"]] = row["result"]
    return found


def done_future(result: R) -> concurrent.futures.Future[R]:
    future: concurrent.futures.Future[R] = concurrent.futures.Future()
    future.set_result(result)
    return future


class Runner:
    """Runs trained in `jobs` worker processes, or taken from the runs log at `log_path`.

    `record`: append every finished run to the log (one JSON line: key, `fields`, machine, date
    and the result as a dict). `reuse`: answer a run the log already holds with the logged result,
    rebuilt as `result_type(**logged)`. A key submitted twice is trained once: both get the same
    future. Run folders go under `out_dir`, or a temporary folder that is removed on leaving `stack`.
    """

    def __init__(
        self, stack: contextlib.ExitStack, *, log_path: Path, result_type: type, jobs: int, threads: int,
        out_dir: Path | None, prefix: str, record: bool, reuse: bool,
    ) -> None:
        self.root = out_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
        self.pool = stack.enter_context(
            concurrent.futures.ProcessPoolExecutor(jobs, multiprocessing.get_context("spawn"), init_worker, (threads,))
        )
        self.log_path, self.result_type, self.record = log_path, result_type, record
        self.machine = describe_machine(jobs, threads)
        self.logged = read_runs_log(log_path) if reuse else {}
        self.reused = 0
        self.submitted: dict[RunKey, concurrent.futures.Future] = {}

    def folder(self, name: str) -> Path:
        return self.root / name

    def submit(
        self, key: RunKey, fields: dict[str, typing.Any], fn: typing.Callable[..., R], *args: typing.Any
    ) -> concurrent.futures.Future[R]:
        """`fn(*args)` in a worker, unless the log holds `key` or it was submitted already."""
        if key in self.submitted:
            return self.submitted[key]
        if key in self.logged:
            self.reused += 1
            future = done_future(self.result_type(**self.logged[key]))
        else:
            future = self.pool.submit(fn, *args)
            if self.record:
                future.add_done_callback(self._appender(key, fields))
        self.submitted[key] = future
        return future

    def _appender(self, key: RunKey, fields: dict[str, typing.Any]) -> typing.Callable[[concurrent.futures.Future], None]:
        """A done-callback that appends a finished run to the runs log (one JSON line, flushed)."""

        def append(future: concurrent.futures.Future) -> None:
            if future.exception() is not None:
                return
            row = {
                "fingerprint": key[0], "steps": key[1], **fields, "machine": self.machine,
                "date": time.strftime("%Y-%m-%d"), "result": dataclasses.asdict(future.result()),
            }
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "a") as handle:
                handle.write(json.dumps(row) + "\n")

        return append
