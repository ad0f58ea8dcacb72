"""Exponential moving averages of a net's weights.

`WeightAverage` keeps one for any net. `GeneratorEMA` is G's (Yazıcı et al. 2019; Karras et al.
2018): the average often samples better than the raw G, and `gankit sample` uses it when a run
kept one. The semi-supervised D keeps one of D too, the classifier the paper tests.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from gankit.techniques.base import Technique


class WeightAverage:
    """A frozen copy of a net whose floating-point parameters and buffers follow the live net's
    as an exponential moving average (`decay` per update); other buffers are copied."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        self.decay = decay
        self.net = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, live: nn.Module) -> None:
        current = list(live.parameters()) + list(live.buffers())
        kept = list(self.net.parameters()) + list(self.net.buffers())
        for avg, cur in zip(kept, current):
            if avg.dtype.is_floating_point:
                avg.lerp_(cur, 1.0 - self.decay)
            else:
                avg.copy_(cur)

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.net.state_dict())

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.net.load_state_dict(state)


class GeneratorEMA(Technique):
    name = "ema"

    def __init__(self, g: nn.Module, decay: float) -> None:
        self.kept = WeightAverage(g, decay)

    def sampling_generator(self) -> nn.Module:
        return self.kept.net

    def after_g_step(self, g: nn.Module, step: int) -> None:
        self.kept.update(g)

    def state_dict(self) -> dict[str, Tensor]:
        return self.kept.state_dict()

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.kept.load_state_dict(state)
