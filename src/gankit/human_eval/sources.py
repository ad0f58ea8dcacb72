"""Where a study's images come from: `--real` (a data set name or an image folder) and `--fake`
(a gankit run folder, `RUN_DIR@STEP` for one checkpoint, or an image folder), as uint8 N×C×H×W.

Fakes are brought to the real images' shape (channels and square resolution) so that size never
gives them away; a run whose images have another number of channels is refused rather than
silently converted. A corrupt file in a folder stops the study with its name: a study shows every
image it is given, so there is no option to skip one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from gankit.errors import UserError

SourceKind = Literal["data", "folder", "run"]
_RUN_AT_STEP = re.compile(r"^(?P<path>.+)@(?P<step>\d+)$")


@dataclass(frozen=True)
class SourceSpec:
    """A source as the user named it, made comparable: absolute paths, the requested step."""

    kind: SourceKind
    target: str  # a data set name or an absolute folder path
    step: int | None = None

    @property
    def label(self) -> str:
        """A short name for tables and plots."""
        name = self.target if self.kind == "data" else Path(self.target).name
        return f"{name}@{self.step}" if self.step is not None else name

    def to_dict(self) -> dict:
        return {"kind": self.kind, "target": self.target, "step": self.step}

    @classmethod
    def from_dict(cls, raw: dict) -> "SourceSpec":
        return cls(raw["kind"], raw["target"], raw.get("step"))


def _is_run(path: Path) -> bool:
    from gankit.run import is_run

    return is_run(path)


def parse_real(text: str) -> SourceSpec:
    """`--real`: an image folder if one exists at that path, else a data set name (fashion-mnist, ...)."""
    path = Path(text).expanduser()
    if path.is_dir():
        if _is_run(path):
            raise UserError(f"--real {text} is a gankit run folder; --real takes a data set name or a folder of real images")
        return SourceSpec("folder", str(path.resolve()))
    if "/" in text or path.suffix:
        raise UserError(f"--real {text}: no such image folder")
    return SourceSpec("data", text)


def parse_fake(text: str) -> SourceSpec:
    """`--fake`: a run folder (its latest checkpoint), RUN_DIR@STEP, or a folder of images."""
    match = _RUN_AT_STEP.match(text)
    if match and _is_run(Path(match["path"]).expanduser()):
        return SourceSpec("run", str(Path(match["path"]).expanduser().resolve()), int(match["step"]))
    path = Path(text).expanduser()
    if not path.is_dir():
        raise UserError(f"--fake {text}: no such run folder or image folder")
    return SourceSpec("run" if _is_run(path) else "folder", str(path.resolve()))


def load_real(spec: SourceSpec) -> np.ndarray:
    """Every real image of the source, uint8 N×C×H×W."""
    if spec.kind == "folder":
        channels, resolution = _folder_shape(Path(spec.target))
        return _load_folder(Path(spec.target), resolution, channels, "--real")
    from gankit.config import build_data_config
    from gankit.data import ImageSource, make_source

    source = make_source(build_data_config({"name": spec.target}))
    if not isinstance(source, ImageSource):
        raise UserError(f"--real {spec.target} is not an image data set")
    return source.images.cpu().numpy()


def load_fake(spec: SourceSpec, n: int, seed: int, shape: tuple[int, int, int]) -> tuple[np.ndarray, int | None]:
    """`n` fake images shaped like the real ones, and the checkpoint step they came from (runs)."""
    channels, resolution = shape[0], shape[-1]
    if spec.kind == "folder":
        images = _load_folder(Path(spec.target), resolution, channels, "--fake")
        if len(images) < n:
            raise UserError(f"--fake {spec.target} holds {len(images)} images; this study needs {n}")
        chosen = np.random.default_rng(seed).choice(len(images), n, replace=False)
        return images[np.sort(chosen)], None

    import torch

    from gankit.data import ImageSource
    from gankit.data.images import resize
    from gankit.sample import load_run_generator

    run = load_run_generator(Path(spec.target), spec.step)
    if not isinstance(run.source, ImageSource):
        raise UserError(f"--fake {spec.target}: this run makes points, not images")
    with torch.no_grad():
        images = run.source.to_uint8(run.generate(n, seed))
    if images.shape[1] != channels:
        raise UserError(
            f"--fake {spec.label} makes {images.shape[1]}-channel images but the real ones have {channels} channels"
        )
    return resize(images, resolution).numpy(), run.step


def _load_folder(path: Path, resolution: int, channels: int, option: str) -> np.ndarray:
    """Every image of a folder, uint8 N×C×H×W, by gankit's folder loader."""
    from gankit.data.images import load_folder

    return load_folder(path, resolution, channels, skip_corrupt=False, advice=_advice(option)).numpy()


def _advice(option: str) -> str:
    from gankit.data.images import REPLACE_ADVICE

    return f"{REPLACE_ADVICE} in the {option} folder"


def _folder_shape(path: Path) -> tuple[int, int]:
    """(channels, resolution) of a real image folder, from its first image: grey stays grey, and the
    short side of that image sets the square size every image (real or fake) is shown at."""
    from gankit.data.images import GREY_MODES, UnreadableImage, image_files, image_header

    first = image_files(path)[0]
    try:
        mode, size = image_header(first)
    except UnreadableImage as exc:
        raise UserError(f"corrupt image {first}: {exc} ({_advice('--real')})") from None
    return (1 if mode in GREY_MODES else 3), min(size)
