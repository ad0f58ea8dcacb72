"""What a metric's function is given: the generated images, the reference, and the features and
class labels an Evaluator computes once and shares between every metric that needs them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from torch import Tensor

from gankit.metrics.classes import predicted_classes
from gankit.metrics.features import FeatureExtractor, extract
from gankit.metrics.fid import FeatureStats

if TYPE_CHECKING:
    from gankit.metrics.evaluator import Reference


@dataclass
class MetricInputs:
    fake: Tensor  # uint8 N×C×H×W, the reference's shape
    reference: "Reference"
    features: FeatureExtractor | None
    classifier: FeatureExtractor | None  # of the reference's classes, for metrics that need CLASSES
    real_features: Callable[[], Tensor]  # the reference's features (the Evaluator caches them)
    real_stats: Callable[[], FeatureStats]  # their Gaussian fit, likewise
    fake_labels: Tensor | None = None  # the class each of `fake` was drawn for, by a class-conditional G

    @functools.cached_property
    def _fake_extracted(self) -> tuple[Tensor, Tensor]:
        assert self.features is not None, "only metrics that need FEATURES read them"
        return extract(self.features, self.fake)

    @property
    def fake_features(self) -> Tensor:
        return self._fake_extracted[0]

    @property
    def fake_logits(self) -> Tensor:
        return self._fake_extracted[1]

    @functools.cached_property
    def fake_classes(self) -> Tensor:
        """The class the reference's classifier gives each of `fake` (on Stacked MNIST, the mode
        its channels' digits name), classified once for every metric that reads it."""
        assert self.classifier is not None, "only metrics that need CLASSES read them"
        return predicted_classes(self.fake, self.classifier, self.reference.stacked)
