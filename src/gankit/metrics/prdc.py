"""Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

All four come from k-nearest-neighbour balls in feature space; the radius of a point's ball is the
distance to its k-th nearest neighbour in its own set, the point itself excluded:

- precision: share of fake points inside at least one real ball;
- recall: share of real points inside at least one fake ball;
- density: mean over fake points of (number of real balls containing it) / k;
- coverage: share of real balls that contain at least one fake point.

"Inside" is strict (distance < radius), as in the `prdc` package (`compute_prdc`), which gankit
matches exactly. Distances are float64 Euclidean, computed on the features' device in blocks of
rows, so 10k × 10k sets need ~256 MiB at a time rather than the full distance matrix. The papers'
defaults differ: k = 3 for precision/recall, k = 5 for density/coverage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gankit.errors import UserError
from gankit.metrics.fid import feature_pair

if TYPE_CHECKING:
    from gankit.metrics.inputs import MetricInputs

# Float64 distances per block of rows (~256 MiB).
_BLOCK_ELEMENTS = 1 << 25


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float


def _row_blocks(x: Tensor, n_cols: int) -> list[tuple[int, Tensor]]:
    """(offset, rows) blocks of `x`, each small enough to hold its distances to `n_cols` points."""
    rows = max(1, _BLOCK_ELEMENTS // n_cols)
    return [(start, x[start : start + rows]) for start in range(0, len(x), rows)]


def knn_radii(x: Tensor, k: int) -> Tensor:
    """Distance from each row of `x` to its k-th nearest other row."""
    radii = []
    for start, block in _row_blocks(x, len(x)):
        d = torch.cdist(block, x)
        d[torch.arange(len(block)), torch.arange(start, start + len(block))] = torch.inf
        radii.append(d.kthvalue(k, dim=1).values)
    return torch.cat(radii)


def prdc(real: Tensor, fake: Tensor, k: int) -> PRDC:
    """All four metrics for the same `k`, from one pass over the real-fake distances."""
    real, fake = feature_pair(real, fake)
    if not 1 <= k < min(len(real), len(fake)):
        raise UserError(
            f"k must be at least 1 and below both set sizes ({len(real)} real, {len(fake)} fake), got {k}"
        )
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    balls_per_fake = torch.zeros(len(fake), dtype=torch.long, device=real.device)
    recalled = covered = 0
    for start, block in _row_blocks(real, len(fake)):
        d = torch.cdist(block, fake)
        balls_per_fake += (d < real_radii[start : start + len(block), None]).sum(dim=0)
        recalled = recalled + (d < fake_radii).any(dim=1).sum()
        covered = covered + (d.min(dim=1).values < real_radii[start : start + len(block)]).sum()
    return PRDC(
        precision=float((balls_per_fake > 0).double().mean()),
        recall=float(recalled) / len(real),
        density=float(balls_per_fake.double().mean()) / k,
        coverage=float(covered) / len(real),
    )


def pr_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `pr`: improved precision and recall with Kynkäänniemi et al.'s k = 3."""
    result = prdc(inputs.real_features(), inputs.fake_features, k=3)
    return {"precision": result.precision, "recall": result.recall}


def dc_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `dc`: density and coverage with Naeem et al.'s k = 5."""
    result = prdc(inputs.real_features(), inputs.fake_features, k=5)
    return {"density": result.density, "coverage": result.coverage}
