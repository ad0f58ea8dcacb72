"""D-step contexts for tests that call technique hooks outside a Trainer."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from gankit.techniques.base import DContext
from gankit.train.batches import cycled_permutation


def d_context(
    d: nn.Module,
    real: Tensor | None,
    fake: Tensor | None,
    real_out: Tensor | None = None,
    draw: Callable[..., Tensor] = torch.rand,
    d_input: Callable[[Tensor], Tensor] = lambda x: x,
    step: int = 0,
) -> DContext:
    """The DContext a one-process Trainer builds: `draw` gives per-example uniforms and `pick`
    draws a batch of indices into a pool as `BatchStream.pick` does (one random order of the pool,
    cycled), sized like `real`."""
    batch = 1 if real is None else len(real)
    return DContext(d, real, fake, real_out, draw, lambda pool: cycled_permutation(torch.rand(pool), batch), d_input, step)
