"""Image data sets held in memory as uint8 and served as float batches in the configured range.

Why in memory: the data sets of the classic GAN papers (MNIST, Fashion-MNIST, CIFAR-10, SVHN, the
8×8 digits) are at most a few hundred MB as uint8, so a batch is one indexing op — on the GPU when
the set is moved there — with no DataLoader workers, and sampling from an explicit generator keeps
the stream checkpointable. Batches are drawn uniformly with replacement (not in epochs), which is
what the step-counted GAN recipes assume and what makes resuming exact without epoch bookkeeping.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.idx import DATA_ROOT_ENV
from gankit.errors import UserError, first_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class ImageSource:
    def __init__(self, images: Tensor, labels: Tensor | None, value_range: tuple[float, float]) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("images must be a uint8 tensor of shape N×C×H×W")
        self.images = images
        self.labels = labels
        self.low, self.high = value_range
        self.shape: tuple[int, ...] = tuple(images.shape[1:])

    @classmethod
    def without_images(cls, shape: tuple[int, ...], value_range: tuple[float, float]) -> "ImageSource":
        """The shape and pixel range of a data set whose images are not at hand: enough to build a
        run's G and turn its output into pixels, as sampling does (it has nothing to `sample`)."""
        return cls(torch.empty((0, *shape), dtype=torch.uint8), None, value_range)

    def __len__(self) -> int:
        return len(self.images)

    def to_pixels(self, x: Tensor) -> Tensor:
        """uint8 → float in the configured range."""
        return x.float().mul_((self.high - self.low) / 255.0).add_(self.low)

    def to_uint8(self, x: Tensor) -> Tensor:
        """Float images in the configured range → uint8 (clamped), for pictures and metrics."""
        scaled = (x.float() - self.low) * (255.0 / (self.high - self.low))
        return scaled.round().clamp(0, 255).to(torch.uint8)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        return self.images_at(torch.randint(len(self.images), (n,), generator=generator))

    def sample_labelled(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """n images and their labels (on the CPU), the images those `sample` draws from the same
        generator state."""
        if self.labels is None:
            raise UserError("this data set has no labels; a class-conditional GAN needs labelled images")
        index = torch.randint(len(self.images), (n,), generator=generator)
        return self.images_at(index), self.labels[index]

    def images_at(self, index: Tensor) -> Tensor:
        """The images at positions `index`, as float pixels in the configured range."""
        return self.to_pixels(self.images[index.to(self.images.device)])

    def move_to(self, device: torch.device, budget_fraction: float = 0.25) -> None:
        """Keep the images on `device` when they fit in a quarter of its free memory."""
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if self.images.numel() > budget_fraction * free:
                return
        self.images = self.images.to(device)


def resize(images: Tensor, resolution: int) -> Tensor:
    """Resize square uint8 images (N×C×H×W) to resolution², antialiased; a no-op when equal."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    out = []
    for chunk in images.split(4096):  # bounded memory for big sets
        scaled = F.interpolate(chunk.float(), size=(resolution, resolution), mode="bilinear",
                               antialias=True, align_corners=False)
        out.append(scaled.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


# ------------------------------------------------------------------------- image folders


def in_random_order(images: Tensor, seed: int = 0) -> Tensor:
    """`images` in an order fixed by `seed`. A folder is read in sorted order, often class by class
    (one sub-folder per class), so its first N images would be a few classes, not a fair subset."""
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))]


TRAINING_ADVICE = "set data.skip_corrupt=true to skip such files"
REPLACE_ADVICE = "remove or replace that file"  # for commands that read a folder as it is


def load_folder(
    path: Path, resolution: int, channels: int, skip_corrupt: bool, advice: str = TRAINING_ADVICE
) -> Tensor:
    """Every image under `path` (recursive, sorted), resized so its short side is `resolution` and
    centre-cropped to a square. A file Pillow cannot read stops the load with its name and `advice`
    (what the calling command lets the user do about it), or is skipped with a warning when
    `skip_corrupt` is set."""
    files = image_files(path)
    mode = "RGB" if channels == 3 else "L"
    arrays = []
    for file in files:
        try:
            arrays.append(_square(read_image(file).convert(mode), resolution))
        except UnreadableImage as exc:
            if not skip_corrupt:
                raise UserError(f"corrupt image {file}: {exc} ({advice})") from None
            print(f"gankit: warning: skipping corrupt image {file}: {exc}", file=sys.stderr)
    if not arrays:
        raise UserError(f"every image under {path} is corrupt")
    stacked = np.stack(arrays)
    if stacked.ndim == 3:
        stacked = stacked[:, :, :, None]
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()


def image_files(path: Path) -> list[Path]:
    """The image files under `path` (recursive, sorted); a missing or empty folder is refused."""
    if not path.is_dir():
        raise UserError(f"image folder {path} does not exist or is not a folder")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {path}")
    return files


class UnreadableImage(Exception):
    """A file Pillow could not open or decode; its message says why in one line."""


GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")  # Pillow modes that hold one channel of values


def read_image(file: Path):
    """The decoded image in `file` (a PIL image); any failure is an `UnreadableImage`."""
    from PIL import Image

    with _pillow_failures():
        with Image.open(file) as image:
            image.load()
            return image.copy()  # closing the file releases the decoded original


def image_header(file: Path) -> tuple[str, tuple[int, int]]:
    """(Pillow mode, (width, height)) of the image in `file`, from its header alone: cheap enough
    to ask of every file of a folder. Any failure is an `UnreadableImage`."""
    from PIL import Image

    with _pillow_failures():
        with Image.open(file) as image:
            return image.mode, image.size


@contextlib.contextmanager
def _pillow_failures() -> Iterator[None]:
    """Whatever Pillow raises while opening or decoding becomes an `UnreadableImage`: a user's
    folder may hold anything, and a broken or hostile file raises a zoo of types (OSError,
    SyntaxError, ValueError, struct.error, EOFError, IndexError, ...). An image above Pillow's
    decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`, about 89 million pixels) is refused before
    its pixels are decoded, rather than only warned about up to twice that size."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"too large to decode safely ({first_line(exc)})") from None
    except Exception as exc:  # see the docstring: every failure while decoding is the file's
        raise UnreadableImage(f"{type(exc).__name__}: {first_line(exc)}") from None


def folder_shape(path: Path, skip_corrupt: bool, advice: str) -> tuple[int, dict[int, Path]]:
    """What serves the images under `path` at their own size, read from their headers: 1 channel
    when every image is grey, else 3, and each short side they have (they are centre-cropped to
    squares) with the first file that has it. A file Pillow cannot read is named with `advice`, or
    passed over when `skip_corrupt` is set."""
    grey, sides = True, {}
    for file in image_files(path):
        try:
            mode, size = image_header(file)
        except UnreadableImage as exc:
            if not skip_corrupt:
                raise UserError(f"corrupt image {file}: {exc} ({advice})") from None
            continue
        grey = grey and mode in GREY_MODES
        sides.setdefault(min(size), file)
    if not sides:
        raise UserError(f"every image under {path} is corrupt")
    return (1 if grey else 3), sides


def _square(image, resolution: int) -> np.ndarray:
    from PIL import Image

    width, height = image.size
    scale = resolution / min(width, height)
    size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    image = image.resize(size, Image.Resampling.BICUBIC)
    left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    return np.asarray(image.crop((left, top, left + resolution, top + resolution)))


# --------------------------------------------------------------------- torchvision and digits


def load_torchvision(name: str, root: Path | None, download: bool) -> tuple[Tensor, Tensor | None]:
    """CIFAR-10, SVHN or CelebA through torchvision, as uint8 N×C×H×W (CelebA centre-cropped to
    its 178×178 face square), from `root` or $GANKIT_DATA/<name>. A missing set names its root
    and how to get it."""
    import torchvision.datasets as tvd

    if root is None:
        if not os.environ.get(DATA_ROOT_ENV):
            raise UserError(f"{name}: set data.root or ${DATA_ROOT_ENV} to the folder that holds (or will hold) it")
        root = Path(os.environ[DATA_ROOT_ENV]) / name

    try:
        if name == "cifar10":
            data = tvd.CIFAR10(str(root), train=True, download=download)
            return torch.from_numpy(data.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(data.targets)
        if name == "svhn":
            data = tvd.SVHN(str(root), split="train", download=download)
            return torch.from_numpy(data.data).contiguous(), torch.from_numpy(data.labels).long()
        data = tvd.CelebA(str(root), split="train", target_type=[], download=download)
    except RuntimeError as exc:  # torchvision's "Dataset not found or corrupted"
        hint = "add --set data.download=true when online" if not download else "check the files"
        raise UserError(f"{name} not found under {root} ({first_line(exc)}); {hint}") from None
    except Exception as exc:  # a failed download
        problem = f"{exc.__class__.__name__}: {first_line(exc)}"
        raise UserError(f"{name}: loading or downloading into {root} failed ({problem})") from None
    return _celeba_squares(data), None


def _celeba_squares(data) -> Tensor:
    arrays = [np.asarray(data[i][0].crop((0, 20, 178, 198))) for i in range(len(data))]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def load_digits() -> tuple[Tensor, Tensor]:
    """scikit-learn's 8×8 digits (values 0-16) as uint8 N×1×8×8 on 0-255."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(bunch.target).long()
