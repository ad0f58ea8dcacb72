"""Data sources, built from the `data` section of a config by `make_source`."""

from gankit.data.images import ImageSource
from gankit.data.registry import make_source, make_test_source
from gankit.data.source import DataSource
from gankit.data.toy import GaussianMixture, SwissRoll

__all__ = ["DataSource", "GaussianMixture", "ImageSource", "SwissRoll", "make_source", "make_test_source"]
