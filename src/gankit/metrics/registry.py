"""Every metric gankit computes, declared once: its name, what it reports, what it needs and which
way is better. Everything else is derived from here: the names `log.metrics` and `--metrics` take,
the values `log.best` may pick and which way it keeps, the curves of the report, the spreads of the
eval table, the networks an Evaluator loads, and the refusals of a metric the data cannot support.

Adding a metric is one file and one registration: a function of `MetricInputs` (in
`gankit.metrics.inputs`) returning {output: value}, and a `Metric(...)` line below naming it. This
module imports nothing, so the config schema (which sits below the metrics) reads it too; that is
why a metric's function is named by its import path and imported only when it is computed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

# What a metric may need, checked before anything is computed:
FEATURES = "features"  # a feature space (Inception-v3 or an offline classifier's penultimate layer)
CLASSES = "classes"  # a classifier of the reference data's classes (each channel's, on Stacked MNIST)
HELDOUT = "heldout"  # a test split the generator never saw
LABELS = "labels"  # the class each generated image was drawn for (a class-conditional G's samples)


@dataclass(frozen=True)
class Metric:
    name: str
    outputs: tuple[str, ...]  # the values it reports, each a value `log.best` may pick
    compute: str  # "module:function": function(inputs: MetricInputs) -> {value name: float}
    needs: frozenset[str]
    lower_is_better: tuple[str, ...] = ()  # of its outputs; the others are better higher
    spreads: dict[str, str] = field(default_factory=dict)  # output -> the value that is its ± spread
    default: bool = False  # among `gankit eval`'s defaults

    def function(self) -> Callable[[Any], dict[str, float]]:
        module, name = self.compute.split(":")
        return getattr(importlib.import_module(module), name)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("fid", ("fid",), "gankit.metrics.fid:fid_metric", frozenset({FEATURES}), ("fid",), default=True),
    Metric("is", ("is",), "gankit.metrics.inception_score:is_metric", frozenset({FEATURES}),
           spreads={"is": "is_std"}, default=True),
    Metric("kid", ("kid",), "gankit.metrics.kid:kid_metric", frozenset({FEATURES}), ("kid",),
           spreads={"kid": "kid_std"}, default=True),
    Metric("pr", ("precision", "recall"), "gankit.metrics.prdc:pr_metric", frozenset({FEATURES}), default=True),
    Metric("dc", ("density", "coverage"), "gankit.metrics.prdc:dc_metric", frozenset({FEATURES}), default=True),
    Metric("parzen", ("parzen",), "gankit.metrics.parzen:parzen_metric", frozenset({HELDOUT}),
           spreads={"parzen": "parzen_se"}),
    Metric("modes", ("modes", "kl"), "gankit.metrics.classes:modes_metric", frozenset({CLASSES}), ("kl",)),
    Metric("label_accuracy", ("label_accuracy",), "gankit.metrics.classes:label_accuracy_metric",
           frozenset({CLASSES, LABELS})),
)}

# Values reported by other evaluations than these metrics, with their direction: the mode probe of
# a Gaussian mixture (gankit.metrics.modes) and the semi-supervised D's test errors.
MIXTURE_OUTPUTS = ("modes", "high_quality", "kl")
TECHNIQUE_OUTPUTS = ("test_error", "test_error_average")
_OTHER_LOWER_IS_BETTER = ("kl", *TECHNIQUE_OUTPUTS)  # the mixture probe's KL, and both test errors


def metric_names() -> tuple[str, ...]:
    return tuple(METRICS)


def default_metrics() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS.values() if m.default)


def lower_is_better(value: str) -> bool:
    """Whether a smaller `value` (any reported value's name) is the better one."""
    return value in _OTHER_LOWER_IS_BETTER or any(value in m.lower_is_better for m in METRICS.values())


def reported_values() -> tuple[str, ...]:
    """Every value an evaluation may log, mixtures' first, then the metrics', then techniques'."""
    names = [*MIXTURE_OUTPUTS, *(out for m in METRICS.values() for out in m.outputs), *TECHNIQUE_OUTPUTS]
    return tuple(dict.fromkeys(names))


def spreads() -> dict[str, str]:
    """{reported value: the value that is its ± spread}."""
    return {out: spread for m in METRICS.values() for out, spread in m.spreads.items()}
