"""G's latent prior: where every code G is fed comes from, in training, sampling and evaluation."""

from __future__ import annotations

import torch
from torch import Tensor


def draw_latent(n: int, z_dim: int, z_dist: str, generator: torch.Generator) -> Tensor:
    """n latent codes from G's prior: N(0, I), U(0, 1)^z_dim or U(-1, 1)^z_dim."""
    if z_dist == "uniform":
        return torch.rand((n, z_dim), generator=generator)
    if z_dist == "uniform-symmetric":
        return torch.rand((n, z_dim), generator=generator).mul_(2).sub_(1)
    return torch.randn((n, z_dim), generator=generator)
