"""The techniques a config switches on, built in a fixed order (the order their hooks run in)."""

from __future__ import annotations

from torch import nn

from gankit.config import RunConfig
from gankit.data import DataSource
from gankit.techniques.base import Technique
from gankit.techniques.ema import GeneratorEMA
from gankit.techniques.feature_matching import FeatureMatching
from gankit.techniques.historical_averaging import HistoricalAveraging
from gankit.techniques.instance_noise import InstanceNoise
from gankit.techniques.label_smoothing import OneSidedLabelSmoothing
from gankit.techniques.semi_supervised import build_semi_supervised, class_count


def d_classes(cfg: RunConfig, source: DataSource) -> int:
    """How many logits D's head gives: K classes for the semi-supervised D, else one."""
    return class_count(source) if cfg.techniques.semi_supervised else 1


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
        techniques.append(build_semi_supervised(chosen.semi_supervised, cfg.data, source, d))
    if cfg.train.ema:  # last: it averages G as every other hook left it
        techniques.append(GeneratorEMA(g, cfg.train.ema))
    return techniques
