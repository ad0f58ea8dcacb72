"""Running a sweep on Optuna: the study, the workers, and what a trial trains.

Why Optuna and not a pool of our own: its storage (SQLite in the sweep folder by default, or a
PostgreSQL/MySQL URL that workers on several machines share) is the one place that says which
trials exist, which are taken and which are done, with atomic hand-out of queued trials, so any
number of `gankit sweep run` processes, started anywhere and at any time, share one sweep.

- A trial is a point of the space; it trains one ordinary gankit run folder per seed, under
  `SWEEP/trials/NNNN/seed-S`, and its value is the mean over seeds of the metric in each run's final
  evaluation. A trial whose config is refused, or whose run diverges, ends failed with the reason
  (`error`, `diverged`) and counts as settled: it is not tried again. A diverged run's seed keeps
  its last evaluation and the other seeds still train, so that a table over seeds has them all.
- Pruning (optional, `pruner` in the spec): the first seed's run reports the metric at each
  evaluation, and a trial the pruner judges behind stops there, PRUNED (settled; later seeds are
  not trained).
- A grid sweep puts every point in Optuna's queue when the study is created (by whichever worker
  creates it; the others wait for it), and its workers only take queued trials, so no point runs
  twice. Random and TPE sweeps ask the sampler for a new trial while fewer than `trials` are settled
  or running, each trial's draws seeded by the spec's seed and its number (`_ask`), so that workers
  draw different points.
- Fault tolerance: each running trial beats a heartbeat into the storage. A worker that is killed
  stops beating; after `heartbeat_s` × 3 any worker (one still running, or the same command run
  again) marks its trial failed and Optuna queues a retry of it with the same point. The retry
  trains in the killed trial's folders, so each run resumes from its last checkpoint (a run that
  had finished is only read back). A worker that stops on an unexpected error leaves its trial the
  same way. Finished trials are in the storage, never lost. Workers pick trials one at a time
  (`_claiming`), which SQLite needs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState

from gankit.config import RunConfig
from gankit.errors import RunStopped, TrainingDiverged, UserError
from gankit.report.html import read_metrics
from gankit.run import is_run, pick_device, resumed_config, train
from gankit.sweep.spec import Choices, SweepSpec, encode, load_spec
from gankit.train import checkpoint
from gankit.train.distributed import Distributed

STUDY_FILE = "study.db"
MAX_RETRIES = 3  # a trial whose worker dies this often is left failed
SETTLED = "settled"  # user attribute of a failed trial that is not to be retried (refused, diverged)

optuna.logging.set_verbosity(optuna.logging.WARNING)
# The heartbeat and its retry callback have been "experimental" since Optuna 2.8; they are what we use.
# Workers beat it themselves (study.ask/tell, not study.optimize), which Optuna warns of.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


@dataclass(frozen=True)
class Sweep:
    """Where a sweep lives: its spec (and the folder relative paths in it start from), its folder
    of trial runs, and the storage URL of its Optuna study."""

    spec: SweepSpec
    spec_path: Path
    out: Path
    storage: str

    @classmethod
    def open(cls, spec_path: Path, out: Path | None, storage: str | None) -> "Sweep":
        spec = load_spec(spec_path)
        out = (out or Path("sweeps") / spec_path.stem).resolve()
        return cls(spec, spec_path.resolve(), out, storage or f"sqlite:///{out / STUDY_FILE}")

    @property
    def name(self) -> str:
        return self.spec_path.stem

    def trial_dir(self, number: int) -> Path:
        return self.out / "trials" / f"{number:04d}"


def _storage(sweep: Sweep) -> RDBStorage:
    sqlite = sweep.storage.startswith("sqlite")
    beat = sweep.spec.heartbeat_s
    try:
        return RDBStorage(
            sweep.storage,
            engine_kwargs={"connect_args": {"timeout": 120}} if sqlite else None,  # wait for the file lock
            heartbeat_interval=beat, grace_period=3 * beat,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES),
        )
    except Exception as exc:  # a bad URL, a server that refuses, a missing driver: one line
        raise UserError(f"sweep storage {sweep.storage}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None


def _sampler(spec: SweepSpec, trial_number: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler that draws trial `trial_number`'s point, seeded by the spec's seed and that
    number (see `_ask`). The study is opened with trial 0's: it draws nothing itself, since queued
    trials carry their points and `_ask` gives every new trial its own."""
    seed = int(np.random.SeedSequence([spec.sampler.seed, trial_number]).generate_state(1)[0])
    if spec.sampler.name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)  # grid: only queued trials are run


def _pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """The spec's pruner (`spec.Pruner`), or none: every trial trains to its last step."""
    p = spec.pruner
    if p is None:
        return optuna.pruners.NopPruner()
    if p.name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5 if p.startup_trials is None else p.startup_trials,
                                           n_warmup_steps=p.warmup_steps)
    return optuna.pruners.ThresholdPruner(lower=p.lower, upper=p.upper, n_warmup_steps=p.warmup_steps)


def _ask(study: optuna.Study, spec: SweepSpec) -> optuna.Trial:
    """A new trial, its point to be drawn by a sampler seeded for it alone. Workers that each held
    one sampler with the spec's seed drew the same points in the same order (two processes ran each
    random point twice); seeded by the trial's number, the workers' draws differ, and a random
    sweep draws the same points whatever the number of workers (TPE's later draws depend on the
    results before them as well)."""
    trial = study.ask()
    study.sampler = _sampler(spec, trial.number)  # `trial.suggest_*` draws with the study's sampler
    return trial


def open_study(sweep: Sweep, create: bool) -> tuple[optuna.Study, RDBStorage]:
    """The sweep's study; with `create`, made (and a grid's points queued) when it does not exist.
    A study made from another spec is refused: its trials would not be points of this one."""
    if create:
        sweep.out.mkdir(parents=True, exist_ok=True)
    elif sweep.storage == f"sqlite:///{sweep.out / STUDY_FILE}" and not (sweep.out / STUDY_FILE).exists():
        raise UserError(f"no sweep in {sweep.out} yet (start it with gankit sweep run)")
    storage = _storage(sweep)
    direction = sweep.spec.metric.direction
    spec_json = sweep.spec.model_dump(mode="json")
    if create:
        try:
            study = optuna.create_study(study_name=sweep.name, storage=storage, direction=direction,
                                        sampler=_sampler(sweep.spec), pruner=_pruner(sweep.spec))
        except optuna.exceptions.DuplicatedStudyError:
            pass
        else:
            study.set_user_attr("spec", spec_json)
            for point in sweep.spec.grid_points() if sweep.spec.sampler.name == "grid" else []:
                study.enqueue_trial(point)
            study.set_user_attr("ready", True)
    try:
        study = optuna.load_study(study_name=sweep.name, storage=storage, sampler=_sampler(sweep.spec),
                                  pruner=_pruner(sweep.spec))
    except KeyError:
        raise UserError(f"no sweep {sweep.name!r} in {sweep.storage} yet (start it with gankit sweep run)") from None
    for _ in range(600):  # the worker that created the study is still queueing its grid
        if study.user_attrs.get("ready"):
            break
        time.sleep(0.1)
    else:
        raise UserError(f"sweep {sweep.name!r} in {sweep.storage} was never made ready: the worker that created it "
                        "stopped while queueing its trials; delete the study (for SQLite, the file) and run again")
    if study.user_attrs.get("spec") != spec_json:
        raise UserError(f"sweep {sweep.name!r} in {sweep.storage} was started from another spec; "
                        "run it with that spec, or give this one another --out or --storage")
    return study, storage


# ----------------------------------------------------------------------------------- workers


def run_sweep(sweep: Sweep, workers: int) -> str:
    """Run the sweep's trials in `workers` processes (each taking the cores' share of threads)
    until every trial is settled; returns the status line."""
    open_study(sweep, create=True)
    if workers == 1:
        work(sweep)
    else:
        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // workers)
        processes = [context.Process(target=_worker_main, args=(sweep, threads)) for _ in range(workers)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        failed = [p.exitcode for p in processes if p.exitcode != 0]
        if failed:
            raise UserError(f"{len(failed)} of {workers} sweep workers stopped with an error (exit {failed[0]}); "
                            "run the same command again to go on")
    return status_line(sweep)


def _worker_main(sweep: Sweep, threads: int) -> None:
    torch.set_num_threads(threads)
    try:
        work(sweep)
    except UserError as exc:
        print(f"gankit: error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def work(sweep: Sweep) -> None:
    """One worker: take queued trials (a grid's points, the retries of dead workers' trials), or
    new ones from the sampler, until every trial is settled; wait for trials other workers run,
    since they may die and leave a retry."""
    study, storage = open_study(sweep, create=False)
    while True:
        with _claiming(sweep):
            fail_stale_trials(study)
            trial = _take_queued(study, storage) or _new_trial(sweep, study)
        if trial is None:
            if not any(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False)):
                return
            time.sleep(sweep.spec.heartbeat_s)
            continue
        run_trial(sweep, study, storage, trial)


def _new_trial(sweep: Sweep, study: optuna.Study) -> optuna.Trial | None:
    """A new trial from the sampler while fewer than `trials` are settled or running (never for a
    grid, whose points were all queued)."""
    if sweep.spec.sampler.name == "grid":
        return None
    trials = study.get_trials(deepcopy=False)
    taken = sum(_settled(t) or t.state == TrialState.RUNNING for t in trials)
    return _ask(study, sweep.spec) if taken < sweep.spec.trial_count() else None


@contextlib.contextmanager
def _claiming(sweep: Sweep):
    """Hold the sweep's claim lock while a worker picks its next trial. Optuna moves a queued trial
    to RUNNING with a read, then a write; PostgreSQL and MySQL lock the row between them (SELECT …
    FOR UPDATE), SQLite does not, so two workers on one SQLite file could both take the same trial
    (measured: 4 processes took 40 queued trials 47–49 times). A file lock beside the database makes
    the read-then-write one step for every process on the machine; it also keeps two workers from
    both asking the sampler for the last trial."""
    if not sweep.storage.startswith("sqlite:///"):
        yield
        return
    with open(f"{sweep.storage.removeprefix('sqlite:///')}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _settled(trial: optuna.trial.FrozenTrial) -> bool:
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and bool(trial.user_attrs.get(SETTLED))
    )


def _take_queued(study: optuna.Study, storage: RDBStorage) -> optuna.Trial | None:
    """A queued trial, taken atomically (the storage moves it WAITING → RUNNING for one worker only)."""
    for queued in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(queued._trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, queued._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def _point(sweep: Sweep, trial: optuna.Trial) -> dict[str, Any]:
    """The trial's point, suggested through Optuna (fixed for a queued or retried trial)."""
    point = {}
    for key, dim in sweep.spec.space.items():
        if isinstance(dim, Choices):
            point[key] = trial.suggest_categorical(key, [encode(v) for v in dim.choices])
        elif dim.int:
            point[key] = trial.suggest_int(key, int(dim.low), int(dim.high), log=dim.log)
        else:
            point[key] = trial.suggest_float(key, dim.low, dim.high, log=dim.log)
    return point


@contextlib.contextmanager
def _heartbeat(storage: RDBStorage, trial_id: int, every: float):
    """Beat the trial's heartbeat while it trains, so other workers know it is alive."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # a storage busy past its timeout: beat again, rather than fall silent
                continue

    storage.record_heartbeat(trial_id)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_trial(sweep: Sweep, study: optuna.Study, storage: RDBStorage, trial: optuna.Trial) -> None:
    """Train the trial's runs and tell the study how it went. A trial that another worker took for
    dead meanwhile (its heartbeat stalled) is left to its retry. An unexpected error is raised and
    the trial is left running without a heartbeat, as a killed worker leaves it: after three beats
    a worker marks it failed and Optuna queues its retry (a trial told FAIL here would never be)."""
    try:
        _run_trial(sweep, study, storage, trial)
    except optuna.exceptions.UpdateFinishedTrialError:
        print(f"trial {trial.number}: taken for dead by another worker meanwhile; its retry goes on", file=sys.stderr)


def _run_trial(sweep: Sweep, study: optuna.Study, storage: RDBStorage, trial: optuna.Trial) -> None:
    point = _point(sweep, trial)
    frozen = storage.get_trial(trial._trial_id)
    number = RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)
    folder = sweep.trial_dir(trial.number if number is None else number)
    trial.set_user_attr("folder", str(folder))
    metric = sweep.spec.metric.name
    values, diverged = [], []
    with _heartbeat(storage, trial._trial_id, sweep.spec.heartbeat_s):
        try:
            for seed in sweep.spec.seeds:
                cfg = sweep.spec.trial_config(sweep.spec_path.parent, point, seed)
                judged = seed == sweep.spec.seeds[0] and sweep.spec.pruner is not None
                run = train_or_resume(cfg, folder / f"seed-{seed}", _reporter(trial, metric) if judged else None)
                trial.set_user_attr(f"seed-{seed}", run)
                if run["pruned"]:
                    study.tell(trial, state=TrialState.PRUNED)
                    print(f"trial {trial.number}: pruned: {run['pruned']} ({_shown(sweep, point)})", flush=True)
                    return
                if run["diverged"]:
                    diverged.append(f"seed {seed}: {run['diverged']}")
                elif metric not in run["final"]:
                    raise UserError(f"the final evaluation of {folder / f'seed-{seed}'} has no {metric}")
                else:
                    values.append(run["final"][metric])
        except UserError as exc:
            _settle_failed(study, trial, "error", str(exc))
            return
    if diverged:
        _settle_failed(study, trial, "diverged", "; ".join(diverged))
        return
    value = statistics.fmean(values)
    study.tell(trial, value)
    print(f"trial {trial.number}: {metric} {value:.4g} ({_shown(sweep, point)})", flush=True)


def _reporter(trial: optuna.Trial, metric: str) -> Callable[[int, dict[str, float]], None]:
    """What hears the first seed's evaluations: each value of the metric goes to the study, and
    the run stops (RunStopped) when the pruner says the trial is behind."""

    def report(step: int, metrics: dict[str, float]) -> None:
        if metric not in metrics:
            return
        trial.report(metrics[metric], step)
        if trial.should_prune():
            raise RunStopped(f"{metric} {metrics[metric]:.4g} at step {step} is behind the earlier trials")

    return report


def _settle_failed(study: optuna.Study, trial: optuna.Trial, why: str, message: str) -> None:
    """Fail the trial for good (`why`: error or diverged), with its reason, so it is not retried."""
    trial.set_user_attr(SETTLED, True)
    trial.set_user_attr(why, message)
    study.tell(trial, state=TrialState.FAIL)
    print(f"trial {trial.number}: failed: {message}", flush=True)


def _shown(sweep: Sweep, params: dict[str, Any]) -> str:
    """A point as `--set` would take it: choices decoded from the JSON text Optuna stores."""
    return ", ".join(f"{key}={_value(sweep, key, value)}" for key, value in params.items())


def _value(sweep: Sweep, key: str, value: Any) -> Any:
    return json.loads(value) if isinstance(sweep.spec.space.get(key), Choices) else value


def train_or_resume(
    cfg: RunConfig, run_dir: Path, on_eval: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train the run in `run_dir`, resuming from its last checkpoint when a killed worker left one.
    Returns its record: the final evaluation row (`final`; a diverged or pruned run's last
    evaluation), the step it resumed at (`resumed_at`, None: trained from the start), the wall and
    CPU seconds of this call (`wall_s`, `cpu_s`: the process's own CPU time, which barely changes
    when other work shares the machine), why it diverged (`diverged`) and why `on_eval` stopped it
    (`pruned`), each None when it did not. The run's own output goes to `seed-S.log` beside it."""
    steps = checkpoint.list_steps(run_dir) if is_run(run_dir) else []
    resumed_at = steps[-1] if steps else None
    device = pick_device(cfg.train.device)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    wall, cpu = time.perf_counter(), time.process_time()
    diverged = pruned = None
    with open(run_dir.parent / f"{run_dir.name}.log", "a") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            if resumed_at is None:  # a folder without a checkpoint is a start cut short: begin again
                train(cfg, run_dir, Distributed(), device, resume=False, overwrite=run_dir.exists(), on_eval=on_eval)
            elif resumed_at < cfg.train.steps:
                resumed, _ = resumed_config(run_dir)
                train(resumed, run_dir, Distributed(), device, resume=True, on_eval=on_eval)
        except TrainingDiverged as exc:
            diverged = str(exc)
        except RunStopped as exc:
            pruned = str(exc)
    evals = [r for r in read_metrics(run_dir) if r["kind"] == "eval"]
    if not evals:
        raise UserError(f"{run_dir} logged no evaluation")
    return {
        "final": {k: v for k, v in evals[-1].items() if k not in ("kind", "step")}, "resumed_at": resumed_at,
        "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "diverged": diverged,
        "pruned": pruned,
    }


# ------------------------------------------------------------------------------------ reading


def status_line(sweep: Sweep) -> str:
    study, _ = open_study(sweep, create=False)
    trials = study.get_trials(deepcopy=False)
    counts = {state.name.lower(): sum(t.state == state for t in trials) for state in TrialState}
    shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    settled = sum(_settled(t) for t in trials)
    line = f"sweep {sweep.name}: {settled} of {sweep.spec.trial_count()} trials settled ({shown or 'none yet'})"
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        best = study.best_trial
        line += f"; best {sweep.spec.metric.name} {best.value:.4g} (trial {best.number}: {_shown(sweep, best.params)})"
    return line


def table(sweep: Sweep) -> str:
    """Every trial as a Markdown row: its point, state, value and per-seed values, its folder."""
    study, _ = open_study(sweep, create=False)
    keys = list(sweep.spec.space)
    metric = sweep.spec.metric.name
    head = ["trial", *keys, "state", f"{metric} (mean)", *[f"seed {s}" for s in sweep.spec.seeds], "folder"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in study.get_trials(deepcopy=False):
        seeds = [t.user_attrs.get(f"seed-{s}", {}).get("final", {}).get(metric) for s in sweep.spec.seeds]
        state = t.state.name.lower() + (" (retried)" if t.state == TrialState.FAIL and not _settled(t) else "")
        note = t.user_attrs.get("error") or t.user_attrs.get("diverged")
        row = [
            str(t.number), *[str(_value(sweep, k, t.params[k])) if k in t.params else "" for k in keys],
 state + (f": {note}" if note else ""),
            "" if t.value is None else f"{t.value:.4g}", *["" if v is None else f"{v:.4g}" for v in seeds],
            os.path.relpath(t.user_attrs["folder"], sweep.out) if "folder" in t.user_attrs else "",
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def trials_json(sweep: Sweep) -> list[dict[str, Any]]:
    """The trials as plain data (for scripts and tests): number, state, point, value, wall seconds
    from start to end (None until it ends), attributes."""
    study, _ = open_study(sweep, create=False)
    return [
        {"number": t.number, "state": t.state.name, "value": t.value,
         "params": {k: _value(sweep, k, v) for k, v in t.params.items()},
         "seconds": (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None,
         "settled": _settled(t), "user_attrs": json.loads(json.dumps(t.user_attrs))}
        for t in study.get_trials(deepcopy=False)
    ]
