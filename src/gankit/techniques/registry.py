"""The techniques a config switches on, built in a fixed order (the order their hooks run in)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.config import DataConfig, RunConfig
from gankit.data import DataSource, make_test_source
from gankit.techniques.base import Technique
from gankit.techniques.ema import WeightAverage
from gankit.techniques.feature_matching import FeatureMatching
from gankit.techniques.historical_averaging import HistoricalAveraging
from gankit.techniques.instance_noise import InstanceNoise
from gankit.techniques.label_smoothing import OneSidedLabelSmoothing
from gankit.techniques.semi_supervised import SemiSupervised, balanced_subset


def build_techniques(cfg: RunConfig, g: nn.Module, d: nn.Module, source: DataSource) -> list[Technique]:
    chosen = cfg.techniques
    techniques: list[Technique] = []
    if chosen.instance_noise:
        noise = chosen.instance_noise
        techniques.append(InstanceNoise(noise.std, noise.anneal_steps))
    if chosen.label_smoothing:
        techniques.append(OneSidedLabelSmoothing(chosen.label_smoothing.real))
    if chosen.feature_matching:
        fm = chosen.feature_matching
        techniques.append(FeatureMatching(d, fm.layer, fm.weight, fm.replace_g_loss))
    if chosen.historical_averaging:
        techniques.append(HistoricalAveraging(g, d, chosen.historical_averaging.weight))
    if chosen.semi_supervised:
        ssl = chosen.semi_supervised
        labelled = balanced_subset(source.labels, ssl.labels, ssl.seed)
        average = WeightAverage(d, ssl.average) if ssl.average else None
        techniques.append(SemiSupervised(source, labelled, ssl.weight, *semi_supervised_test_set(cfg.data, source, labelled), average))
    return techniques


def semi_supervised_test_set(data: DataConfig, source: DataSource, labelled: Tensor) -> tuple[Tensor, Tensor]:
    """The semi-supervised test set: the test split where the data set has one, else every
    training image outside the labelled subset."""
    test = make_test_source(data)
    if test is not None:
        return test.images, test.labels
    rest = torch.ones(len(source.labels), dtype=torch.bool)
    rest[labelled] = False
    return source.images.cpu()[rest], source.labels[rest]
