"""`gankit sweep` on an Optuna study: several workers on one SQLite study, a killed worker's trial
retried and resumed from its checkpoint, samplers, and bad specs refused in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


@pytest.mark.parametrize("change, message", [
    ({"spaec": {}}, "spaec: Extra inputs are not permitted"),
    ({"space": {"train.stepz": {"choices": [1]}}}, "unknown key 'train.stepz'"),
    ({"space": {"optim.d.lr": {"low": 1e-4, "high": 1e-3}}}, "sampler grid searches choices only; give optim.d.lr a list"),
    ({"sampler": {"name": "tpe"}}, "sampler tpe needs sampler.trials"),
    ({"metric": {"name": "fid", "direction": "minimize"}}, "metric 'fid' is not one this run reports"),
    ({"space": {"optim.d.lr": {"low": 1e-3, "high": 1e-4}}, "sampler": {"name": "random", "trials": 2}}, "low < high"),
    ({"base": {"preset": "toy-ring8", "config": "x.yaml"}}, "exactly one of base.preset and base.config"),
    ({"seeds": [0, 0]}, "seeds must differ"),
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
