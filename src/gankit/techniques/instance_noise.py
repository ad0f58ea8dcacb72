"""Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017, sec. 3): Gaussian noise added to
every input of D, real and generated, so the two distributions overlap and D's gradients stay
informative early on. The noise is annealed linearly from `std` to 0, so the end of training
fits the data itself.

Noise is drawn from the global torch generator, which checkpoints keep per rank: a resumed run
draws the same noise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.techniques.base import Technique


class InstanceNoise(Technique):
    name = "instance_noise"

    def __init__(self, std: float, anneal_steps: int) -> None:
        self.std, self.anneal_steps = std, anneal_steps

    def std_at(self, step: int) -> float:
        return self.std * max(0.0, 1.0 - step / self.anneal_steps)

    def d_input(self, x: Tensor, step: int) -> Tensor:
        std = self.std_at(step)
        return x + std * torch.randn_like(x) if std > 0 else x
