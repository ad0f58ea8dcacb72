"""The ResNet G and critic of Gulrajani et al. 2017 (WGAN-GP), from its CIFAR-10 experiments
(igul222/improved_wgan_training, gan_cifar_resnet.py), at width 128 by default.

G: a linear map of z to a 4×4 map, residual blocks that each double the size (batch norm, ReLU,
nearest upsampling, 3×3 convs; the shortcut upsamples and applies a 1×1 conv), then batch norm,
ReLU, a 3×3 conv to the image and tanh. Critic: a first residual block that halves the size, more
halving blocks down to 8×8, two blocks at 8×8, ReLU, global mean pooling and a linear verdict; no
normalisation by default (the paper's critic), `norm: layer` optional. At 32×32 this is exactly the
paper's net: three up-blocks in G; the critic's blocks at 16, 8, 8 and 8.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ResNetConfig
from gankit.errors import UserError
from gankit.nets.discriminator import HeadedDiscriminator
from gankit.nets.layers import norm2d, output_activation


def _doublings(shape: tuple[int, ...]) -> tuple[int, int]:
    """(channels, log2(size / 4)) for square images of size 2ⁿ ≥ 16."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise UserError(f"resnet nets need square images (channels × size × size), the data gives {list(shape)}")
    size = shape[1]
    n = math.log2(size / 4)
    if size < 16 or n != int(n):
        raise UserError(f"resnet nets need a resolution that is a power of two ≥ 16 (32 in the paper), got {size}; "
                        "set data.resolution")
    return shape[0], int(n)


class ResBlock(nn.Module):
    """norm → ReLU → conv3×3 → norm → ReLU → conv3×3, plus a shortcut; resamples `up`, `down` or not."""

    def __init__(self, c_in: int, c_out: int, resample: str | None, norm: str, preactivate: bool = True) -> None:
        super().__init__()
        self.resample = resample
        self.preactivate = preactivate
        self.norm1, self.norm2 = norm2d(norm, c_in), norm2d(norm, c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out or resample else nn.Identity()

    def _resize(self, x: Tensor) -> Tensor:
        if self.resample == "up":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.resample == "down":
            return F.avg_pool2d(x, 2)
        return x

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.norm1(x)) if self.preactivate else x
        if self.resample == "up":
            h = self._resize(h)
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        if self.resample == "down":
            h = self._resize(h)
        # A 1×1 conv commutes with nearest upsampling and mean pooling: apply it at the low resolution.
        skip = self.shortcut(self._resize(x)) if self.resample == "down" else self._resize(self.shortcut(x))
        return h + skip


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], cfg: ResNetConfig) -> None:
        super().__init__()
        self.z_dim = z_dim
        channels, doublings = _doublings(shape)
        norm = cfg.norm or "batch"
        self.width = cfg.width
        self.project = nn.Linear(z_dim, 4 * 4 * cfg.width)
        self.blocks = nn.Sequential(*[ResBlock(cfg.width, cfg.width, "up", norm) for _ in range(doublings)])
        self.out = nn.Sequential(
            norm2d(norm, cfg.width), nn.ReLU(), nn.Conv2d(cfg.width, channels, 3, 1, 1), output_activation(cfg.output)
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.out(self.blocks(self.project(z).view(-1, self.width, 4, 4)))


class ResNetCritic(HeadedDiscriminator):
    def __init__(self, shape: tuple[int, ...], cfg: ResNetConfig, classes: int = 1) -> None:
        super().__init__()
        channels, doublings = _doublings(shape)
        norm = cfg.norm or "none"
        width = cfg.width
        blocks = [ResBlock(channels, width, "down", "none", preactivate=False)]  # the first block
        blocks += [ResBlock(width, width, "down", norm) for _ in range(doublings - 2)]
        blocks += [ResBlock(width, width, None, norm) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self._add_head(width, cfg.minibatch, classes)

    def features(self, x: Tensor) -> Tensor:
        """ReLU of the last block's map, mean-pooled over space (width numbers)."""
        return F.relu(self.blocks(x)).mean(dim=(2, 3))
