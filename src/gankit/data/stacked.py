"""Stacked MNIST: the 1,000-mode benchmark of mode collapse (Metz et al. 2017, Unrolled GAN;
Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN).

Each image stacks three MNIST digits, drawn independently and uniformly from the training set, as
its red, green and blue channels. The label of an image is its mode, 100·d₀ + 10·d₁ + d₂, so the
data put (nearly) equal mass on 1,000 modes. A generator's coverage is scored by classifying each
channel of its samples with a digit classifier (`gankit.metrics.stacked`).

The set is drawn once, from a seeded generator, so every run of a preset trains on the same images.
"""

from __future__ import annotations

import torch
from torch import Tensor

MODES = 1000


def stack_digits(digits: Tensor, labels: Tensor, size: int, seed: int) -> tuple[Tensor, Tensor]:
    """(size×3×H×W uint8 images, size mode labels) from single-channel digits N×1×H×W."""
    picks = torch.randint(len(digits), (size, 3), generator=torch.Generator().manual_seed(seed))
    images = digits[picks.flatten(), 0].reshape(size, 3, *digits.shape[2:])
    places = torch.tensor([100, 10, 1])
    return images, (labels[picks] * places).sum(dim=1)
