"""Historical averaging (Salimans et al. 2016, sec. 3.3): each player's loss gains
weight · ‖θ − (1/t) Σᵢ θᵢ‖², θᵢ its parameters after each of its past updates. It pulls both
players towards the average of their own past, damping the oscillations of gradient descent in
games that have no stable point (the paper cites fictitious play).

The average is kept as a running mean, updated in place after each optimizer step: one copy of
each player's parameters, O(parameters) memory, whatever the number of steps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.techniques.base import DContext, GContext, Technique


class HistoricalAveraging(Technique):
    name = "historical_averaging"

    def __init__(self, g: nn.Module, d: nn.Module, weight: float) -> None:
        self.g, self.weight = g, weight
        self.average = {"g": _copy(g), "d": _copy(d)}
        self.count = {"g": torch.ones(()), "d": torch.ones(())}  # θ₀ is the first entry of each mean

    def _penalty(self, net: nn.Module, player: str) -> Tensor:
        return self.weight * sum(
            (p.float() - a).square().sum() for p, a in zip(net.parameters(), self.average[player])
        )

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        return {"penalty": self._penalty(ctx.d, "d")}

    def g_terms(self, ctx: GContext) -> dict[str, Tensor]:
        return {"penalty": self._penalty(self.g, "g")}

    @torch.no_grad()
    def _update(self, net: nn.Module, player: str) -> None:
        self.count[player] += 1
        for p, a in zip(net.parameters(), self.average[player]):
            a.add_((p.float() - a) / self.count[player])

    def after_d_step(self, d: nn.Module, step: int) -> None:
        self._update(d, "d")

    def after_g_step(self, g: nn.Module, step: int) -> None:
        self._update(g, "g")

    def state_dict(self) -> dict[str, Tensor]:
        state = {f"{player}.count": count for player, count in self.count.items()}
        for player, average in self.average.items():
            state.update({f"{player}.{i}": a for i, a in enumerate(average)})
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        for player, average in self.average.items():
            self.count[player] = state[f"{player}.count"].clone()
            for i, a in enumerate(average):
                a.copy_(state[f"{player}.{i}"])


def _copy(net: nn.Module) -> list[Tensor]:
    return [p.detach().float().clone() for p in net.parameters()]
