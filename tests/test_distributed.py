"""torchrun with 2 CPU processes (gloo) follows the same trajectory as 1 process at the same global batch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from gankit import run
from gankit.errors import RankLost
from gankit.train import checkpoint
from gankit.train.distributed import Distributed
from tests.conftest import set_args, tiny_args


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


# Layer norm in both nets: batch norm normalises over each rank's share of the batch, so only
# batch-free normalisation can follow the single-process trajectory exactly.
DIGITS_DCGAN = set_args(
    "data.name=digits", "model.z_dim=8", "model.g.kind=dcgan", "model.g.width=8", "model.g.norm=layer",
    "model.d.kind=dcgan", "model.d.width=8", "model.d.norm=layer", "train.steps=12",
    "train.batch_size=16", "log.every=4", "log.eval_every=6", "log.checkpoint_every=6",
)


# The K+1 GAN without its noise layers (each rank draws its own noise) and without feature
# matching (each rank matches its own share's feature means): a batch of the 20 labels, 10 a rank.
SSL_DIGITS = set_args(
    "data.name=digits", "model.z_dim=8", "model.g.hidden=[16, 16]", "model.g.norm=none",
    "model.d.hidden=[32, 16]", "model.d.input_noise=0", "model.d.hidden_noise=0",
    "techniques.semi_supervised.labels=20", "techniques.feature_matching=null", "train.steps=12",
    "train.batch_size=20", "log.every=4", "log.eval_every=6", "log.checkpoint_every=6",
)


@pytest.mark.parametrize(
    "args",
    [
        ["--preset", "toy-grid25", *tiny_args("train.ema=0.9")],
        ["--preset", "toy-grid25", *tiny_args("objective.name=wgan-gp")],
        ["--preset", "dcgan-fashion", *DIGITS_DCGAN, "--set", "train.ema=0.9"],
        ["--preset", "ssl-mnist-100", *SSL_DIGITS],
        # Labels drawn for the global batch and sliced like the images; the penalty's interpolates keep theirs.
        ["--preset", "dcgan-fashion", *DIGITS_DCGAN, *set_args("model.conditional={classes: 10}", "objective.name=wgan-gp")],
    ],
    ids=["ns-ema", "wgan-gp", "dcgan-digits", "ssl-digits", "conditional-gp"],
)
def test_two_ranks_match_one_process(tmp_path, args):
    args = ["train", *args]
    single, double = tmp_path / "single", tmp_path / "double"
    subprocess.run([sys.executable, "-m", "gankit", *args, "--out", single], check=True, env=_env(),
                   capture_output=True, timeout=300)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "gankit", *args, "--out", double],
        env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-8000:]  # room for the failing rank's own message

    a, b = checkpoint.load(single), checkpoint.load(double)
    assert a.step == b.step == 12
    for key in a.tensors:
        if key.startswith(("g.", "d.", "technique.", "opt_")):
            assert torch.allclose(a.tensors[key], b.tensors[key], rtol=1e-4, atol=1e-5), key
    # Both ranks kept their own dropout RNG; only rank 0 wrote files.
    assert {"rng.torch.rank0", "rng.torch.rank1"} <= b.tensors.keys()
    assert json.loads((double / "run.json").read_text())["world_size"] == 2
    assert len(list((double / "events").iterdir())) == 1


GLOO_THREADS_AFTER_SESSION = """
import os, torch
from gankit.train.distributed import Distributed

def gloo_threads():
    names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
    return sum(name.startswith("pt_gloo") for name in names)

with Distributed.session(torch.device("cpu")) as run:
    torch.optim.Adam(torch.nn.Linear(2, 2).parameters())  # torch's lazy imports that bind the group
    during = gloo_threads()
print(f"rank {run.rank}: {during} during, {gloo_threads()} after")
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through Linux's /proc")
def test_the_session_frees_the_gloo_group_before_the_process_exits(tmp_path):
    """A gloo group that outlives the session keeps its worker threads into interpreter exit, where
    one that drops a tensor after Python is gone aborts the rank (1 exit in 30 under load)."""
    script = tmp_path / "session.py"
    script.write_text(GLOO_THREADS_AFTER_SESSION)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", script],
        env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    counts = sorted(re.findall(r"rank (\d): (\d+) during, (\d+) after", done.stdout))
    assert [rank for rank, _, _ in counts] == ["0", "1"], done.stdout
    assert all(int(during) > 0 and after == "0" for _, during, after in counts), done.stdout


def _gankit_traceback(stderr: str) -> list[str]:
    """The traceback lines that run through gankit's code (torchrun adds its own report of the
    failed workers, with a traceback of the launcher)."""
    return [line for line in stderr.splitlines() if line.strip().startswith("File") and "gankit" in line]


def test_a_batch_that_does_not_split_over_ranks_is_refused(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "gankit", "train", "--preset", "toy-grid25", *tiny_args("train.batch_size=33"),
         "--out", tmp_path / "odd"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode != 0
    assert done.stderr.count("train.batch_size=33 must divide evenly over 2 processes") == 1  # said once, by rank 0
    assert not _gankit_traceback(done.stderr)


def test_a_refusal_on_rank_0_alone_stops_every_rank_in_one_line_each(tmp_path):
    """Rank 0 alone builds the metrics' evaluator, so only it refuses a run whose Inception weights
    are missing, while rank 1 waits at the barrier before the folder is made. The user gets rank
    0's reason in one line and at most one line from rank 1 (gloo fails its barrier as soon as
    rank 0 exits, and it said so with a traceback before `RankLost`); torchrun stops rank 1 at
    once, not after the collective's 10-minute timeout; no folder is made."""
    env = {k: v for k, v in _env().items() if k != "GANKIT_INCEPTION_WEIGHTS"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "gankit", "train", "--preset", "dcgan-fashion", *DIGITS_DCGAN,
         "--set", "log.metrics=[fid]", "--set", "log.features=inception", "--out", tmp_path / "run"],
        env={**env, "TORCH_HOME": str(tmp_path / "hub")}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert done.stderr.count("gankit: error: FID Inception weights not found") == 1
    assert done.stderr.count("gankit: rank 1: stopped: a collective failed") <= 1  # 0 if torchrun stops it first
    assert not _gankit_traceback(done.stderr), done.stderr[-4000:]
    assert not (tmp_path / "run").exists()


def test_a_collective_that_loses_its_partner_raises_rank_lost(monkeypatch, cli, tmp_path):
    """What gloo raises on a surviving rank becomes `RankLost`, its reason cut to one line, which
    the CLI reports in one line with exit status 4."""
    def closed(*args, **kwargs):
        raise RuntimeError("[pair.cc:561] Connection closed by peer [127.0.0.1]:29500\nThis is typically caused by a crash.")

    monkeypatch.setattr(torch.distributed, "barrier", closed)
    expected = (r"^rank 1: stopped: a collective failed, .* "
                r"\(barrier: \[pair.cc:561\] Connection closed by peer \[127.0.0.1\]:29500\)$")
    with pytest.raises(RankLost, match=expected):
        Distributed(rank=1, world_size=2).barrier()

    def lost(*args, **kwargs):
        raise RankLost("rank 1: stopped: another process of the run stopped first")

    monkeypatch.setattr(run, "train", lost)
    code, _, err = cli("train", "--preset", "toy-grid25", "--out", tmp_path / "run")
    assert (code, err) == (4, "gankit: rank 1: stopped: another process of the run stopped first\n")
