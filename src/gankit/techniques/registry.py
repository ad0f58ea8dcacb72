"""The techniques a config can switch on: one registration each, in the order their hooks run.

A registration names the setting that switches its technique on (a dotted path into RunConfig; on
when that setting is set) and builds the technique from that setting and the run's parts. The
settings themselves, with the combinations each refuses, are models in `gankit.config.schema`: one
schema module, since splitting it per technique makes import cycles. Adding a technique is its
file, its settings model and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Any, Callable

from torch import nn

from gankit.config import RunConfig
from gankit.data import DataSource
from gankit.objectives.penalties import ZeroCentredPenalty
from gankit.techniques.base import Technique
from gankit.techniques.diffaugment import DiffAugment
from gankit.techniques.ema import GeneratorEMA
from gankit.techniques.feature_matching import FeatureMatching
from gankit.techniques.historical_averaging import HistoricalAveraging
from gankit.techniques.instance_noise import InstanceNoise
from gankit.techniques.label_smoothing import OneSidedLabelSmoothing
from gankit.techniques.semi_supervised import build_semi_supervised, class_count


@dataclass(frozen=True)
class RunParts:
    """What a technique may be built from besides its own settings."""

    cfg: RunConfig
    g: nn.Module
    d: nn.Module
    source: DataSource


@dataclass(frozen=True)
class Registration:
    setting: str  # e.g. "techniques.instance_noise"
    build: Callable[[Any, RunParts], Technique]

    def setting_in(self, cfg: RunConfig) -> Any:
        return reduce(getattr, self.setting.split("."), cfg)


TECHNIQUES: tuple[Registration, ...] = (
    Registration("techniques.diffaugment",  # first: instance noise, if on too, goes on the augmented image
                 lambda s, run: DiffAugment(s.policy, s.translation, s.cutout)),
    Registration("techniques.instance_noise", lambda s, run: InstanceNoise(s.std, s.anneal_steps)),
    Registration("techniques.label_smoothing", lambda s, run: OneSidedLabelSmoothing(s.real)),
    Registration("techniques.feature_matching",
                 lambda s, run: FeatureMatching(run.d, s.layer, s.weight, s.replace_g_loss)),
    Registration("techniques.historical_averaging", lambda s, run: HistoricalAveraging(run.g, run.d, s.weight)),
    Registration("techniques.r1", lambda s, run: ZeroCentredPenalty("r1", s.gamma, s.every)),
    Registration("techniques.r2", lambda s, run: ZeroCentredPenalty("r2", s.gamma, s.every)),
    Registration("techniques.semi_supervised",
                 lambda s, run: build_semi_supervised(s, run.cfg.data, run.source, run.d)),
    Registration("train.ema", lambda s, run: GeneratorEMA(run.g, s)),  # last: it averages G as the others left it
)


def d_classes(cfg: RunConfig, source: DataSource) -> int:
    """How many logits D's head gives: K classes for the semi-supervised D, else one."""
    return class_count(source) if cfg.techniques.semi_supervised else 1


def build_techniques(cfg: RunConfig, g: nn.Module, d: nn.Module, source: DataSource) -> list[Technique]:
    """The techniques `cfg` switches on, in registration order."""
    parts = RunParts(cfg, g, d, source)
    return [r.build(setting, parts) for r in TECHNIQUES if (setting := r.setting_in(cfg))]
