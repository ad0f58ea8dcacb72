"""Data sources, built from the `data` section of a config by `make_source`."""

from gankit.data.registry import make_source
from gankit.data.toy import DataSource, GaussianMixture, SwissRoll

__all__ = ["DataSource", "GaussianMixture", "SwissRoll", "make_source"]
