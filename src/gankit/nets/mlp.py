"""Fully connected G and D, as in Goodfellow et al. 2014 and the toy-data GAN literature.

They work on any example shape: G emits prod(shape) numbers reshaped to it, D flattens its input.
D returns logits (never a sigmoid: the losses use the stable `*_with_logits` forms) and exposes
`features(x)`, the last hidden layer, for feature matching and semi-supervised heads.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.config import MLPConfig
from gankit.nets.discriminator import HeadedDiscriminator
from gankit.nets.layers import GaussianNoise, Maxout, WeightNormLinear, activation, output_activation


def _hidden_layer(width: int, hidden: int, cfg: MLPConfig) -> list[nn.Module]:
    """One hidden layer before its activation: affine, batch-normalized or weight-normalized."""
    if cfg.activation == "maxout":
        return [Maxout(width, hidden, cfg.maxout_pieces)]
    if cfg.norm == "batch":
        return [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden), activation(cfg.activation)]
    if cfg.norm == "weight":
        return [WeightNormLinear(width, hidden), activation(cfg.activation)]
    return [nn.Linear(width, hidden), activation(cfg.activation)]


def _trunk(in_features: int, cfg: MLPConfig) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = [nn.Dropout(cfg.input_dropout)] if cfg.input_dropout > 0 else []
    if cfg.input_noise > 0:
        layers.append(GaussianNoise(cfg.input_noise))
    width = in_features
    for hidden in cfg.hidden:
        layers += _hidden_layer(width, hidden, cfg)
        if cfg.hidden_noise > 0:
            layers.append(GaussianNoise(cfg.hidden_noise))
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        width = hidden
    return nn.Sequential(*layers), width


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], cfg: MLPConfig) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.shape = shape
        self.trunk, width = _trunk(z_dim, cfg)
        self.head = nn.Linear(width, math.prod(shape))
        self.squash = output_activation(cfg.output)

    def forward(self, z: Tensor) -> Tensor:
        return self.squash(self.head(self.trunk(z))).view(-1, *self.shape)

    @torch.no_grad()
    def start_at(self, mean: Tensor) -> None:
        """Set the output biases so that G, with zero pre-activations, gives the example `mean`."""
        target = mean.flatten().to(self.head.bias)
        if isinstance(self.squash, nn.Sigmoid):
            target = torch.logit(target.clamp(1e-3, 1 - 1e-3))
        elif isinstance(self.squash, nn.Tanh):
            target = torch.atanh(target.clamp(-1 + 1e-3, 1 - 1e-3))
        self.head.bias.copy_(target)


class MLPDiscriminator(HeadedDiscriminator):
    def __init__(self, shape: tuple[int, ...], cfg: MLPConfig, classes: int = 1) -> None:
        super().__init__()
        self.trunk, width = _trunk(math.prod(shape), cfg)
        self._add_head(width, cfg.minibatch, classes, weight_norm=cfg.norm == "weight")

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x.flatten(1))
