"""Mode coverage on Gaussian mixtures, as defined in the mode-collapse literature.

Definitions (VEEGAN, Srivastava et al. 2017, sec. 5.1; PacGAN, Lin et al. 2018, sec. 5.1):

- Each generated sample is assigned to its nearest mode centre.
- A sample is *high quality* when it lies within 3 standard deviations of that centre (Euclidean
  distance ≤ 3σ). `high_quality` is the share of all samples that are.
- A mode is *captured* when at least `min_count` (default 1) high-quality samples are assigned to
  it: VEEGAN's "modes whose mean is nearest to at least one high-quality sample", and the
  `MetricLogger` of PacGAN's released code (fjxmlzn/PacGAN, `pacgan/extensions.py`).
- `kl` is KL(p ‖ u): p the histogram of the high-quality samples over the modes, u uniform, which
  is log K − H(p) for PacGAN's logged entropy H. It is 0 when every mode gets the same share and
  log K when all samples sit in one of K modes.

The evaluations use 2,500 generated samples, as both papers do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ModeCoverage:
    modes_captured: int
    modes_total: int
    high_quality: float
    kl: float
    counts: list[int]

    def as_metrics(self) -> dict[str, float]:
        return {
            "modes": float(self.modes_captured),
            "high_quality": self.high_quality,
            "kl": self.kl,
        }


def mode_coverage(samples: Tensor, centres: Tensor, std: float, min_count: int = 1) -> ModeCoverage:
    samples = samples.detach().float().cpu()
    centres = centres.float().cpu()
    distance, nearest = torch.cdist(samples, centres).min(dim=1)
    good = distance <= 3 * std
    counts = torch.bincount(nearest[good], minlength=len(centres))
    total_good = int(counts.sum())
    kl = kl_to_uniform(counts) if total_good else math.log(len(centres))
    return ModeCoverage(
        modes_captured=int((counts >= min_count).sum()),
        modes_total=len(centres),
        high_quality=total_good / max(1, len(samples)),
        kl=kl,
        counts=counts.tolist(),
    )


def kl_to_uniform(counts: Tensor) -> float:
    """KL(p ‖ uniform) for p the normalised histogram `counts` (one entry per mode)."""
    p = counts.double() / counts.sum()
    nonzero = p > 0
    return float((p[nonzero] * torch.log(p[nonzero] * len(counts))).sum())
