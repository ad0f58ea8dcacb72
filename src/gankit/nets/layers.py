"""Small layers shared by the nets."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Maxout(nn.Module):
    """Goodfellow et al. 2013: each unit is the max over `pieces` affine maps of its input."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.out_features = out_features
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x).view(*x.shape[:-1], self.out_features, self.pieces)
        return y.amax(dim=-1)


def activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.2), "tanh": nn.Tanh()}[name]


def init_weights(
    module: nn.Module, generator: torch.Generator, std: float | None = None, uniform: float | None = None
) -> None:
    """Seeded init from an explicit generator, so nets are identical on every rank and on resume.

    By default PyTorch's scale, U(±1/√fan_in) for weights and biases. With `std`: N(0, std) weights
    and zero biases, and N(1, std) norm scales — the DCGAN paper's init (0.02). With `uniform`:
    U(±uniform) weights and zero biases — pylearn2's `irange`, the 2014 GAN paper's init.
    """
    for layer in module.modules():
        weight, bias = getattr(layer, "weight", None), getattr(layer, "bias", None)
        if not isinstance(weight, nn.Parameter):
            continue
        with torch.no_grad():
            if weight.ndim >= 2 and uniform is not None:
                weight.uniform_(-uniform, uniform, generator=generator)
                if bias is not None:
                    bias.zero_()
            elif weight.ndim >= 2:  # linear and conv layers
                if std is None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
                    bound = 1.0 / fan_in**0.5
                    weight.uniform_(-bound, bound, generator=generator)
                    if bias is not None:
                        bias.uniform_(-bound, bound, generator=generator)
                else:
                    weight.normal_(0.0, std, generator=generator)
                    if bias is not None:
                        bias.zero_()
            elif std is not None:  # a norm layer's per-channel scale
                weight.normal_(1.0, std, generator=generator)
                if bias is not None:
                    bias.zero_()


def output_activation(name: str | None) -> nn.Module:
    """G's last activation: tanh for pixels in [-1, 1], sigmoid for [0, 1], none for points."""
    return {"linear": nn.Identity(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), None: nn.Tanh()}[name]


def norm2d(kind: str, channels: int) -> nn.Module:
    """Batch norm, layer norm over (C, H, W) with a per-channel affine (WGAN-GP's critic), or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()
