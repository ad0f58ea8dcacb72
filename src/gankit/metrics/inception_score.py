"""Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) ‖ p(y)), over `splits` chunks.

Computed as torch-fidelity's `isc_features_to_metric` and the original improved-GAN code do it:
softmax of the classifier logits in float64; chunk i holds samples [i·N//splits, (i+1)·N//splits);
p(y) is the mean prediction within the chunk; the result is the mean and the population standard
deviation (ddof=0, `np.std`) of the per-chunk scores.

The samples are not shuffled here: chunks follow the order given. torch-fidelity shuffles first
(with a fixed seed), which only changes which samples share a chunk; generated samples are already
in random order, so gankit leaves order to the caller. Sort-ordered inputs (e.g. a class-conditional
generator's output grouped by class) should be permuted before scoring.

p·log p(y) is written as xlogy so that a class whose probability underflows to zero in a whole
chunk contributes 0 rather than NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gankit.errors import UserError
from gankit.metrics.fid import as_features

if TYPE_CHECKING:
    from gankit.metrics.inputs import MetricInputs

SPLITS = 10  # the original code's


def inception_score(logits: Tensor, splits: int = SPLITS) -> tuple[float, float]:
    """(mean, std) of the Inception Score of classifier `logits` (samples, classes)."""
    logits = as_features(logits, "logits")
    n = len(logits)
    if not 1 <= splits <= n:
        raise UserError(f"splits must be between 1 and the number of samples ({n}), got {splits}")
    p = logits.softmax(dim=1)
    p_log_p = p * logits.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        chunk = slice(i * n // splits, (i + 1) * n // splits)
        p_y = p[chunk].mean(dim=0, keepdim=True)
        kl = p_log_p[chunk].sum(dim=1) - torch.special.xlogy(p[chunk], p_y).sum(dim=1)
        scores.append(kl.mean().exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(correction=0))


def is_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `is`: the Inception Score of the generated images' logits, over `SPLITS`."""
    score, spread = inception_score(inputs.fake_logits)
    return {"is": score, "is_std": spread}
