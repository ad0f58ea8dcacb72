"""DCGAN G and D (Radford et al. 2016) at any resolution of the form 4·2ⁿ or 7·2ⁿ (8, 14, 16, 28,
32, 64, 128, ...).

The paper's guidelines, each visible below: no pooling and no hidden fully connected layers (G's
projection of z is a transposed conv from 1×1 to the first 4×4 or 7×7 map, D's verdict a conv over
the last map); transposed convs (kernel 4, stride 2) double G's maps, strided convs halve D's;
batch norm everywhere except G's output and D's input layers; ReLU in G with tanh at the output,
LeakyReLU(0.2) in D. Widths double at each halving of the resolution: at 64 px with width 64, G goes
512→256→128→64→3 channels, as in the paper's figure at half its width. The WGAN-GP critic variant is
`norm: layer` (or `none`): batch norm couples the examples of a batch, which breaks the gradient
penalty's per-example gradients.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.config import DCGANConfig
from gankit.errors import UserError
from gankit.nets.discriminator import HeadedDiscriminator
from gankit.nets.layers import VirtualBatchNorm2d, norm2d, output_activation


def pyramid(resolution: int, kind: str) -> tuple[int, int]:
    """(first map size, number of doublings) for a resolution, or a UserError naming the rule."""
    for start in (4, 7):
        doublings = math.log2(resolution / start) if resolution % start == 0 else -1
        if doublings >= 1 and doublings == int(doublings):
            return start, int(doublings)
    raise UserError(
        f"{kind} nets need a square resolution of 4·2ⁿ or 7·2ⁿ (8, 14, 16, 28, 32, 64, ...), got {resolution}; "
        "set data.resolution"
    )


def _square_shape(shape: tuple[int, ...], kind: str) -> tuple[int, int]:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise UserError(f"{kind} nets need square images (channels × size × size), the data gives {list(shape)}")
    return shape[0], shape[1]


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], cfg: DCGANConfig) -> None:
        super().__init__()
        self.z_dim = z_dim
        channels, size = _square_shape(shape, "dcgan")
        start, doublings = pyramid(size, "dcgan")
        width = cfg.width * 2 ** (doublings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, width, start, 1, 0, bias=cfg.norm == "none"),
            norm2d(cfg.norm, width),
            nn.ReLU(True),
        ]
        for _ in range(doublings - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=cfg.norm == "none"),
                norm2d(cfg.norm, width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), output_activation(cfg.output)]
        self.net = nn.Sequential(*layers)
        self.vbn = [m for m in self.net if isinstance(m, VirtualBatchNorm2d)]
        if self.vbn:  # the fixed reference batch of virtual batch norm, drawn by `build_nets`
            self.register_buffer("reference_z", torch.zeros(cfg.reference_size, z_dim))

    def forward(self, z: Tensor) -> Tensor:
        if self.vbn:  # the reference batch's statistics under the current weights, then the batch
            for layer in self.vbn:
                layer.collecting = True
            self.net(self.reference_z[:, :, None, None])
            for layer in self.vbn:
                layer.collecting = False
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(HeadedDiscriminator):
    def __init__(self, shape: tuple[int, ...], cfg: DCGANConfig, classes: int = 1) -> None:
        super().__init__()
        channels, size = _square_shape(shape, "dcgan")
        start, doublings = pyramid(size, "dcgan")
        width = cfg.width
        # Activations not in place: feature matching may read any layer's output (techniques.
        # feature_matching.layer), which an in-place activation after it would overwrite.
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        for _ in range(doublings - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=cfg.norm == "none"),
                norm2d(cfg.norm, width * 2),
                nn.LeakyReLU(0.2),
            ]
            width *= 2
        self.trunk = nn.Sequential(*layers)
        # "The last convolution layer is flattened and then fed into a single sigmoid output" (the
        # paper): the head is a linear map of the flattened last map, not a hidden FC layer.
        self._add_head(width * start * start, cfg.minibatch, classes)

    def features(self, x: Tensor) -> Tensor:
        """The last feature map, flattened (width·2ⁿ⁻¹ × 4 × 4, or × 7 × 7)."""
        return self.trunk(x).flatten(1)
