"""Named data sources: the `data.name` of a config picks one here."""

from __future__ import annotations

from gankit.config import (
    DataConfig,
    DigitsData,
    FolderData,
    Gaussian1DData,
    GridData,
    IDXData,
    RingData,
    StackedMNISTData,
    SwissRollData,
    TorchvisionData,
)
from gankit.data.idx import load_idx_dataset
from gankit.data.images import ImageSource, load_digits, load_folder, load_torchvision, resize
from gankit.data.source import DataSource
from gankit.data.stacked import stack_digits
from gankit.data.toy import SwissRoll, gaussian_1d, grid, ring


def make_source(cfg: DataConfig) -> DataSource:
    if isinstance(cfg, Gaussian1DData):
        return gaussian_1d(cfg.mean, cfg.std)
    if isinstance(cfg, RingData):
        return ring(cfg.modes, cfg.radius, cfg.std)
    if isinstance(cfg, GridData):
        return grid(cfg.side, cfg.spacing, cfg.std)
    if isinstance(cfg, SwissRollData):
        return SwissRoll(cfg.noise, cfg.scale)
    labels = None
    if isinstance(cfg, IDXData):
        images, labels = load_idx_dataset(cfg.name, cfg.split, cfg.root, cfg.download)
    elif isinstance(cfg, StackedMNISTData):
        digits, digit_labels = load_idx_dataset("mnist", cfg.split, cfg.root, cfg.download)
        images, labels = stack_digits(digits, digit_labels, cfg.size, cfg.seed)
    elif isinstance(cfg, FolderData):
        images = load_folder(cfg.path, cfg.resolution, cfg.channels, cfg.skip_corrupt)
    elif isinstance(cfg, TorchvisionData):
        images, labels = load_torchvision(cfg.name, cfg.root, cfg.download)
    elif isinstance(cfg, DigitsData):
        images, labels = load_digits()
    else:
        raise TypeError(f"no data source for {type(cfg).__name__}")
    if cfg.resolution is not None:
        images = resize(images, cfg.resolution)
    return ImageSource(images, labels, tuple(cfg.range))


def make_test_source(cfg: DataConfig) -> ImageSource | None:
    """The test split of a data set configured on its train split (MNIST, Fashion-MNIST), as the
    held-out set of Parzen estimates and semi-supervised test errors; None where there is none."""
    if isinstance(cfg, IDXData) and cfg.split == "train":
        return make_source(cfg.model_copy(update={"split": "test"}))
    return None
