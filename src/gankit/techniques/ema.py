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
    as an exponential moving average (`decay` per update); other buffers are copied, and so are
    spectral normalisation's power-iteration vectors: averaged, they would not be unit vectors,
    and the copy (in eval mode) never iterates them back."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        self.decay = decay
        self.net = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, live: nn.Module) -> None:
        for avg, cur in zip(self.net.parameters(), live.parameters()):
            avg.lerp_(cur, 1.0 - self.decay)
        for (name, avg), cur in zip(self.net.named_buffers(), live.buffers()):
            if avg.dtype.is_floating_point and not _power_iteration_vector(name):
                avg.lerp_(cur, 1.0 - self.decay)
            else:
                avg.copy_(cur)

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.net.state_dict())

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.net.load_state_dict(state)


def _power_iteration_vector(name: str) -> bool:
    """Spectral normalisation's u and v (`….parametrizations.weight.0._u`)."""
    return ".parametrizations." in name and name.rsplit(".", 1)[-1] in ("_u", "_v")


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
