"""Generator and discriminator nets, built from the `model` section of a config."""

from gankit.nets.build import build_nets, fit_to_data

__all__ = ["build_nets", "fit_to_data"]
