"""One flat namespace of named tensors: how every part of a run's state (nets, optimizers, EMA,
technique buffers, random streams) is kept side by side in one safetensors file."""

from __future__ import annotations

from torch import Tensor


def tensors_under(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """The tensors whose names start with `prefix` ("g.", "technique.ema."), named without it: a
    checkpoint keeps every part of a run in one flat namespace."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
