"""G's input: where every code G is fed comes from, in training, sampling and evaluation.

A class-conditional G (`model.conditional`) is fed each code followed by its label's one-hot, as
in Mirza & Osindero 2014. G's first layer is linear in its input in every net (the MLP's, the
transposed conv from 1×1 of DCGAN, the ResNet's projection), so its weights on the one-hot columns
are a learnt embedding of each class, added to what the code makes of itself: the label reaches G
as an embedding, with no extra module and every G unchanged.
"""

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


def draw_labels(n: int, classes: int, generator: torch.Generator) -> Tensor:
    """n class labels, uniform over `classes`: G's labels in its own training updates."""
    return torch.randint(classes, (n,), generator=generator)


def with_labels(z: Tensor, labels: Tensor | None, classes: int) -> Tensor:
    """G's input: the codes `z`, each followed by its label's one-hot over `classes` (a
    class-conditional G), or `z` itself when there are no labels."""
    if labels is None:
        return z
    return torch.cat([z, torch.nn.functional.one_hot(labels.to(z.device), classes).to(z.dtype)], dim=1)


def evaluation_labels(n: int, classes: int, label: int | None = None) -> Tensor | None:
    """The labels of n samples drawn to look at or to measure: `label` for each, or every class in
    turn (sample i is of class i mod K), so any n samples are as balanced as n allows. None for an
    unconditional G (`classes` 0)."""
    if not classes:
        return None
    if label is not None and not 0 <= label < classes:
        raise ValueError(f"class {label} is not one of this G's classes 0-{classes - 1}")
    return torch.full((n,), label) if label is not None else torch.arange(n) % classes
