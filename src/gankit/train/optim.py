"""Optimizers from config, their learning-rate schedule, and their state as flat tensors + JSON
for safetensors checkpoints."""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor

from gankit.config import OptimizerConfig


def make_optimizer(cfg: OptimizerConfig, params: Iterable[Tensor], fused: bool = False) -> torch.optim.Optimizer:
    """`fused`: one kernel per update (CUDA); RMSprop has no fused form and uses the default."""
    params = list(params)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=fused or None)
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, fused=fused or None
        )
    return torch.optim.RMSprop(
        params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )


class LinearDecay:
    """Learning rates held at their configured values until the fraction `start` of `total`
    steps, then falling linearly toward zero at step `total`: the last update takes 1/(total − start)
    of the rate (the Improved-GAN and WGAN-GP codes' schedule).

    A pure function of the step, so it needs no checkpoint state: a resumed run sets the same rates
    as an unbroken one. `start=None` keeps the rates constant.
    """

    def __init__(self, optimizers: Iterable[torch.optim.Optimizer], start: float | None, total: int) -> None:
        self.optimizers = list(optimizers)
        self.bases = [[group["lr"] for group in opt.param_groups] for opt in self.optimizers]
        self.start = None if start is None else int(start * total)  # < total, as start < 1
        self.total = total

    def factor(self, step: int) -> float:
        """The multiple of the configured rates used by update `step` (counted from 0); a step past
        `total` (a benchmark's extra steps) keeps the last one's."""
        if self.start is None or step < self.start:
            return 1.0
        return max(self.total - step, 1) / (self.total - self.start)

    def set_step(self, step: int) -> None:
        factor = self.factor(step)
        for opt, bases in zip(self.optimizers, self.bases):
            for group, base in zip(opt.param_groups, bases):
                group["lr"] = base * factor


def split_state(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The optimizer's state dict as `{prefix.state.<param>.<key>: tensor}` plus a JSON part."""
    full = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    plain: dict[str, Any] = {"param_groups": full["param_groups"], "scalars": {}}
    for index, entry in full["state"].items():
        for key, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}.state.{index}.{key}"] = value
            else:
                plain["scalars"][f"{index}.{key}"] = value
    return tensors, plain


def join_state(
    opt: torch.optim.Optimizer, tensors: dict[str, Tensor], plain: dict[str, Any], prefix: str
) -> None:
    """Inverse of `split_state`: load the saved state into `opt`."""
    state: dict[int, dict[str, Any]] = {}
    head = f"{prefix}.state."
    for name, value in tensors.items():
        if name.startswith(head):
            index, key = name[len(head) :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for name, value in plain["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    params = [p for group in opt.param_groups for p in group["params"]]
    for index, entry in state.items():  # torch would load a misshapen moment and fail at the next step
        for key, value in entry.items():
            if index >= len(params) or (isinstance(value, Tensor) and value.ndim and value.shape != params[index].shape):
                raise ValueError(f"{prefix} state {index}.{key} does not fit the parameters of this net")
    opt.load_state_dict({"state": state, "param_groups": plain["param_groups"]})
    # Saved state is plain contiguous; a channels_last parameter needs its moments in its own
    # layout, or a fused update would pair up the wrong elements.
    for group in opt.param_groups:
        for param in group["params"]:
            entry = opt.state.get(param, {})
            for key, value in entry.items():
                if isinstance(value, Tensor) and value.shape == param.shape:
                    entry[key] = torch.empty_like(param).copy_(value)
