"""The Evaluator: generated images against a reference set, for any choice of metrics.

Used by `gankit eval` and by the metrics probe during training. It extracts the features of the
generated images once, takes the reference features from a cache (keyed by a hash of the reference
pixels and the feature space's name, so a changed data set or extractor can never hit an old
entry), and computes each requested metric from them by the function its registration names
(`gankit.metrics.registry`, which also lists what each one reports and needs).
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import Tensor

from gankit.data.stacked import MODES
from gankit.errors import UserError
from gankit.files import atomic_write_bytes
from gankit.metrics.classifier import DATASETS as CLASSIFIED_DATASETS
from gankit.metrics.classifier import load_classifier
from gankit.metrics.features import FeatureExtractor, default_space, extract, load_extractor
from gankit.metrics.fid import FeatureStats
from gankit.metrics.inputs import MetricInputs
from gankit.metrics.registry import CLASSES, FEATURES, HELDOUT, LABELS, METRICS

CACHE_ENV = "GANKIT_CACHE"


@dataclass
class Reference:
    """The real images generated ones are judged against (uint8 N×C×H×W).

    `heldout` is a split the generator never saw (Parzen's test set); `stacked` marks Stacked MNIST.
    """

    name: str
    dataset: str  # the data set's name, which picks its offline classifier
    images: Tensor
    heldout: Tensor | None = None
    stacked: bool = False

    @functools.cached_property
    def digest(self) -> str:
        """A hash of the pixels: the feature cache's key, so changed data never hit an old entry."""
        return hashlib.sha256(self.images.cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def check_metrics(names: Sequence[str], reference: Reference) -> list[str]:
    """The requested metric names, validated against what the reference supports."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    for name in names:
        needs = METRICS[name].needs
        if CLASSES in needs and not (reference.stacked or reference.dataset in CLASSIFIED_DATASETS):
            raise UserError(f"metric {name!r} classifies images of stacked-mnist (its modes) or of "
                            f"{', '.join(CLASSIFIED_DATASETS)}; {reference.name} is neither")
        if HELDOUT in needs and reference.heldout is None:
            raise UserError(f"metric {name!r} needs a held-out test split; {reference.name} has none")
    return list(dict.fromkeys(names))


def _needing(need: str, names: Sequence[str]) -> list[str]:
    return [n for n in names if need in METRICS[n].needs]


def _check_classifier(classifier: FeatureExtractor | None, reference: Reference, metric: str) -> None:
    """Refuse a classifier (of `modes`, `label_accuracy`) that cannot tell the reference's classes:
    none at all, or one that would see the images blown up from fewer pixels than it was trained at,
    where real images lose classes too (Fashion-MNIST's test images at 8×8: 7 of 10) and the loss
    reads as collapse."""
    if classifier is None:
        raise UserError(f"metric {metric!r} needs a classifier of the reference data's classes")
    side = reference.images.shape[-1]
    if side < classifier.resolution:
        raise UserError(f"metric {metric!r} needs images of at least the {classifier.name}'s "
                        f"{classifier.resolution}×{classifier.resolution}; {reference.name} is {side}×{side}")


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "gankit") / "features"


class Evaluator:
    """Metrics of generated images against one reference set, in one feature space."""

    def __init__(
        self,
        reference: Reference,
        metrics: Sequence[str],
        features: FeatureExtractor | None,
        classifier: FeatureExtractor | None = None,
        cache_dir: Path | None = None,
        reference_count: int | None = None,
    ) -> None:
        self.reference = reference
        self.metrics = check_metrics(metrics, reference)
        if features is None and _needing(FEATURES, self.metrics):
            raise UserError(f"the feature metrics ({', '.join(_needing(FEATURES, self.metrics))}) need a feature space")
        if _needing(CLASSES, self.metrics):
            _check_classifier(classifier, reference, _needing(CLASSES, self.metrics)[0])
        self.features = features
        self.classifier = classifier  # labels the images (each channel, on Stacked MNIST) for `modes`, `label_accuracy`
        self.cache_dir = cache_dir
        self.reference_count = reference_count
        self._real: Tensor | None = None
        self._real_stats: FeatureStats | None = None

    @property
    def modes_total(self) -> int:
        """How many modes metric `modes` can find: Stacked MNIST's 1,000, else the classes."""
        assert self.classifier is not None, "only an Evaluator of a metric that needs CLASSES has modes"
        return MODES if self.reference.stacked else self.classifier.num_classes

    @property
    def feature_space(self) -> str | None:
        return self.features.name if self.features is not None else None

    def __call__(self, fake: Tensor, labels: Tensor | None = None) -> dict[str, float]:
        """Every requested metric of uint8 images `fake`, as a flat {name: value} dict; `labels`,
        the class each was drawn for by a class-conditional G (metric `label_accuracy` needs them)."""
        real_images = self.reference.images
        if labels is None and _needing(LABELS, self.metrics):
            raise UserError(f"metric {_needing(LABELS, self.metrics)[0]!r} needs the class each image was drawn for: "
                            "the samples of a class-conditional run (model.conditional)")
        if fake.dtype != torch.uint8 or fake.shape[1:] != real_images.shape[1:]:
            raise UserError(
                f"generated images {list(fake.shape[1:])} ({fake.dtype}) do not match the reference "
                f"{self.reference.name} {list(real_images.shape[1:])} (uint8)"
            )
        inputs = MetricInputs(fake, self.reference, self.features, self.classifier, self.real_features, self._fitted,
                              labels)
        out: dict[str, float] = {}
        for name in self.metrics:
            out.update(METRICS[name].function()(inputs))
        return out

    def _fitted(self) -> FeatureStats:
        """The Gaussian fit of the reference features, made once."""
        if self._real_stats is None:
            self._real_stats = FeatureStats.from_features(self.real_features(), self.feature_space)
        return self._real_stats

    def real_features(self) -> Tensor:
        """The reference images' features: from the cache when it has them, else computed (and cached)."""
        if self._real is None:
            images = self.reference.images
            if self.reference_count is not None:
                images = images[: self.reference_count]
            path = None
            if self.cache_dir is not None:
                weights = getattr(self.features, "sha256", "")[:12]  # a retrained extractor is another space
                key = f"{self.reference.name}-{self.reference.digest}-{len(images)}-{self.feature_space}-{weights}"
                path = self.cache_dir / (key.replace("/", "_") + ".safetensors")
            self._real = _read_cached(path, (len(images), self.features.dim)) if path is not None and path.exists() else None
            if self._real is None:
                self._real = extract(self.features, images)[0]
                if path is not None:
                    _make_cache_dir(path.parent)
                    atomic_write_bytes(path, save({"features": self._real.contiguous()}))
        return self._real


def _make_cache_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, FileNotFoundError, NotADirectoryError) as exc:
        raise UserError(f"the feature cache folder {folder} cannot be made ({exc.strerror}); "
                        f"pass another --cache or ${CACHE_ENV}") from None


def _read_cached(path: Path, shape: tuple[int, int]) -> Tensor | None:
    """Cached features, or None when the file is unreadable or not what this reference gives
    (it is then recomputed and replaced): a damaged or edited entry is never used."""
    try:
        features = load_file(path)["features"]
    except (SafetensorError, OSError, KeyError):
        return None
    return features if tuple(features.shape) == shape and bool(features.isfinite().all()) else None


def build_evaluator(
    reference: Reference,
    metrics: Sequence[str],
    space: str,
    device: torch.device,
    inception_weights: Path | None = None,
    cache_dir: Path | None = None,
    reference_count: int | None = None,
    with_features: bool = False,
) -> Evaluator:
    """An Evaluator with the networks its metrics need: the feature space (`auto`: Inception when its
    weights are found, else the reference data's own classifier; loaded also for `with_features`)
    and, for the metrics that need CLASSES (`modes`, `label_accuracy`), the classifier of the reference's classes
    (MNIST's on Stacked MNIST)."""
    check_metrics(metrics, reference)  # a clear refusal before any network is looked for
    # Building a network draws its initial weights from torch's global generator, which a run's
    # dropout and noise layers draw from too: loaded in a fork of it, an evaluator built when a run
    # resumes leaves that stream where the checkpoint put it, and the resumed run stays exact.
    with torch.random.fork_rng(devices=[]):
        extractor = None
        if with_features or _needing(FEATURES, metrics):
            if space == "auto":
                space = default_space(reference.dataset, inception_weights)
            extractor = load_extractor(space, device, inception_weights)
        classifier = None
        if _needing(CLASSES, metrics):
            classifier = load_classifier("mnist" if reference.stacked else reference.dataset).to(device)
    return Evaluator(reference, metrics, extractor, classifier, cache_dir or default_cache_dir(), reference_count)
