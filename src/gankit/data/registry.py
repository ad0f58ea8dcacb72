"""Named data sources: the `data.name` of a config picks one here."""

from __future__ import annotations

from gankit.config import DataConfig, Gaussian1DData, GridData, RingData, SwissRollData
from gankit.data.toy import DataSource, SwissRoll, gaussian_1d, grid, ring


def make_source(cfg: DataConfig) -> DataSource:
    if isinstance(cfg, Gaussian1DData):
        return gaussian_1d(cfg.mean, cfg.std)
    if isinstance(cfg, RingData):
        return ring(cfg.modes, cfg.radius, cfg.std)
    if isinstance(cfg, GridData):
        return grid(cfg.side, cfg.spacing, cfg.std)
    if isinstance(cfg, SwissRollData):
        return SwissRoll(cfg.noise, cfg.scale)
    raise TypeError(f"no data source for {type(cfg).__name__}")
