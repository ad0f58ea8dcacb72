"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with a polynomial kernel.

k(x, y) = (γ x·y + coef0)^degree with γ = 1/dims by default, averaged over `subsets` random subsets
of `subset_size` real and fake features; the result is the mean and population std (ddof=0) of the
per-subset estimates, as torch-fidelity's `kid_features_to_metric` reports them.

Subsets are drawn exactly as torch-fidelity draws them — one `np.random.RandomState(seed)`, and for
each subset `choice(n_real, m, replace=False)` then `choice(n_fake, m, replace=False)` — so the
same seed gives the same subsets and the same numbers. Only the index draw runs on the host; the
kernels are computed in float64 on the features' device, a few subsets per batched matmul.

Subset size rule: `subset_size` larger than either set is lowered to min(n_real, n_fake), as
stylegan2-ada's `compute_kid` does, instead of failing as torch-fidelity does. The MMD² estimator
is unbiased at any subset size, so this only widens the spread; with m equal to both set sizes
every subset is the whole of both sets and the std is 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from gankit.errors import UserError
from gankit.metrics.fid import feature_pair

if TYPE_CHECKING:
    from gankit.metrics.inputs import MetricInputs

# Elements of float64 work per batch of subsets (~256 MiB), so 2048-d features fit on any device.
_BATCH_ELEMENTS = 1 << 25


def kernel_inception_distance(
    real: Tensor,
    fake: Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) over subsets of the unbiased MMD² between `real` and `fake` features."""
    real, fake = feature_pair(real, fake, min_rows=2)
    if subsets < 1 or subset_size < 2:
        raise UserError(f"KID needs subsets ≥ 1 and subset_size ≥ 2, got {subsets}, {subset_size}")
    m = min(subset_size, len(real), len(fake))
    gamma = 1.0 / real.shape[1] if gamma is None else gamma
    rng = np.random.RandomState(seed)
    draws = [(rng.choice(len(real), m, replace=False), rng.choice(len(fake), m, replace=False))
             for _ in range(subsets)]
    index = torch.as_tensor(np.array(draws), device=real.device)  # (subsets, 2, m)

    def kernel(x: Tensor, y: Tensor) -> Tensor:
        return (gamma * x @ y.transpose(1, 2) + coef0) ** degree

    per_batch = max(1, _BATCH_ELEMENTS // (m * (m + 2 * real.shape[1])))
    mmds = []
    for chunk in index.split(per_batch):
        x, y = real[chunk[:, 0]], fake[chunk[:, 1]]
        k_xx, k_yy = kernel(x, x), kernel(y, y)
        within = (k_xx.sum((1, 2)) - k_xx.diagonal(dim1=1, dim2=2).sum(1)
                  + k_yy.sum((1, 2)) - k_yy.diagonal(dim1=1, dim2=2).sum(1))
        mmds.append(within / (m * (m - 1)) - 2 * kernel(x, y).sum((1, 2)) / (m * m))
    mmds = torch.cat(mmds)
    return float(mmds.mean()), float(mmds.std(correction=0))


def kid_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `kid`: unbiased MMD² between the reference's and the generated features."""
    kid, spread = kernel_inception_distance(inputs.real_features(), inputs.fake_features)
    return {"kid": kid, "kid_std": spread}
