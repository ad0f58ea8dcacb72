"""Generator and discriminator nets, built from the `model` section of a config."""

from gankit.nets.mlp import MLPDiscriminator, MLPGenerator, build_nets

__all__ = ["MLPDiscriminator", "MLPGenerator", "build_nets"]
