"""What the trainer, the nets and the probes need from a data source, whatever it holds."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor


class DataSource(Protocol):
    """A distribution to learn. Sampling draws from an explicit generator, never the global RNG,
    so that the data stream is part of the checkpointed state and a resumed run sees exactly the
    batches it would have."""

    shape: tuple[int, ...]  # one example: (dim,) for points, (channels, height, width) for images

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """n examples, shape (n, *shape), float32 (on the CPU, or where an image set lives)."""
        ...


class LabelledSource(DataSource, Protocol):
    """A data set with a class label per example (what a class-conditional GAN trains on)."""

    def sample_labelled(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """n examples, as `sample` draws them, and their labels (int64, on the CPU)."""
        ...
