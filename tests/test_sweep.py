"""`gankit sweep` on an Optuna study: several workers on one SQLite study, a killed worker's trial
retried and resumed from its checkpoint, samplers, and bad specs refused in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from gankit.sweep import Sweep, trials_json
from gankit.train import checkpoint
from tests.conftest import TINY

GRID = {
    "base": {"preset": "toy-ring8", "set": TINY},
    "space": {"objective.name": {"choices": ["hinge", "least-squares"]}, "optim.d.lr": {"choices": [1.0e-4, 1.0e-3]}},
    "seeds": [0, 1],
    "metric": {"name": "high_quality", "direction": "maximize"},
    "sampler": {"name": "grid"},
}


def write_spec(path: Path, spec: dict) -> Path:
    path.write_text(yaml.safe_dump(spec))
    return path


def gankit(*args, cwd: Path, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "gankit", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study_and_run_each_grid_point_once(tmp_path, cli):
    spec = write_spec(tmp_path / "grid.yaml", GRID)
    done = gankit("sweep", "run", spec, "--workers", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 of 4 trials settled (4 complete)" in done.stdout
    trials = trials_json(Sweep.open(spec, tmp_path / "sweeps" / "grid", None))
    points = sorted((t["params"]["objective.name"], t["params"]["optim.d.lr"]) for t in trials)
    assert points == [("hinge", 1e-4), ("hinge", 1e-3), ("least-squares", 1e-4), ("least-squares", 1e-3)]
    for t in trials:  # each trial trained its seeds; the value is their mean
        seeds = [t["user_attrs"][f"seed-{s}"]["final"]["high_quality"] for s in (0, 1)]
        assert t["state"] == "COMPLETE" and t["value"] == pytest.approx(sum(seeds) / 2)
        assert 0 < t["seconds"] < 300
    run = tmp_path / "sweeps" / "grid" / "trials" / "0002" / "seed-1"
    assert (run / "run.json").exists()
    assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == 1
    assert cli("sample", run, "-n", 10, "--out", tmp_path / "s.npy")[0] == 0  # an ordinary run folder
    again = gankit("sweep", "run", spec, cwd=tmp_path)  # nothing left to do: no trial trains again
    assert again.returncode == 0 and "trial" not in again.stdout.split("sweep grid:")[0]
    table = gankit("sweep", "table", spec, cwd=tmp_path).stdout
    assert table.count("| complete |") == 4 and "| least-squares | 0.001 |" in table


def _take_every_queued_trial(spec_path: str, out: str, barrier, taken) -> None:
    """A worker's claim loop without the training: take queued trials until none is left."""
    from gankit.sweep import engine

    sweep = engine.Sweep.open(Path(spec_path), Path(out), None)
    study, storage = engine.open_study(sweep, create=False)
    barrier.wait()  # every process asks at once
    numbers = []
    while True:
        with engine._claiming(sweep):
            trial = engine._take_queued(study, storage)
        if trial is None:
            break
        numbers.append(trial.number)
    taken.put(numbers)


@pytest.mark.slow
def test_processes_racing_for_queued_trials_on_sqlite_take_each_once(tmp_path):
    """SQLite does not lock the row Optuna reads before it marks a trial running: without the
    sweep's claim lock, 4 processes took 40 queued trials 47–49 times."""
    import multiprocessing

    from gankit.sweep import engine

    points = list(range(8, 48))
    spec = write_spec(tmp_path / "race.yaml", {**GRID, "space": {"train.batch_size": {"choices": points}}, "seeds": [0]})
    engine.open_study(Sweep.open(spec, tmp_path / "sw", None), create=True)
    context = multiprocessing.get_context("spawn")
    barrier, taken = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_take_every_queued_trial, args=(str(spec), str(tmp_path / "sw"), barrier, taken))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    numbers = sum((taken.get(timeout=120) for _ in workers), [])
    for worker in workers:
        worker.join()
    assert sorted(numbers) == list(range(len(points)))


@pytest.mark.slow
def test_a_killed_worker_s_trial_is_retried_and_resumes_from_its_checkpoint(tmp_path):
    long = [*TINY, "train.steps=4000", "log.eval_every=2000", "log.checkpoint_every=100"]
    spec = write_spec(tmp_path / "kill.yaml", {
        **GRID, "base": {"preset": "toy-ring8", "set": long}, "seeds": [0],
        "space": {"objective.name": {"choices": ["hinge"]}}, "heartbeat_s": 1,
    })
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "gankit", "sweep", "run", str(spec)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    run_dir = tmp_path / "sweeps" / "kill" / "trials" / "0000" / "seed-0"
    deadline = time.monotonic() + 120
    # A finished checkpoint, not the folder being filled (killed then, the retry starts over, as it should).
    while not checkpoint.list_steps(run_dir) and time.monotonic() < deadline:
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()

    done = gankit("sweep", "run", spec, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 of 1 trials settled" in done.stdout
    killed, retry = trials_json(Sweep.open(spec, tmp_path / "sweeps" / "kill", None))
    assert killed["state"] == "FAIL" and not killed["settled"]  # taken for dead, not for a failure
    assert retry["state"] == "COMPLETE" and retry["user_attrs"]["folder"] == killed["user_attrs"]["folder"]
    resumed_at = retry["user_attrs"]["seed-0"]["resumed_at"]
    assert resumed_at is not None and resumed_at % 100 == 0 and 0 < resumed_at < 4000


def test_a_tpe_sweep_searches_a_log_range(tmp_path, cli):
    spec = write_spec(tmp_path / "tpe.yaml", {
        **GRID, "seeds": [0], "space": {"optim.g.lr": {"low": 1.0e-5, "high": 1.0e-2, "log": True}},
        "sampler": {"name": "tpe", "trials": 3, "seed": 1},
    })
    code, out, err = cli("sweep", "run", spec, "--out", tmp_path / "tpe")
    assert code == 0, err
    trials = trials_json(Sweep.open(spec, tmp_path / "tpe", None))
    assert [t["state"] for t in trials] == ["COMPLETE"] * 3
    lrs = [t["params"]["optim.g.lr"] for t in trials]
    assert all(1e-5 <= lr <= 1e-2 for lr in lrs) and len(set(lrs)) == 3
    saved = [yaml.safe_load((Path(t["user_attrs"]["folder"]) / "seed-0" / "config.yaml").read_text()) for t in trials]
    assert [s["optim"]["g"]["lr"] for s in saved] == lrs  # each trial's run trained at its point


@pytest.mark.slow
def test_random_workers_draw_different_points_and_the_seed_fixes_them(tmp_path, cli):
    """Two worker processes seeded alike drew the same points (each random point ran twice); each
    trial's draws are seeded by its number, so the points differ, and a sweep with the same seed
    on one worker draws the same ones (four specs sharing a seed compare the same points)."""
    random = {**GRID, "seeds": [0], "space": {"optim.g.lr": {"low": 1.0e-5, "high": 1.0e-2, "log": True},
                                              "model.g.activation": {"choices": ["relu", "tanh", "softplus"]}},
              "sampler": {"name": "random", "trials": 4, "seed": 3}}
    spec = write_spec(tmp_path / "random.yaml", random)
    done = gankit("sweep", "run", spec, "--workers", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trials = trials_json(Sweep.open(spec, tmp_path / "sweeps" / "random", None))
    points = {t["number"]: tuple(t["params"].values()) for t in trials}
    assert len(points) >= 4 and len(set(points.values())) == len(points)

    again = write_spec(tmp_path / "again.yaml", random)
    assert cli("sweep", "run", again, "--out", tmp_path / "again")[0] == 0
    alone = {t["number"]: tuple(t["params"].values()) for t in trials_json(Sweep.open(again, tmp_path / "again", None))}
    assert sorted(alone) == [0, 1, 2, 3] and all(alone[n] == points[n] for n in alone)


def test_a_refused_trial_is_settled_with_its_reason(tmp_path, cli):
    spec = write_spec(tmp_path / "refused.yaml", {**GRID, "seeds": [0], "space": {"train.batch_size": {"choices": [32, -1]}}})
    code, out, err = cli("sweep", "run", spec, "--out", tmp_path / "sw")
    assert code == 0, err
    assert "2 of 2 trials settled (1 complete, 1 fail)" in out
    failed = [t for t in trials_json(Sweep.open(spec, tmp_path / "sw", None)) if t["state"] == "FAIL"]
    assert failed[0]["settled"] and "train.batch_size" in failed[0]["user_attrs"]["error"]


DIVERGES = ["objective.name=least-squares", "optim.g.name=sgd", "optim.d.name=sgd", "optim.g.lr=3", "optim.d.lr=3",
            "train.steps=60", "log.eval_every=1"]  # overflows within a few steps (as in test_cli)


def test_variants_are_lists_of_overrides_and_a_diverged_seed_keeps_its_last_evaluation(tmp_path, cli):
    spec = write_spec(tmp_path / "variants.yaml", {**GRID, "space": {"set": {"choices": [[], DIVERGES]}}})
    code, out, err = cli("sweep", "run", spec, "--out", tmp_path / "sw")
    assert code == 0, err
    assert "2 of 2 trials settled (1 complete, 1 fail)" in out
    plain, diverging = trials_json(Sweep.open(spec, tmp_path / "sw", None))
    assert plain["state"] == "COMPLETE" and plain["params"]["set"] == []
    assert yaml.safe_load((tmp_path / "sw/trials/0001/seed-0/config.yaml").read_text())["optim"]["d"]["lr"] == 3
    assert diverging["settled"] and "seed 0: " in diverging["user_attrs"]["diverged"]
    for seed in (0, 1):  # every seed trained, though seed 0 diverged first; each kept an evaluation
        run = diverging["user_attrs"][f"seed-{seed}"]
        assert run["diverged"] and "high_quality" in run["final"] and run["cpu_s"] > 0 and run["wall_s"] > 0
        assert plain["user_attrs"][f"seed-{seed}"]["diverged"] is None


def test_an_empty_grid_space_trains_the_base_once_per_seed(tmp_path, cli):
    spec = write_spec(tmp_path / "seeds.yaml", {**GRID, "space": {}})
    code, out, err = cli("sweep", "run", spec, "--out", tmp_path / "sw")
    assert code == 0 and "1 of 1 trials settled (1 complete)" in out, err
    assert sorted(p.name for p in (tmp_path / "sw/trials/0000").iterdir() if p.is_dir()) == ["seed-0", "seed-1"]


def test_a_pruned_trial_stops_at_the_evaluation_its_pruner_judges_and_trains_no_more_seeds(tmp_path, cli):
    # high_quality is a share, never above 2: from step 6 on every evaluation is below the threshold
    pruner = {"name": "threshold", "lower": 2.0, "warmup_steps": 6}
    spec = write_spec(tmp_path / "pruned.yaml", {**GRID, "space": {"objective.name": {"choices": ["hinge"]}}, "pruner": pruner})
    code, out, err = cli("sweep", "run", spec, "--out", tmp_path / "sw")
    assert code == 0, err
    assert "1 of 1 trials settled (1 pruned)" in out and "pruned: high_quality" in out
    (trial,) = trials_json(Sweep.open(spec, tmp_path / "sw", None))
    assert trial["settled"] and "at step 6" in trial["user_attrs"]["seed-0"]["pruned"]
    run = tmp_path / "sw/trials/0000/seed-0"
    evals = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "eval"]
    assert evals == [0, 6]  # step 0 is within the warm-up; step 6 is judged, and the run stops (of 12)
    assert "stopped at step 6" in (run / "report.html").read_text()
    assert not (tmp_path / "sw/trials/0000/seed-1").exists()


def test_the_median_pruner_takes_the_spec_s_settings(tmp_path):
    from gankit.sweep.engine import _pruner

    spec = write_spec(tmp_path / "m.yaml", {**GRID, "pruner": {"name": "median", "startup_trials": 2, "warmup_steps": 100}})
    pruner = _pruner(Sweep.open(spec, tmp_path / "sw", None).spec)
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    assert (pruner._n_startup_trials, pruner._n_warmup_steps, pruner._percentile) == (2, 100, 50.0)


@pytest.mark.parametrize("change, message", [
    ({"spaec": {}}, "spaec: Extra inputs are not permitted"),
    ({"space": {"train.stepz": {"choices": [1]}}}, "unknown key 'train.stepz'"),
    ({"space": {"optim.d.lr": {"low": 1e-4, "high": 1e-3}}}, "sampler grid searches choices only; give optim.d.lr a list"),
    ({"sampler": {"name": "tpe"}}, "sampler tpe needs sampler.trials"),
    ({"metric": {"name": "fid", "direction": "minimize"}}, "metric 'fid' is not one this run reports"),
    ({"space": {"optim.d.lr": {"low": 1e-3, "high": 1e-4}}, "sampler": {"name": "random", "trials": 2}}, "low < high"),
    ({"base": {"preset": "toy-ring8", "config": "x.yaml"}}, "exactly one of base.preset and base.config"),
    ({"seeds": [0, 0]}, "seeds must differ"),
    ({"space": {"set": {"choices": [[], "train.ema=0.9"]}}}, "space.set takes choices that are lists of overrides"),
    ({"space": {"set": {"choices": [[], ["train.emma=0.9"]]}}}, "unknown key 'train.emma'"),
    ({"space": {}, "sampler": {"name": "random", "trials": 2}}, "an empty space has one point; give sampler grid"),
    ({"pruner": {"name": "threshold"}}, "pruner threshold needs lower or upper"),
    ({"pruner": {"name": "median", "upper": 1.0}}, "pruner median takes startup_trials and warmup_steps"),
])
def test_a_bad_spec_is_one_line_and_exit_2(tmp_path, cli, change, message):
    spec = write_spec(tmp_path / "bad.yaml", {**GRID, **change})
    code, out, err = cli("sweep", "run", spec, "--out", tmp_path / "sw")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "sw").exists()


def test_another_spec_on_an_existing_sweep_is_refused(tmp_path, cli):
    spec = write_spec(tmp_path / "s.yaml", {**GRID, "seeds": [0], "space": {"objective.name": {"choices": ["hinge"]}}})
    assert cli("sweep", "run", spec, "--out", tmp_path / "sw")[0] == 0
    write_spec(spec, {**GRID, "seeds": [0, 1], "space": {"objective.name": {"choices": ["hinge"]}}})
    code, _, err = cli("sweep", "run", spec, "--out", tmp_path / "sw")
    assert code == 2 and "was started from another spec" in err
    code, _, err = cli("sweep", "status", tmp_path / "s.yaml", "--out", tmp_path / "elsewhere")
    assert code == 2 and "no sweep in" in err
