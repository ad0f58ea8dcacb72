"""Fully connected G and D, as in Goodfellow et al. 2014 and the toy-data GAN literature.

D returns logits (never a sigmoid: the losses use the stable `*_with_logits` forms) and exposes
`features(x)`, the last hidden layer, for feature matching and semi-supervised heads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.config import MLPConfig, ModelConfig
from gankit.nets.layers import Maxout, activation, init_weights


def _trunk(in_features: int, cfg: MLPConfig) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    width = in_features
    for hidden in cfg.hidden:
        if cfg.activation == "maxout":
            layers.append(Maxout(width, hidden, cfg.maxout_pieces))
        else:
            layers += [nn.Linear(width, hidden), activation(cfg.activation)]
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        width = hidden
    return nn.Sequential(*layers), width


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, out_dim: int, cfg: MLPConfig) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.trunk, width = _trunk(z_dim, cfg)
        self.head = nn.Linear(width, out_dim)
        self.squash = nn.Sigmoid() if cfg.output == "sigmoid" else nn.Identity()

    def forward(self, z: Tensor) -> Tensor:
        return self.squash(self.head(self.trunk(z)))


class MLPDiscriminator(nn.Module):
    def __init__(self, in_dim: int, cfg: MLPConfig) -> None:
        super().__init__()
        self.trunk, width = _trunk(in_dim, cfg)
        self.head = nn.Linear(width, 1)

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).squeeze(-1)


def build_nets(cfg: ModelConfig, data_dim: int, seed: int) -> tuple[nn.Module, nn.Module]:
    generator = torch.Generator().manual_seed(seed)
    g = MLPGenerator(cfg.z_dim, data_dim, cfg.g)
    d = MLPDiscriminator(data_dim, cfg.d)
    init_weights(g, generator)
    init_weights(d, generator)
    return g, d
