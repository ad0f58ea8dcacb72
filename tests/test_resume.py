"""`--resume` continues a run exactly: N steps then N more equal 2N straight through, bit for bit."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.train import checkpoint
from tests.conftest import tiny_args


@pytest.mark.parametrize(
    "extra",
    [
        # Dropout (the global RNG) and an EMA generator (technique state) under the default loss.
        ["model.d.dropout=0.2", "train.ema=0.9"],
        # The gradient penalty draws per-example noise from the batch stream; n_critic = 5.
        ["objective.name=wgan-gp"],
        # The 2014 recipe: SGD with momentum, k = 2, maxout D.
        ["objective.name=minimax", "optim.d.name=sgd", "optim.d.lr=0.05", "optim.d.momentum=0.5",
         "train.d_steps=2", "model.d.activation=maxout"],
    ],
    ids=["dropout-ema", "wgan-gp", "sgd-maxout"],
)
def test_resume_matches_an_uninterrupted_run(tmp_path, cli, extra):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli("train", "--preset", "toy-ring8", "--out", straight, *tiny_args(*extra))[0] == 0
    assert cli("train", "--preset", "toy-ring8", "--out", split, *tiny_args(*extra, "train.steps=6"))[0] == 0
    assert checkpoint.list_steps(split) == [6]
    code, _, err = cli("train", "--resume", split, "--set", "train.steps=12")
    assert code == 0, err

    a, b = checkpoint.load(straight), checkpoint.load(split)
    assert a.step == b.step == 12
    assert a.tensors.keys() == b.tensors.keys()
    different = [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])]
    assert different == []
    assert any(k.startswith("opt_d.state.") for k in a.tensors)


def test_resume_refuses_to_change_the_training_math(trained_run, cli):
    code, _, err = cli("train", "--resume", trained_run, "--set", "model.g.hidden=[32]", "--set", "train.steps=99",
                       "--set", "log.every=3")
    assert code == 2
    assert "only train.steps, train.device, log.*, description may change; changed: model.g.hidden\n" in err
    config = (trained_run / "config.yaml").read_text()
    code, _, err = cli("train", "--resume", trained_run, "--set", "train.steps=6")
    assert code == 2 and "train.steps=6 is below the step 12" in err
    assert (trained_run / "config.yaml").read_text() == config


def test_resume_of_a_finished_run_trains_nothing(trained_run, cli):
    before = checkpoint.load(trained_run)
    (trained_run / "run.json").write_text("{damaged")  # only the report's heading reads it
    code, out, _ = cli("train", "--resume", trained_run)
    assert code == 0 and "step 12" in out
    after = checkpoint.load(trained_run)
    assert all(torch.equal(before.tensors[k], after.tensors[k]) for k in before.tensors)


def test_resume_needs_a_run_folder(tmp_path, cli):
    code, _, err = cli("train", "--resume", tmp_path)
    assert code == 2 and "not a gankit run folder" in err


def test_resume_after_the_metrics_log_keeps_one_line_per_step(tmp_path, cli):
    run = tmp_path / "run"
    cli("train", "--preset", "toy-ring8", "--out", run, *tiny_args("train.steps=6"))
    cli("train", "--resume", run, "--set", "train.steps=12")
    import json

    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 12


def test_resume_skips_metrics_lines_gankit_did_not_write(trained_run, cli):
    with (trained_run / "metrics.jsonl").open("a") as log:
        log.write('{"kind": "eval"}\n[1, 2]\n')
    code, out, err = cli("train", "--resume", trained_run, "--set", "train.steps=14")
    assert code == 0 and "step 14" in out, err


def test_a_resume_refused_on_corrupt_curves_leaves_the_run_as_it_was(tmp_path, cli):
    run = tmp_path / "g1"
    assert cli("train", "--preset", "goodfellow-1d", "--out", run, *tiny_args("model.z_dim=1", "log.eval_every=3"))[0] == 0
    (run / "figure1.json").write_text("[{]")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, _, err = cli("train", "--resume", run, "--set", "train.steps=15")
    assert code == 2 and "figure1.json is corrupt" in err and len(err.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


FIXTURE = Path(__file__).parent / "fixtures" / "run-v1"


def test_a_run_saved_before_config_versions_still_resumes_exactly_and_samples(tmp_path, cli):
    """tests/fixtures/run-v1 was trained by gankit as it was before config versions (commit
    fd473f3: toy-ring8, tiny nets, EMA, 12 steps, checkpoints at 6 and 12). Resumed from its step 6
    it must reach the very weights its step 12 holds, and it must sample; its config.yaml is then
    saved at today's version."""
    import yaml

    from gankit.config import CONFIG_VERSION

    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    assert "version" not in yaml.safe_load((run / "config.yaml").read_text())
    expected = checkpoint.load(run, 12)
    shutil.rmtree(run / "checkpoints" / "step-00000012")
    code, _, err = cli("train", "--resume", run, "--set", "log.eval_every=100")
    assert code == 0, err
    resumed = checkpoint.load(run)
    assert resumed.step == 12 and resumed.tensors.keys() == expected.tensors.keys()
    assert [k for k in expected.tensors if not torch.equal(expected.tensors[k], resumed.tensors[k])] == []
    assert yaml.safe_load((run / "config.yaml").read_text())["version"] == CONFIG_VERSION
    # both its version-1 checkpoint and the new one load for sampling
    for step in (6, 12):
        assert cli("sample", run, "-n", 5, "--step", step, "--out", tmp_path / f"s{step}.npy")[0] == 0
        assert np.load(tmp_path / f"s{step}.npy").shape == (5, 2)
