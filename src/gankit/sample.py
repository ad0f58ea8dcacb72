"""`gankit sample`: draw samples from a run's checkpoint (its EMA generator when it kept one); from
a class-conditional run, of one class (`--class`) or of every class in turn.

Formats by the --out name: `.npy` (float32 array), `.csv` (points), `.png` (a scatter plot of
points, or a grid of images), or a folder name without a suffix (one PNG file per image).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gankit.config import RunConfig, load_run_config
from gankit.data import DataSource, ImageSource, make_source
from gankit.errors import UserError, first_line
from gankit.files import atomic_write_bytes, atomic_write_text, replace_folder
from gankit.nets import build_nets
from gankit.report import class_columns
from gankit.run import RUN_MARKER, check_made_by, generate, is_run
from gankit.tensors import tensors_under
from gankit.train import checkpoint

FORMATS = (".npy", ".csv", ".png")
SAMPLE_NAME = re.compile(r"\d{6}\.png")  # what a folder of samples holds: 000000.png, 000001.png, ...


@dataclass
class RunGenerator:
    """A run's generator at one checkpoint (its EMA copy when the run kept one), ready to sample."""

    cfg: RunConfig
    g: nn.Module
    source: DataSource
    step: int

    def generate(self, n: int, seed: int, label: int | None = None) -> torch.Tensor:
        """n samples from the latent codes of `seed`; a class-conditional G's of class `label`, or
        of every class in turn. A `label` is refused for an unconditional G, and outside 0 ... K − 1."""
        classes = self.cfg.model.label_classes
        if label is not None and not classes:
            raise UserError("--class: this run is not class-conditional (it has no model.conditional)")
        if label is not None and not 0 <= label < classes:
            raise UserError(f"--class {label}: this run's classes are 0-{classes - 1}")
        return generate(self.g, n, self.cfg.model, seed, label)


def load_run_generator(run_dir: Path, step: int | None = None, with_data: bool = False) -> RunGenerator:
    """The run's generator; its `source` holds the training images only `with_data`. Without, an
    image run recorded its data's shape and needs no data set at hand (it may have moved)."""
    if not is_run(run_dir):
        raise UserError(f"{run_dir} is not a gankit run folder (no run.json and config.yaml)")
    cfg = load_run_config(run_dir / "config.yaml")
    ckpt = checkpoint.load(run_dir, step)
    check_made_by(ckpt, cfg, run_dir)
    shape = _recorded_data_shape(run_dir)
    if with_data or shape is None or len(shape) != 3:  # points cost nothing to make
        source = make_source(cfg.data)
    else:
        source = ImageSource.without_images(shape, tuple(cfg.data.range))
    g, _ = build_nets(cfg.model, source.shape, cfg.seed)
    prefix = "technique.ema." if any(k.startswith("technique.ema.") for k in ckpt.tensors) else "g."
    weights = tensors_under(ckpt.tensors, prefix)
    try:
        g.load_state_dict(weights)
    except RuntimeError as exc:
        raise UserError(f"checkpoint {ckpt.path} does not fit the run's config: {first_line(exc)}") from None
    return RunGenerator(cfg, g, source, ckpt.step)


def _recorded_data_shape(run_dir: Path) -> tuple[int, ...] | None:
    """The data shape the run marker recorded (runs made before it did, and damaged markers: None)."""
    try:
        shape = json.loads((run_dir / RUN_MARKER).read_text()).get("data_shape")
    except (OSError, ValueError, AttributeError):
        return None
    valid = isinstance(shape, list) and all(isinstance(d, int) and d > 0 for d in shape)
    return tuple(shape) if valid else None


def sample_run(
    run_dir: Path, n: int, out: Path, step: int | None, seed: int, overwrite: bool, label: int | None = None
) -> Path:
    if out.suffix and out.suffix not in FORMATS:
        raise UserError(f"--out {out}: unknown format {out.suffix}; use one of {', '.join(FORMATS)}, or a folder name")
    if out.exists() and not overwrite and not (out.is_dir() and not any(out.iterdir())):
        raise UserError(f"{out} already exists (pass --overwrite to replace it)")
    if out.parent.exists() and not out.parent.is_dir():
        raise UserError(f"--out {out}: {out.parent} is not a folder")
    out, run_dir = out.resolve(), run_dir.resolve()
    if out.exists() and out.is_dir() != (not out.suffix):
        kind, wanted = ("a folder", f"a {out.suffix} file") if out.is_dir() else ("a file", "a folder of images")
        raise UserError(f"--out {out} is {kind}; {wanted} cannot replace it")
    if out in (run_dir, *run_dir.parents) or run_dir in out.parents:  # a run folder holds what gankit writes
        raise UserError(f"--out {out} would replace the run {run_dir} or write into it; pass another --out")
    if out.is_dir() and any(not SAMPLE_NAME.fullmatch(p.name) for p in out.iterdir()):
        raise UserError(f"--out {out} holds files other than samples (NNNNNN.png); --overwrite replaces only a folder of samples")
    run = load_run_generator(run_dir, step)
    samples = run.generate(n, seed, label)
    title = f"{run_dir.name}, step {run.step}, {n} samples" + ("" if label is None else f" of class {label}")
    if isinstance(run.source, ImageSource):
        by_class = class_columns(run.cfg.model.label_classes) if label is None else None
        _write_images(out, samples, run.source, overwrite, by_class or max(1, round(n**0.5)))
    else:
        _write_points(out, samples.numpy(), run.source, title)
    return out


def _write_npy(out: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32), allow_pickle=False)
    atomic_write_bytes(out, buffer.getvalue())


def _write_images(out: Path, samples: torch.Tensor, source: ImageSource, overwrite: bool, columns: int) -> None:
    """`samples` to `out` by its format; a .png grid has `columns` images a row."""
    from gankit.report import plots

    if out.suffix == ".npy":
        _write_npy(out, samples.numpy())
    elif out.suffix == ".csv":
        raise UserError(f"--out {out}: .csv holds points; for images use .png (a grid), .npy or a folder name")
    elif out.suffix == ".png":
        plots.image_grid(out, source.to_uint8(samples).numpy(), columns=columns)
    else:
        _write_folder(out, source.to_uint8(samples).numpy(), overwrite)


def _write_folder(out: Path, images: np.ndarray, overwrite: bool) -> None:
    """One PNG per image in the folder `out`, swapped in whole (see `replace_folder`)."""
    from gankit.report.plots import single_image

    def fill(folder: Path) -> None:
        for i, image in enumerate(images):
            single_image(folder / f"{i:06d}.png", image)

    replace_folder(out, fill, replace=overwrite)


def _write_points(out: Path, samples: np.ndarray, source: DataSource, title: str) -> None:
    if out.suffix == ".npy":
        _write_npy(out, samples)
    elif out.suffix == ".csv":
        header = ",".join(f"x{i}" for i in range(samples.shape[1]))
        rows = "\n".join(",".join(f"{v:.7g}" for v in row) for row in samples)
        atomic_write_text(out, f"{header}\n{rows}\n")
    elif out.suffix == ".png":
        if samples.shape[1] != 2:
            raise UserError(f"--out {out}: a .png scatter needs 2-D samples; these are {samples.shape[1]}-D")
        from gankit.report import plots

        real = source.sample(len(samples), torch.Generator().manual_seed(0)).numpy()
        centres = getattr(source, "centres", None)
        plots.scatter(out, samples, real, None if centres is None else centres.numpy(), title)
    else:
        raise UserError(f"--out {out}: one file per sample is for images; for points use .npy, .csv or .png")
