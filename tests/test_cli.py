"""The command line end to end: train, report, sample, and one clear line for every bad input."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.train import checkpoint
from tests.conftest import set_args, tiny_args


def test_train_writes_a_complete_run_folder(trained_run):
    for name in ("config.yaml", "run.json", "metrics.jsonl", "report.html", "curves.png"):
        assert (trained_run / name).is_file(), name
    assert list((trained_run / "events").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (trained_run / "samples").iterdir()) == [
        "step-00000000.png", "step-00000006.png", "step-00000012.png"]
    rows = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [r["step"] for r in train] == [4, 6, 8, 12]
    assert {"d/loss", "g/loss", "D(x)", "D(G(z))", "ms_per_step"} <= train[0].keys()
    assert [r["step"] for r in evals] == [0, 6, 12]
    assert {"modes", "high_quality", "kl"} <= evals[0].keys()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained_run / "events"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/d/loss", "train/g/loss", "train/D(x)", "train/D(G(z))", "eval/modes"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("eval/modes")] == [0, 6, 12]
    assert "samples" in tags["images"]
    report = (trained_run / "report.html").read_text()
    assert "samples/step-00000012.png" in report and "modes" in report and "finished" in report


def test_sample_writes_the_requested_samples(trained_run, tmp_path, cli):
    out = tmp_path / "s.npy"
    code, stdout, err = cli("sample", trained_run, "-n", 2500, "--out", out)
    assert code == 0, err
    samples = np.load(out)
    assert samples.shape == (2500, 2) and samples.dtype == np.float32 and np.isfinite(samples).all()
    again = tmp_path / "again.npy"
    cli("sample", trained_run, "-n", 2500, "--out", again, "--step", 6)
    assert not np.array_equal(np.load(again), samples)  # step 6 differs from step 12
    assert cli("sample", trained_run, "-n", 10, "--out", tmp_path / "s.csv")[0] == 0
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "x0,x1"
    assert cli("sample", trained_run, "-n", 500, "--out", tmp_path / "s.png")[0] == 0


def test_sample_uses_the_ema_generator_when_kept(tmp_path, cli):
    run = tmp_path / "ema"
    cli("train", "--preset", "toy-ring8", "--out", run, *tiny_args("train.ema=0.5"))
    ckpt = checkpoint.load(run)
    assert any(k.startswith("technique.ema.") for k in ckpt.tensors)
    from gankit.config import load_run_config
    from gankit.nets import build_nets
    from gankit.run import generate

    cfg = load_run_config(run / "config.yaml")
    g, _ = build_nets(cfg.model, (2,), cfg.seed)
    g.load_state_dict({k[len("technique.ema."):]: v for k, v in ckpt.tensors.items() if k.startswith("technique.ema.")})
    cli("sample", run, "-n", 50, "--out", tmp_path / "e.npy", "--seed", 3)
    assert np.allclose(np.load(tmp_path / "e.npy"), generate(g, 50, cfg.model, 3).numpy())


def test_goodfellow_1d_draws_figure1(tmp_path, cli):
    run = tmp_path / "g1"
    code, _, err = cli("train", "--preset", "goodfellow-1d", "--out", run,
                       *tiny_args("model.z_dim=1", "log.eval_every=3"))
    assert code == 0, err
    snapshots = json.loads((run / "figure1.json").read_text())
    assert [s["step"] for s in snapshots] == [0, 3, 6, 9, 12]
    first = snapshots[0]
    assert {"x", "p_data", "p_g", "d", "d_star"} <= first.keys()
    d_star = np.array(first["d_star"])
    assert ((0 <= d_star) & (d_star <= 1)).all()
    assert "figure1.png" in (run / "report.html").read_text()


def test_existing_run_folder_is_never_overwritten(trained_run, cli):
    before = (trained_run / "metrics.jsonl").read_text()
    code, _, err = cli("train", "--preset", "toy-grid25", "--out", trained_run, *tiny_args())
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert (trained_run / "metrics.jsonl").read_text() == before
    code, _, _ = cli("train", "--preset", "toy-ring8", "--out", trained_run, "--overwrite", *tiny_args())
    assert code == 0 and "ring" in (trained_run / "config.yaml").read_text()


def test_overwrite_replaces_only_a_run_folder(tmp_path, cli):
    (tmp_path / "thesis.tex").write_text("precious")
    code, _, err = cli("train", "--out", tmp_path, "--overwrite", *tiny_args())
    assert code == 2 and "is not a gankit run folder" in err
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_overwrite_refuses_the_run_it_is_started_from(trained_run, cli, monkeypatch):
    """`--out . --overwrite` inside a run would pull the folder out from under the process."""
    before = {p: p.read_bytes() for p in trained_run.rglob("*") if p.is_file()}
    for where, out in ((trained_run, "."), (trained_run / "checkpoints", "..")):
        monkeypatch.chdir(where)
        code, _, err = cli("train", "--preset", "toy-ring8", "--out", out, "--overwrite", *tiny_args())
        assert code == 2 and "is the working folder or holds it" in err and len(err.strip().splitlines()) == 1, err
    assert {p: p.read_bytes() for p in trained_run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--preset", "dcgan-mnist", "--set", "data.root={missing}"], "not found in"),
        (["--preset", "toy-grid25", *tiny_args("techniques.feature_matching.layer=nope")], "is not a module of D"),
        (["--preset", "dcgan-fashion", *set_args("data.name=folder", "data.path={images}", "data.resolution=8",
                                                 "techniques.semi_supervised.labels=10")], "needs a data set with labels"),
    ],
)
def test_a_run_refused_while_it_is_built_leaves_the_folder_untouched(trained_run, tmp_path, cli, extra, expected):
    """Errors found only once the data, nets and techniques load come before any write: the earlier
    run survives --overwrite, and a new --out folder is not left behind half made."""
    before = {p: p.read_bytes() for p in trained_run.rglob("*") if p.is_file()}
    (tmp_path / "images").mkdir()
    Image.new("L", (8, 8), 128).save(tmp_path / "images" / "grey.png")
    extra = [a.format(missing=tmp_path / "missing", images=tmp_path / "images") for a in extra]
    for out in (["--out", trained_run, "--overwrite"], ["--out", tmp_path / "new"]):
        code, _, err = cli("train", *extra, *out)
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert {p: p.read_bytes() for p in trained_run.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "--preset", "toy-grd25"], "did you mean 'toy-grid25'"),
        (["train", "--set", "train.stepz=3"], "unknown key 'train.stepz' (did you mean 'steps'?)"),
        (["train", "--set", "train.steps=-3"], "train.steps"),
        (["train", "--set", "objective.name=hinge", "--set", "objective.clip=0.1"], "objective.clip applies only"),
        (["train", "--config", "/nonexistent.yaml"], "config file not found"),
        (["train", "--config", "/"], "config file / cannot be read"),
        (["train", "--out", "/dev/null/run"], "/dev/null/run: Not a directory"),
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["sample", "/nonexistent", "--out", "x.npy"], "not a gankit run folder"),
    ],
)
def test_bad_input_gets_one_line_and_status_2(cli, tmp_path, argv, expected):
    code, out, err = cli(*argv, *(["--out", tmp_path / "r"] if argv[0] == "train" and "--out" not in argv else []))
    assert code == 2
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_decompression_bomb_in_the_training_folder_is_one_line_or_skipped(tmp_path, cli):
    from tests.imagedata import write_png_header

    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        Image.new("L", (8, 8), 60 * i).save(images / f"{i}.png")
    write_png_header(images / "bomb.png", 100_000, 100_000)
    argv = ["train", "--preset", "mlp-digits", *set_args(f"data={{name: folder, path: {images}, resolution: 8, channels: 1}}",
                                                         "train.steps=2", "log.metrics=[]", "log.every=1")]
    code, _, err = cli(*argv, "--out", tmp_path / "refused")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"corrupt image {images / 'bomb.png'}: too large to decode safely" in err and "data.skip_corrupt=true" in err
    assert not (tmp_path / "refused").exists()
    code, _, err = cli(*argv, "--set", "data.skip_corrupt=true", "--out", tmp_path / "skipped")
    assert code == 0 and "skipping corrupt image" in err and "bomb.png" in err, err
    assert checkpoint.list_steps(tmp_path / "skipped") == [2]


def test_corrupt_checkpoint_is_reported_by_sample_and_resume(trained_run, tmp_path, cli):
    weights = checkpoint.checkpoint_dir(trained_run) / "step-00000012" / checkpoint.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:100])
    for argv in (["sample", trained_run, "--out", tmp_path / "x.npy"], ["train", "--resume", trained_run]):
        code, _, err = cli(*argv)
        assert code == 2 and "corrupt" in err and len(err.strip().splitlines()) == 1


def _tampered(run, tensors=lambda t: t, state=lambda s: s):
    """Rewrite the run's last checkpoint through `checkpoint.save`, so its checksum still holds."""
    ckpt = checkpoint.load(run)
    checkpoint.save(run, ckpt.step, tensors(dict(ckpt.tensors)), state(dict(ckpt.state)))


@pytest.mark.parametrize(
    "tamper, expected",
    [
        (lambda run: _tampered(run, tensors=lambda t: {**t, "opt_g.state.0.exp_avg": torch.zeros(3, 3)}),
         "opt_g state 0.exp_avg does not fit the parameters of this net"),
        (lambda run: _tampered(run, tensors=lambda t: {**t, "g.trunk.0.weight": torch.zeros(3, 3)}),
         "size mismatch for trunk.0.weight"),
        (lambda run: _tampered(run, state=lambda s: {k: v for k, v in s.items() if k != "opt_g"}),
         "it has no 'opt_g'"),
        (lambda run: _tampered(run, tensors=lambda t: {k: v for k, v in t.items() if not k.startswith("rng.")}),
         "it has no 'rng.batches'"),
    ],
)
def test_a_tampered_checkpoint_is_refused_before_the_run_changes(trained_run, cli, tamper, expected):
    tamper(trained_run)
    before = {p: p.read_bytes() for p in trained_run.rglob("*") if p.is_file()}
    code, _, err = cli("train", "--resume", trained_run, "--set", "train.steps=100")
    assert code == 2 and expected in err and err.count("\n") == 1, err
    assert {p: p.read_bytes() for p in trained_run.rglob("*") if p.is_file()} == before


def test_a_checkpoint_whose_state_names_another_step_is_corrupt(trained_run, cli):
    state_file = checkpoint.checkpoint_dir(trained_run) / "step-00000012" / checkpoint.STATE
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "step": 999}))
    code, _, err = cli("train", "--resume", trained_run, "--set", "train.steps=1002")
    assert code == 2 and "step-00000012 is corrupt: its state.json says step 999" in err, err


def test_sample_and_resume_refuse_a_run_whose_config_was_edited(trained_run, tmp_path, cli):
    """The nets built from an edited config.yaml are not the ones trained: their samples would lie."""
    config = trained_run / "config.yaml"
    config.write_text(config.read_text().replace("activation: relu", "activation: tanh"))
    code, _, err = cli("sample", trained_run, "-n", 3, "--out", tmp_path / "x.npy")
    assert code == 2 and "was made with another configuration than" in err and not (tmp_path / "x.npy").exists()
    assert "(after a run is made only train.steps, train.device, log.*, description may change)" in err
    code, _, err = cli("train", "--resume", trained_run, "--set", "train.steps=100")  # the same check
    assert code == 2 and "was made with another configuration than" in err
    config.write_text(config.read_text().replace("seed: 0", "seed: -4"))  # a value it refuses: the file is named
    code, _, err = cli("sample", trained_run, "-n", 3, "--out", tmp_path / "x.npy")
    assert code == 2 and f"{config}: config: seed:" in err, err


def test_bad_input_from_the_shell_has_no_traceback(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("data: [unclosed")
    for argv in (["train", "--config", str(bad_yaml)], ["sample", str(tmp_path), "--out", "x.npy"]):
        done = subprocess.run([sys.executable, "-m", "gankit", *argv], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_interrupted_run_says_what_it_left(trained_run, tmp_path, cli, monkeypatch):
    from gankit import run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "train", interrupted)
    code, _, err = cli("train", "--preset", "toy-grid25", "--out", tmp_path / "fresh", *tiny_args())
    assert code == 130 and err == "gankit: interrupted; no checkpoint had been saved: nothing to resume\n"
    step = checkpoint.list_steps(trained_run)[-1]
    code, _, err = cli("train", "--resume", trained_run, "--set", "train.steps=100")
    assert code == 130 and f"its checkpoint of step {step} is intact (resume with: gankit train --resume" in err
    code, _, err = cli("train", "--preset", "toy-grid25", "--out", trained_run, "--overwrite", *tiny_args())
    assert code == 130 and "still holds the earlier run, untouched" in err


@pytest.mark.parametrize("message", [
    "[enforce fail at alloc_cpu.cpp:118] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB",
    "CUDA out of memory. Tried to allocate 20.00 GiB",
])
def test_running_out_of_memory_is_one_line(tmp_path, cli, monkeypatch, message):
    from gankit import run

    def allocate(*args, **kwargs):
        raise RuntimeError(message + "\nmore detail")

    monkeypatch.setattr(run, "train", allocate)
    code, _, err = cli("train", "--preset", "toy-grid25", "--out", tmp_path / "r", *tiny_args())
    assert code == 2 and err.count("\n") == 1 and "out of memory" in err and "train.batch_size" in err, err


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, cli):
    run = tmp_path / "nan"
    # SGD at learning rate 3 on the least-squares loss overflows within a few steps.
    code, _, err = cli("train", "--preset", "toy-ring8", "--out", run, *tiny_args(
        "objective.name=least-squares", "optim.g.name=sgd", "optim.d.name=sgd",
        "optim.g.lr=3", "optim.d.lr=3", "train.steps=60", "log.checkpoint_every=1"))
    assert code == 3 and "training diverged: non-finite" in err
    steps = checkpoint.list_steps(run)
    assert steps, "the good steps before the blow-up were checkpointed"
    assert f"last good checkpoint: step {steps[-1]}" in err
    ckpt = checkpoint.load(run)
    assert all(bool(t.float().isfinite().all()) for k, t in ckpt.tensors.items() if k.startswith(("g.", "d.")))
    assert "diverged" in (run / "report.html").read_text()


def test_collapse_is_flagged_in_log_and_report(tmp_path):
    from gankit.data.toy import grid
    from gankit.report.probes import ModeProbe

    mixture = grid(5, 2.0, 0.05)
    probe = ModeProbe(mixture, drop=0.5, history=[], samples=2500)
    spread = mixture.centres.repeat(100, 1)
    assert probe.evaluate(0, spread, None).events == []
    collapsed = probe.evaluate(1, mixture.centres[:3].repeat(100, 1), None)
    assert collapsed.events and "mode collapse at step 1" in collapsed.events[0][1]
    assert probe.evaluate(2, mixture.centres[:3].repeat(100, 1), None).events == []  # once per fall


def test_a_run_killed_at_random_moments_and_resumed_ends_bit_identical_to_an_uninterrupted_one(tmp_path, cli):
    """SIGKILL twice at random moments of a run that checkpoints every step (a kill may land while a
    checkpoint is written): each kill leaves a loadable checkpoint, and resuming after the last
    one ends with every tensor (nets, optimizers, EMA, random streams) equal to a run never killed."""
    steps = 200
    settings = tiny_args(f"train.steps={steps}", "log.checkpoint_every=1", "log.eval_every=100000", "train.ema=0.9",
                         "model.d.dropout=0.2")
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert cli("train", "--preset", "toy-ring8", "--out", straight, *settings)[0] == 0

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "gankit", "train", "--preset", "toy-ring8", "--out", str(killed), *settings]
    rng = random.Random(0)
    for _ in range(2):
        before = checkpoint.list_steps(killed)[-1:] if killed.exists() else []
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while checkpoint.list_steps(killed)[-1:] == before and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reached = checkpoint.load(killed).step  # raises if the newest checkpoint were damaged
        assert 1 <= reached < steps, f"the run was not killed mid-way (it reached step {reached})"
        argv = [sys.executable, "-m", "gankit", "train", "--resume", str(killed)]
    assert subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode == 0

    a, b = checkpoint.load(straight), checkpoint.load(killed)
    assert a.step == b.step == steps
    assert a.tensors.keys() == b.tensors.keys()
    assert [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])] == []
    assert any(k.startswith("opt_d.state.") for k in a.tensors)


def test_first_line_of_an_exception():
    from gankit.errors import first_line

    assert first_line(ValueError()) == "ValueError"
    assert first_line(RuntimeError("bad thing\nat line 2")) == "bad thing"
    announced = RuntimeError("Error(s) in loading state_dict for G:\n\tsize mismatch for w: shapes differ.")
    assert first_line(announced) == "Error(s) in loading state_dict for G: size mismatch for w: shapes differ."
    long = first_line(RuntimeError("x" * 1000), limit=50)
    assert len(long) == 50 and long.endswith("…")


@pytest.mark.parametrize("argv", [
    ["sample", "RUN", "-n", "3", "--seed", "99999999999999999999"],
    ["eval", "RUN", "--seed", "-1"],
    ["human-eval", "serve", "--seed", "x"],
    ["train", "--set", "seed=99999999999999999999"],
])
def test_a_seed_no_generator_takes_is_one_line(cli, tmp_path, argv):
    code, _, err = cli(*[str(tmp_path / "r") if a == "RUN" else a for a in argv])
    assert code == 2 and err.count("\n") == 1 and ("from 0 to 2147483647" in err or "less than 2147483648" in err), err


def test_under_torchrun_a_config_refusal_is_said_by_rank_0_and_a_rank_of_its_own_by_that_rank(tmp_path, cli, monkeypatch):
    from gankit import run
    from gankit.errors import UserError

    monkeypatch.setenv("RANK", "1")
    code, _, err = cli("train", "--preset", "toy-grid25", "--set", "train.stepz=3", "--out", tmp_path / "a")
    assert code == 2 and "unknown key 'train.stepz'" in err  # RANK alone, without WORLD_SIZE: one process
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = cli("train", "--preset", "toy-grid25", "--set", "train.stepz=3", "--out", tmp_path / "a")
    assert code == 2 and err == ""  # rank 0 says it: every process read the same config

    def fails_here(*args, **kwargs):
        raise UserError("mnist train IDX files not found in /data")  # this node lacks the data

    @contextlib.contextmanager
    def alone(device):  # no process group to start in this test
        yield run.Distributed()

    monkeypatch.setattr(run.Distributed, "session", alone)
    monkeypatch.setattr(run, "train", fails_here)
    code, _, err = cli("train", "--preset", "toy-grid25", "--out", tmp_path / "b", *tiny_args())
    assert code == 2 and err == "gankit: error: rank 1: mnist train IDX files not found in /data\n"
