"""Matplotlib drawings of a run (Agg backend: no display needed). Each function writes one PNG."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gankit.files import atomic_write_bytes  # noqa: E402
from gankit.metrics.registry import reported_values  # noqa: E402


def png_bytes(picture: Any) -> bytes:
    """A matplotlib figure (closed afterwards) or a PIL image, encoded as PNG."""
    buffer = io.BytesIO()
    if isinstance(picture, plt.Figure):
        picture.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(picture)
    else:
        picture.save(buffer, format="png")
    return buffer.getvalue()


def _save(picture: Any, path: Path) -> None:
    atomic_write_bytes(path, png_bytes(picture))


def single_image(path: Path, image: np.ndarray) -> None:
    """One uint8 image (C×H×W, C 1 or 3) as a PNG at its own size."""
    from PIL import Image

    pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    _save(Image.fromarray(np.ascontiguousarray(pixels)), path)


def image_grid(path: Path, images: np.ndarray, columns: int = 8, pad: int = 2) -> None:
    """uint8 images (N×C×H×W, C 1 or 3) tiled in rows of `columns` on a grey background, as PNG."""
    from PIL import Image

    n, channels, height, width = images.shape
    rows = -(-n // columns)
    canvas = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, 3), 128, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        canvas[top : top + height, left : left + width] = np.repeat(image, 3 // channels, axis=0).transpose(1, 2, 0)
    scale = max(1, 256 // (columns * (width + pad)))  # small images (8×8 digits) drawn bigger
    picture = Image.fromarray(canvas).resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST)
    _save(picture, path)


def scatter(path: Path, fake: np.ndarray, real: np.ndarray, centres: np.ndarray | None, title: str) -> None:
    """Generated points over a cloud of real ones, with the mode centres marked."""
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.scatter(real[:, 0], real[:, 1], s=2, c="#9bb7d4", alpha=0.5, label="real", linewidths=0)
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="#d1495b", alpha=0.6, label="generated", linewidths=0)
    if centres is not None:
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", s=30, c="black", label="modes")
    span = np.concatenate([real, centres if centres is not None else real])
    lo, hi = span.min(axis=0), span.max(axis=0)
    pad = 0.15 * (hi - lo).max()
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    _save(fig, path)


def figure1(path: Path, snapshots: list[dict[str, Any]]) -> None:
    """Goodfellow et al. 2014, Figure 1, drawn from a run: p_data (black dots), p_g (green),
    the learned D(x) (blue dashes) and the optimal D* = p_data / (p_data + p_g) (grey)."""
    fig, axes = plt.subplots(1, len(snapshots), figsize=(3.2 * len(snapshots), 3), sharey=True)
    for ax, snap, letter in zip(np.atleast_1d(axes), snapshots, "abcdefgh"):
        x = np.asarray(snap["x"])
        p_data, p_g = np.asarray(snap["p_data"]), np.asarray(snap["p_g"])
        top = max(p_data.max(), 1e-12)  # p_g shares p_data's scale; a spike is clipped
        ax.plot(x, p_data / top, "k:", lw=2, label="p_data")
        ax.plot(x, np.minimum(p_g / top, 1.05), "g-", lw=1.5, label="p_g")
        ax.plot(x, snap["d"], "b--", lw=1.5, label="D(x)")
        ax.plot(x, snap["d_star"], color="0.6", lw=1, label="D*(x)")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"({letter}) step {snap['step']}", fontsize=9)
        ax.set_xlabel("x")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("densities scaled so that p_data peaks at 1; D and D* on the same axis", fontsize=8)
    _save(fig, path)


def curves(path: Path, train: list[dict[str, Any]], evals: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """Losses, mean D outputs and (when measured) the evaluation metrics against the step."""
    eval_keys = [k for k in reported_values() if any(k in row for row in evals)][:6]  # at most six panels
    panels = 2 + len(eval_keys)
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3))
    steps = [row["step"] for row in train]
    for key in ("d/loss", "g/loss"):
        axes[0].plot(steps, [row.get(key, np.nan) for row in train], label=key)
    axes[0].set_title("losses", fontsize=9)
    for key in ("D(x)", "D(G(z))"):
        axes[1].plot(steps, [row.get(key, np.nan) for row in train], label=key)
    axes[1].set_title("mean D output", fontsize=9)
    for ax, key in zip(axes[2:], eval_keys):
        ax.plot([row["step"] for row in evals], [row.get(key, np.nan) for row in evals], "o-", ms=3)
        ax.set_title(key, fontsize=9)
    for ax in axes:
        ax.set_xlabel("step")
        for event in events:
            ax.axvline(event["step"], color="red", lw=0.8, alpha=0.6)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    _save(fig, path)
