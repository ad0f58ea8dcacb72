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


class GaussianNoise(nn.Module):
    """x + N(0, std²) in training, x in eval mode: a regulariser like dropout (drawn from the global
    generator, which checkpoints keep, as dropout's masks are)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training else x


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
    """Batch norm, layer norm over (C, H, W) with a per-channel affine (WGAN-GP's critic), virtual
    batch norm, or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "virtual-batch":
        return VirtualBatchNorm2d(channels)
    return nn.Identity()


class VirtualBatchNorm2d(nn.Module):
    """Virtual batch normalization (Salimans et al. 2016, sec. 3.5).

    Batch norm makes each generated image depend on the others in its batch. VBN normalises every
    example with the statistics of a reference batch, fixed at the start of training, combined
    with the example itself: mean = (1/(N+1))·mean(x) + (N/(N+1))·mean(ref), likewise for the mean
    square (the means of x taken over its own positions, of the reference over its N examples and
    positions). An example's output never depends on the rest of its batch.

    The net runs the reference batch first with `collecting` on, which records its statistics and
    normalises the reference batch by them. The DCGAN G does this on every forward, so the
    statistics follow the current weights and gradients flow through them, as in the paper.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.collecting = False
        self.reference: tuple[Tensor, Tensor, int] | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.collecting:
            mean, mean_sq = x.mean(dim=(0, 2, 3), keepdim=True), x.square().mean(dim=(0, 2, 3), keepdim=True)
            self.reference = (mean, mean_sq, len(x))
        else:
            if self.reference is None:
                raise RuntimeError("VirtualBatchNorm2d needs a reference batch first (see ReferenceBatchGenerator)")
            ref_mean, ref_mean_sq, n = self.reference
            own = 1.0 / (n + 1)
            mean = own * x.mean(dim=(2, 3), keepdim=True) + (1 - own) * ref_mean
            mean_sq = own * x.square().mean(dim=(2, 3), keepdim=True) + (1 - own) * ref_mean_sq
        scale = torch.rsqrt(mean_sq - mean.square() + self.eps)
        return (x - mean) * scale * self.weight[:, None, None] + self.bias[:, None, None]
