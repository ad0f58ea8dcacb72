"""Build G and D from the `model` section of a config and the shape of one data example."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.config import DCGANConfig, MLPConfig, ModelConfig
from gankit.data.source import DataSource
from gankit.nets.conditional import ProjectionDiscriminator
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.latent import draw_labels, draw_latent, with_labels
from gankit.nets.layers import init_weights, initialise_from_data
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.nets.packing import PackedDiscriminator, packed_shape
from gankit.nets.resnet import ResNetCritic, ResNetGenerator
from gankit.nets.spectral import spectral_normalise

DCGAN_INIT_STD = 0.02  # Radford et al. 2016: "initialized from a zero-centered Normal, std 0.02"
DATA_INIT_BATCH = 500  # the semi-supervised MNIST code of Salimans et al. 2016 initialises on 500


def build_generator(cfg: ModelConfig, shape: tuple[int, ...]) -> nn.Module:
    """G, fed z_dim numbers, and a class-conditional G the label's one-hot after them (`nets.latent`)."""
    inputs = cfg.z_dim + cfg.label_classes
    if isinstance(cfg.g, MLPConfig):
        return MLPGenerator(inputs, shape, cfg.g)
    if isinstance(cfg.g, DCGANConfig):
        return DCGANGenerator(inputs, shape, cfg.g)
    return ResNetGenerator(inputs, shape, cfg.g)


def build_discriminator(cfg: ModelConfig, shape: tuple[int, ...], classes: int = 1) -> nn.Module:
    """D; `classes` K > 1 makes it the semi-supervised K+1-class discriminator; `cfg.pack` m > 1
    one that judges m examples at a time (PacGAN); `cfg.conditional` the projection D of a
    class-conditional GAN."""
    inner = packed_shape(shape, cfg.pack)
    if isinstance(cfg.d, MLPConfig):
        d = MLPDiscriminator(inner, cfg.d, classes)
    elif isinstance(cfg.d, DCGANConfig):
        d = DCGANDiscriminator(inner, cfg.d, classes)
    else:
        d = ResNetCritic(inner, cfg.d, classes)
    if cfg.conditional is not None:
        return ProjectionDiscriminator(d, cfg.conditional.classes)
    return PackedDiscriminator(d, cfg.pack) if cfg.pack > 1 else d


def draw_inputs(n: int, cfg: ModelConfig, generator: torch.Generator) -> Tensor:
    """n inputs for G from `generator`: latent codes, and uniform labels for a class-conditional G."""
    z = draw_latent(n, cfg.z_dim, cfg.z_dist, generator)
    labels = draw_labels(n, cfg.label_classes, generator) if cfg.label_classes else None
    return with_labels(z, labels, cfg.label_classes)


def build_nets(cfg: ModelConfig, shape: tuple[int, ...], seed: int, classes: int = 1) -> tuple[nn.Module, nn.Module]:
    """G and D, initialised from `seed` alone (the same nets on every rank and every resume)."""
    generator = torch.Generator().manual_seed(seed)
    g, d = build_generator(cfg, shape), build_discriminator(cfg, shape, classes)
    for net, net_cfg in ((g, cfg.g), (d, cfg.d)):
        std = DCGAN_INIT_STD if isinstance(net_cfg, DCGANConfig) else None
        init_weights(net, generator, std, getattr(net_cfg, "init_range", None))
        if net_cfg.spectral_norm:  # after the init: it divides the initialised weights
            spectral_normalise(net, seed)
    if hasattr(g, "reference_z"):  # virtual batch norm's reference batch, fixed for the whole run
        g.reference_z.copy_(draw_inputs(len(g.reference_z), cfg, generator))
    return g, d


def fit_to_data(g: nn.Module, d: nn.Module, cfg: ModelConfig, source: DataSource, seed: int) -> None:
    """The init steps that look at data, after `build_nets`: G's output biases at the mean example
    (`output_bias: data-mean`) and the data-dependent init of weight-normalized layers, D's on real
    examples and G's on latent codes. Seeded (its Gaussian noise layers' draws too), so every rank
    and every resume builds the same nets."""
    generator = torch.Generator().manual_seed(seed)
    if getattr(cfg.g, "output_bias", "zero") == "data-mean":
        g.start_at(source.sample(10_000, generator).mean(dim=0).cpu())
    d_batch = DATA_INIT_BATCH - DATA_INIT_BATCH % cfg.pack  # whole packs
    initialise_from_data(d, lambda: source.sample(d_batch, generator).cpu(), noise_seed=seed)
    initialise_from_data(g, lambda: draw_inputs(DATA_INIT_BATCH, cfg, generator), noise_seed=seed)
