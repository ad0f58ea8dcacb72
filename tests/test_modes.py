"""Mode-coverage metrics on constructed sample sets whose answers are known."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.data.toy import grid, ring
from gankit.metrics.modes import mode_coverage

GRID = grid(5, 2.0, 0.05)


def test_samples_from_the_target_capture_every_mode():
    samples = GRID.sample(2500, torch.Generator().manual_seed(0))
    cov = mode_coverage(samples, GRID.centres, GRID.std)
    assert cov.modes_captured == 25
    assert cov.high_quality > 0.98  # 3σ holds 98.9% of a 2-D Gaussian
    assert cov.kl < 0.02


def test_collapse_to_one_mode():
    samples = GRID.centres[7] + 0.01 * torch.randn(2500, 2)
    cov = mode_coverage(samples, GRID.centres, GRID.std)
    assert cov.modes_captured == 1 and cov.high_quality == 1.0
    assert cov.kl == pytest.approx(math.log(25))


def test_samples_between_modes_are_not_high_quality():
    samples = GRID.centres[:10] + torch.tensor([1.0, 1.0])  # midway between grid points
    cov = mode_coverage(samples, GRID.centres, GRID.std)
    assert cov.modes_captured == 0 and cov.high_quality == 0.0


def test_the_high_quality_edge_is_three_standard_deviations():
    """Just inside 3σ of its centre a sample counts, and one sample is enough to capture a mode
    (VEEGAN's rule); just outside it does not."""
    inside = GRID.centres[3] + torch.tensor([2.9 * GRID.std, 0.0])
    outside = GRID.centres[4] + torch.tensor([0.0, 3.1 * GRID.std])
    cov = mode_coverage(torch.stack([inside, outside]), GRID.centres, GRID.std)
    assert cov.modes_captured == 1 and cov.counts[3] == 1 and cov.counts[4] == 0
    assert cov.high_quality == 0.5


def test_half_the_modes_equally():
    samples = GRID.centres[:12].repeat(10, 1)
    cov = mode_coverage(samples, GRID.centres, GRID.std)
    assert cov.modes_captured == 12
    assert cov.kl == pytest.approx(math.log(25 / 12))


def test_ring_geometry_has_distinct_modes():
    """The linspace(0, 2π, 8) slip of some reimplementations puts two modes at the same point."""
    r = ring(8, 1.0, 0.01)
    distances = torch.cdist(r.centres, r.centres) + torch.eye(8) * 10
    assert distances.min().item() == pytest.approx(2 * math.sin(math.pi / 8), rel=1e-5)
    assert r.centres.norm(dim=1).tolist() == pytest.approx([1.0] * 8)
