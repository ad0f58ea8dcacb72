"""The techniques a config switches on, built in a fixed order (the order their hooks run in)."""

from __future__ import annotations

from torch import nn

from gankit.config import RunConfig
from gankit.data import DataSource
from gankit.techniques.base import Technique
from gankit.techniques.ema import WeightAverage
from gankit.techniques.feature_matching import FeatureMatching
from gankit.techniques.historical_averaging import HistoricalAveraging
from gankit.techniques.instance_noise import InstanceNoise
from gankit.techniques.label_smoothing import OneSidedLabelSmoothing
from gankit.techniques.semi_supervised import SemiSupervised, balanced_subset, semi_supervised_test_set


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
        test_images, test_labels = semi_supervised_test_set(cfg.data, source, labelled)
        techniques.append(SemiSupervised(source, labelled, ssl.weight, test_images, test_labels, average))
    return techniques
