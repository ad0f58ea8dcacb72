"""How the training step runs fast on a GPU: bf16 autocast, channels_last, fused optimizers.

These change how the step is computed, not what it computes, so they are chosen per device and
kept out of the Trainer's logic: the Trainer runs its forward passes inside `FastPath.autocast()`
and the assembly code calls `prepare` on the nets and passes `fused` to the optimizers.

- bf16 autocast (`train.precision`): convolutions and matmuls in bfloat16, weights, optimizer
  state and losses in float32. bf16 keeps float32's exponent range, so unlike fp16 it needs no
  loss scaling. `auto` picks it on CUDA only: on a CPU it is slower and changes the numbers.
- channels_last: NHWC weights and activations, the layout tensor cores read without transposes.
  Only conv nets are converted; checkpoints store ordinary contiguous tensors either way.
- fused optimizers: one kernel for the whole Adam/SGD update instead of a loop over tensors.
- cudnn.benchmark: the shapes of a GAN step never change, so autotuning pays off at once.

CUDA-graph capture of the whole step is not built yet: it needs a GPU to develop and verify on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ContextManager

import torch
from torch import nn

from gankit.config import TrainConfig


@dataclass(frozen=True)
class FastPath:
    device_type: str
    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False
    fused: bool = False

    @classmethod
    def for_device(cls, cfg: TrainConfig, device: torch.device) -> "FastPath":
        cuda = device.type == "cuda"
        bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and cuda)
        if cuda:
            torch.backends.cudnn.benchmark = True
        return cls(device.type, torch.bfloat16 if bf16 else None, channels_last=cuda, fused=cuda)

    def autocast(self) -> ContextManager:
        """The context the step's forward passes and losses run in."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.autocast_dtype)

    def prepare(self, net: nn.Module) -> nn.Module:
        """The net in the layout this path computes in (conv nets only: MLPs have no layout)."""
        if self.channels_last and any(isinstance(m, nn.modules.conv._ConvNd) for m in net.modules()):
            net = net.to(memory_format=torch.channels_last)
        return net
