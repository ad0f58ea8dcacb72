"""`gankit sample`: draw samples from a run's checkpoint (its EMA generator when it kept one)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from gankit.config import build_config, load_yaml_file
from gankit.data import DataSource, make_source
from gankit.errors import UserError
from gankit.nets import build_nets
from gankit.train import checkpoint
from gankit.train.files import atomic_write_bytes, atomic_write_text
from gankit.train.run import generate, is_run

FORMATS = (".npy", ".csv", ".png")


def sample_run(run_dir: Path, n: int, out: Path, step: int | None, seed: int, overwrite: bool) -> Path:
    if out.suffix not in FORMATS:
        raise UserError(f"--out {out}: unknown format {out.suffix or '(none)'}; use one of {', '.join(FORMATS)}")
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists (pass --overwrite to replace it)")
    if not is_run(run_dir):
        raise UserError(f"{run_dir} is not a gankit run folder (no run.json and config.yaml)")
    cfg = build_config(load_yaml_file(run_dir / "config.yaml"))
    ckpt = checkpoint.load(run_dir, step)
    source = make_source(cfg.data)
    g, _ = build_nets(cfg.model, source.shape, cfg.seed)
    prefix = "technique.ema." if any(k.startswith("technique.ema.") for k in ckpt.tensors) else "g."
    weights = {k[len(prefix):]: v for k, v in ckpt.tensors.items() if k.startswith(prefix)}
    try:
        g.load_state_dict(weights)
    except RuntimeError as exc:
        raise UserError(f"checkpoint {ckpt.path} does not fit the run's config: {str(exc).splitlines()[0]}") from None
    samples = generate(g, n, cfg.model.z_dim, cfg.model.z_dist, seed).numpy()
    _write(out, samples, source, f"{run_dir.name}, step {ckpt.step}, {n} samples")
    return out


def _write(out: Path, samples: np.ndarray, source: DataSource, title: str) -> None:
    if out.suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, samples.astype(np.float32), allow_pickle=False)
        atomic_write_bytes(out, buffer.getvalue())
    elif out.suffix == ".csv":
        header = ",".join(f"x{i}" for i in range(samples.shape[1]))
        rows = "\n".join(",".join(f"{v:.7g}" for v in row) for row in samples)
        atomic_write_text(out, f"{header}\n{rows}\n")
    else:
        if samples.shape[1] != 2:
            raise UserError(f"--out {out}: a .png scatter needs 2-D samples; these are {samples.shape[1]}-D")
        from gankit.report import plots

        real = source.sample(len(samples), torch.Generator().manual_seed(0)).numpy()
        centres = getattr(source, "centres", None)
        plots.scatter(out, samples, real, None if centres is None else centres.numpy(), title)
