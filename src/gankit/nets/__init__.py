"""Generator and discriminator nets, built from the `model` section of a config."""

from gankit.nets.build import build_nets

__all__ = ["build_nets"]
