"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"):
the same random, differentiable augmentations on every image D sees, real and generated, in D's
updates and in G's.

Why both, and why differentiable: augmenting the real images alone teaches G to make augmented
images; augmenting both in D's update alone lets D tell an unaugmented fake in G's update. With
both sides augmented everywhere, D cannot memorise a small training set pixel by pixel (what makes
it overfit with a few thousand images), and G's gradient flows back through the augmentation.

The three policies of the paper, for images in [-1, 1] (N×C×H×W), drawn per example:
- color: brightness + U(−½, ½); saturation: the distance to the pixel's channel mean × U(0, 2);
  contrast: the distance to the image's mean × U(½, 3⁄2);
- translation: a shift of up to `translation` × the side in each direction, zero-padded;
- cutout: a square of `cutout` × the side, anywhere, set to 0.

Random draws come from torch's global generator, which checkpoints keep per rank: a resumed run
augments as the uninterrupted one does.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from gankit.techniques.base import Technique


def _per_example(x: Tensor) -> Tensor:
    """U(0, 1) per example, shaped to broadcast over an image."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def color(x: Tensor) -> Tensor:
    x = x + (_per_example(x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_per_example(x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_example(x) + 0.5) + mean


def translation(x: Tensor, ratio: float) -> Tensor:
    """Each image shifted by whole pixels, up to ratio × its side each way, zeros coming in."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (n, 1), device=x.device)
    rows = torch.arange(h, device=x.device) + sy - dy  # N×H: the padded row each output row reads
    cols = torch.arange(w, device=x.device) + sx - dx
    padded = torch.nn.functional.pad(x, [sx, sx, sy, sy])
    picked = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return picked.permute(0, 3, 1, 2)  # advanced indexing put the channels last


def cutout(x: Tensor, ratio: float) -> Tensor:
    """Each image with a square of ratio × its side zeroed, its centre anywhere in the image, so
    that it may hang over an edge (as the paper's code places it)."""
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + 1 - size_h % 2, (n, 1, 1), device=x.device) - size_h // 2
    left = torch.randint(0, w + 1 - size_w % 2, (n, 1, 1), device=x.device) - size_w // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= top) & (ys < top + size_h) & (xs >= left) & (xs < left + size_w)  # N×H×W
    return x * (~inside).unsqueeze(1).to(x.dtype)


class DiffAugment(Technique):
    """The policies in the order given (the paper's: color, translation, cutout)."""

    name = "diffaugment"

    def __init__(self, policies: list[str], translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> None:
        known = {"color": color, "translation": partial(translation, ratio=translation_ratio),
                 "cutout": partial(cutout, ratio=cutout_ratio)}
        unknown = [p for p in policies if p not in known]
        if unknown:
            raise ValueError(f"DiffAugment policies are {', '.join(known)}; got {unknown}")
        self.augmentations = [known[p] for p in policies]

    def d_input(self, x: Tensor, step: int) -> Tensor:
        for augment in self.augmentations:
            x = augment(x)
        return x
