"""Image runs end to end through the CLI: train, report, sample, resume — and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from gankit.train import checkpoint
from tests.conftest import DIGITS_DCGAN, digits_args, set_args
from tests.imagedata import write_idx_set


@pytest.fixture
def digits_run(tmp_path, cli):
    run = tmp_path / "digits"
    code, _, err = cli("train", "--preset", "dcgan-fashion", "--out", run, *digits_args("train.ema=0.9"))
    assert code == 0, err
    return run


def test_image_run_draws_sample_grids_and_reports_them(digits_run):
    grids = sorted(p.name for p in (digits_run / "samples").glob("step-*.png"))
    assert grids == ["step-00000000.png", "step-00000003.png", "step-00000006.png"]
    first = np.asarray(Image.open(digits_run / "samples" / grids[0]))
    last = np.asarray(Image.open(digits_run / "samples" / grids[-1]))
    assert first.shape == last.shape and not np.array_equal(first, last)  # G changed
    report = (digits_run / "report.html").read_text()
    assert "samples/step-00000006.png" in report and "samples/real.png" in report


def test_sample_writes_a_grid_a_folder_and_an_array(digits_run, tmp_path, cli, monkeypatch):
    assert cli("sample", digits_run, "-n", 9, "--out", tmp_path / "g.png")[0] == 0
    assert Image.open(tmp_path / "g.png").size[0] > 8 * 3
    assert cli("sample", digits_run, "-n", 5, "--out", tmp_path / "each")[0] == 0
    files = sorted((tmp_path / "each").iterdir())
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(5)]
    assert Image.open(files[0]).size == (8, 8)
    assert cli("sample", digits_run, "-n", 5, "--out", tmp_path / "a.npy")[0] == 0
    array = np.load(tmp_path / "a.npy")
    assert array.shape == (5, 1, 8, 8) and array.min() >= -1 and array.max() <= 1
    # the single PNGs are the array's images, quantised
    expected = np.round((array[0, 0] + 1) * 127.5).clip(0, 255).astype(np.uint8)
    assert np.array_equal(np.asarray(Image.open(files[0])), expected)
    code, _, err = cli("sample", digits_run, "-n", 5, "--out", tmp_path / "x.csv")
    assert code == 2 and ".csv holds points" in err
    # --overwrite replaces a folder of samples with a new one, and nothing else
    assert cli("sample", digits_run, "-n", 3, "--out", tmp_path / "each", "--overwrite")[0] == 0
    assert len(list((tmp_path / "each").iterdir())) == 3 and not list(tmp_path.glob(".each*"))
    (tmp_path / "d.npy").mkdir()
    (tmp_path / "plain").write_text("x")
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "thesis.tex").write_text("precious")
    refused = {
        tmp_path / "thesis": "holds files other than samples",
        tmp_path / "d.npy": "is a folder; a .npy file cannot replace it",
        tmp_path / "plain": "is a file; a folder of images cannot replace it",
        tmp_path / "plain" / "sub": "is not a folder",
        digits_run: "would replace the run",
        digits_run.parent: "would replace the run",
        digits_run / "checkpoints": "would replace the run",
        digits_run / "checkpoints" / "step-00000030": "write into it",  # a new name, inside the run
        digits_run / "x.npy": "write into it",
    }
    for out, message in refused.items():
        code, _, err = cli("sample", digits_run, "-n", 3, "--out", out, "--overwrite")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (out, err)
    assert (tmp_path / "plain").read_text() == "x" and (digits_run / "run.json").exists()
    assert (tmp_path / "thesis" / "thesis.tex").read_text() == "precious"
    monkeypatch.chdir(tmp_path / "each")  # a folder of samples, but the process stands in it
    code, _, err = cli("sample", digits_run, "-n", 3, "--out", ".", "--overwrite")
    assert code == 2 and "is the working folder or holds it" in err and len(err.strip().splitlines()) == 1, err
    assert len(list((tmp_path / "each").iterdir())) == 3


def test_resume_is_exact_with_batch_norm_and_ema(tmp_path, cli):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli("train", "--preset", "dcgan-fashion", "--out", straight, *digits_args("train.ema=0.9"))[0] == 0
    assert cli("train", "--preset", "dcgan-fashion", "--out", split, *digits_args("train.ema=0.9", "train.steps=3"))[0] == 0
    assert cli("train", "--resume", split, "--set", "train.steps=6")[0] == 0
    a, b = checkpoint.load(straight), checkpoint.load(split)
    assert any("running_mean" in k for k in a.tensors)
    assert [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])] == []


def test_a_run_saved_with_an_inapplicable_reference_batch_still_resumes_and_samples(digits_run, cli, tmp_path):
    """Before `reference_batch` was refused without virtual batch norm, every DCGAN net's saved
    config (version 1, unnumbered) held it (64); those run folders must still resume and sample."""
    saved = yaml.safe_load((digits_run / "config.yaml").read_text())
    del saved["version"]
    assert saved["model"]["g"]["norm"] == "batch" and saved["model"]["g"]["reference_batch"] is None
    saved["model"]["g"]["reference_batch"] = saved["model"]["d"]["reference_batch"] = 64
    (digits_run / "config.yaml").write_text(yaml.safe_dump(saved))
    code, _, err = cli("train", "--resume", digits_run, "--set", "train.steps=9")
    assert code == 0, err
    assert checkpoint.load(digits_run).step == 9
    assert cli("sample", digits_run, "-n", 4, "--out", tmp_path / "four.png")[0] == 0


def test_mnist_run_through_the_data_root_variable(tmp_path, cli, monkeypatch):
    write_idx_set(tmp_path / "data" / "mnist")
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "data"))
    code, _, err = cli("train", "--preset", "goodfellow-mnist", "--out", tmp_path / "run",
                       "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[8]",
                       "--set", "train.steps=2", "--set", "train.batch_size=8")
    assert code == 0, err
    assert (tmp_path / "run" / "samples" / "step-00000002.png").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["data.resolution=12"], "dcgan nets need a square resolution of 4·2ⁿ or 7·2ⁿ"),
        (["model.g.kind=resnet", "model.d.kind=resnet"], "resnet nets need a resolution that is a power of two"),
        (["data.name=mnist", "data.root=/nonexistent/mnist"], "mnist train IDX files"),
        (["data.name=folder", "data.path=/nonexistent", "data.resolution=8"], "image folder /nonexistent does not exist"),
        (["data.range=[0, 1]"], "model.g.output=tanh does not fit data.range"),
        (["model.g.kind=gan"], "unknown model.g.kind 'gan'"),
    ],
    ids=["dcgan-resolution", "resnet-resolution", "missing-idx", "missing-folder", "range", "net-kind"],
)
def test_bad_image_input_is_one_line_and_exit_2(tmp_path, cli, extra, message):
    out = tmp_path / "run"
    code, _, err = cli("train", "--preset", "dcgan-fashion", "--out", out, *digits_args(*extra))
    assert code == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_run_samples_where_its_data_set_is_not(tmp_path, cli):
    """The run marker records the data's shape: sampling needs no training images, and only the
    commands that do read them (eval against the run's own data) ask for them."""
    write_idx_set(tmp_path / "data")
    run = tmp_path / "run"
    settings = [a.replace("data.name=digits", "data.name=mnist") for a in DIGITS_DCGAN]
    code, _, err = cli("train", "--preset", "dcgan-mnist", "--out", run,
                       *set_args(*settings, f"data.root={tmp_path / 'data'}"))
    assert code == 0, err
    before = np.load(_sampled(cli, run, tmp_path / "before.npy"))
    (tmp_path / "data").rename(tmp_path / "moved")
    assert np.array_equal(np.load(_sampled(cli, run, tmp_path / "after.npy")), before)
    code, _, err = cli("eval", run, "--features", "digits", "-n", 20, "--reference-n", 20)
    assert code == 2 and "mnist train IDX files" in err and err.count("\n") == 1, err


def _sampled(cli, run, out):
    code, _, err = cli("sample", run, "-n", 4, "--out", out)
    assert code == 0, err
    return out
