"""Shared fixtures: tiny configs that train in well under a second, and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gankit.cli import main

# Tests share 2 cores with each other's subprocesses: one intra-op thread avoids oversubscription.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY = [
    "model.g.hidden=[16, 16]",
    "model.d.hidden=[16, 16]",
    "train.steps=12",
    "train.batch_size=32",
    "log.every=4",
    "log.eval_every=6",
    "log.checkpoint_every=6",
]


def set_args(*items: str) -> list[str]:
    """`--set item` for each item."""
    return [arg for item in items for arg in ("--set", item)]


def tiny_args(*extra: str) -> list[str]:
    return set_args(*TINY, *extra)


# A DCGAN pair on the 8×8 digits, small enough to train in a second: the image runs' fixture.
DIGITS_DCGAN = [
    "data.name=digits", "model.z_dim=8", "model.g.kind=dcgan", "model.g.width=8",
    "model.d.kind=dcgan", "model.d.width=8", "train.steps=6", "train.batch_size=16",
    "log.every=2", "log.eval_every=3", "log.checkpoint_every=3",
]


def digits_args(*extra: str) -> list[str]:
    """`--set` arguments of the digits DCGAN run (on top of the dcgan-fashion preset), plus `extra`."""
    return set_args(*DIGITS_DCGAN, *extra)


@pytest.fixture
def cli(capsys):
    """Run `gankit ...` in-process; returns (exit status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's own exits
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def trained_run(tmp_path: Path, cli) -> Path:
    run_dir = tmp_path / "run"
    code, _, err = cli("train", "--preset", "toy-grid25", "--out", run_dir, *tiny_args())
    assert code == 0, err
    return run_dir
