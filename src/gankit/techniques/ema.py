"""An exponential moving average of G's weights (Yazıcı et al. 2019; Karras et al. 2018).

The average often samples better than the raw G; `gankit sample` uses it when a run kept one.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from gankit.techniques.base import Technique


class GeneratorEMA(Technique):
    name = "ema"

    def __init__(self, g: nn.Module, decay: float) -> None:
        self.decay = decay
        self.average = copy.deepcopy(g).eval().requires_grad_(False)

    @torch.no_grad()
    def after_g_step(self, g: nn.Module, step: int) -> None:
        live = list(g.parameters()) + list(g.buffers())
        kept = list(self.average.parameters()) + list(self.average.buffers())
        for avg, cur in zip(kept, live):
            if avg.dtype.is_floating_point:
                avg.lerp_(cur, 1.0 - self.decay)
            else:
                avg.copy_(cur)

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.average.state_dict())

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.average.load_state_dict(state)
