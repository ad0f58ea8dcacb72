"""Modes of Stacked MNIST captured by a generator, scored as in VEEGAN (sec. 5.2) and PacGAN.

Each of the three channels of a generated image is classified by the MNIST classifier; the three
digits name one of the 1,000 modes. `modes` counts the modes that at least one sample falls in,
`kl` is KL(p ‖ uniform) for p the histogram of samples over the modes. The papers score 26,000
samples; fewer samples cannot reach 1,000 modes by chance alone, so use that count to compare.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.stacked import MODES
from gankit.errors import UserError
from gankit.metrics.features import FeatureExtractor, extract
from gankit.metrics.modes import kl_to_uniform

PAPER_SAMPLES = 26_000


def stacked_mnist_labels(images: Tensor, digits: FeatureExtractor) -> Tensor:
    """The mode of each uint8 image N×3×H×W, 100·d₀ + 10·d₁ + d₂ for its channels' digits d."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise UserError(f"Stacked MNIST modes need 3-channel images, got shape {list(images.shape)}")
    n = len(images)
    _, logits = extract(digits, images.transpose(0, 1).reshape(3 * n, 1, *images.shape[2:]))
    digit = logits.argmax(dim=1).reshape(3, n)
    return digit[0] * 100 + digit[1] * 10 + digit[2]


def stacked_mnist_modes(images: Tensor, digits: FeatureExtractor) -> dict[str, float]:
    """{"modes": modes captured of 1,000, "kl": KL to uniform} of uint8 images N×3×H×W."""
    return stacked_coverage(stacked_mnist_labels(images, digits))


def stacked_coverage(modes: Tensor) -> dict[str, float]:
    """{"modes": modes captured of 1,000, "kl": KL to uniform} of the images of these `modes`."""
    counts = torch.bincount(modes, minlength=MODES)
    return {"modes": float((counts > 0).sum()), "kl": kl_to_uniform(counts)}
