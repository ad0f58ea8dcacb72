"""Optimizers from config, and their state as flat tensors + JSON for safetensors checkpoints."""

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
    opt.load_state_dict({"state": state, "param_groups": plain["param_groups"]})
    # Saved state is plain contiguous; a channels_last parameter needs its moments in its own
    # layout, or a fused update would pair up the wrong elements.
    for group in opt.param_groups:
        for param in group["params"]:
            entry = opt.state.get(param, {})
            for key, value in entry.items():
                if isinstance(value, Tensor) and value.shape == param.shape:
                    entry[key] = torch.empty_like(param).copy_(value)
