"""Low-dimensional targets where a GAN's failures can be seen and counted."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class GaussianMixture:
    """Equal-weight isotropic Gaussians: the 1-D target, the ring and the grid.

    `centres` (modes × dim) and `std` are public because the mode-coverage metrics are defined in
    terms of them (a sample is high quality when it lies within 3 std of its nearest centre).
    """

    def __init__(self, centres: Tensor, std: float) -> None:
        self.centres = centres.float()
        self.std = float(std)
        self.dim = centres.shape[1]
        self.shape = (self.dim,)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        which = torch.randint(len(self.centres), (n,), generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return self.centres[which] + self.std * noise

    def density(self, x: Tensor) -> Tensor:
        """p(x) for points x of shape (n, dim)."""
        sq = torch.cdist(x.float(), self.centres).pow(2)
        norm = (2 * math.pi * self.std**2) ** (self.dim / 2)
        return torch.exp(-sq / (2 * self.std**2)).mean(dim=1) / norm


def ring(modes: int, radius: float, std: float) -> GaussianMixture:
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    centres = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture(centres, std)


def grid(side: int, spacing: float, std: float) -> GaussianMixture:
    offsets = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(offsets, offsets, indexing="ij")
    return GaussianMixture(torch.stack([xs.flatten(), ys.flatten()], dim=1), std)


def gaussian_1d(mean: float, std: float) -> GaussianMixture:
    return GaussianMixture(torch.tensor([[mean]]), std)


class SwissRoll:
    """The Swiss roll of scikit-learn's `make_swiss_roll`, projected on its (x, z) plane."""

    dim = 2
    shape = (2,)

    def __init__(self, noise: float, scale: float) -> None:
        self.noise = noise
        self.scale = scale

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
        points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
        points = points + self.noise * torch.randn(n, 2, generator=generator)
        return self.scale * points
