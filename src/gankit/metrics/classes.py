"""The classes of a labelled image data set that a generator's samples cover: mode collapse on
MNIST, Fashion-MNIST or the 8×8 digits, each sample labelled by the data set's offline classifier;
and, for a class-conditional G, whether its samples are of the classes they were drawn for.

`modes` counts the classes that hold at least `MIN_SHARE` of the samples, `kl` is KL(p ‖ uniform)
for p the histogram of samples over the classes. A share, where Stacked MNIST's 1,000 modes count
a single sample: with 10 classes, a G collapsed onto two digits still makes a few ambiguous images
that the classifier puts in every other class, and one sample each would call them covered.

`label_accuracy` is the share of a conditional G's samples that the classifier puts in the class
each was drawn for (on Stacked MNIST, the mode its three digits name): chance is 1/K, and the
classifier's own test accuracy its ceiling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gankit.errors import UserError
from gankit.metrics.features import FeatureExtractor, extract
from gankit.metrics.modes import kl_to_uniform
from gankit.metrics.stacked import stacked_coverage, stacked_mnist_labels

if TYPE_CHECKING:
    from gankit.metrics.inputs import MetricInputs

MIN_SHARE = 0.01  # a tenth of a class's share when 10 classes are covered evenly


def predicted_classes(images: Tensor, classifier: FeatureExtractor, stacked: bool = False) -> Tensor:
    """The class `classifier` gives each uint8 image N×C×H×W (on Stacked MNIST, `stacked`, the mode
    its three channels' digits name)."""
    return stacked_mnist_labels(images, classifier) if stacked else extract(classifier, images)[1].argmax(dim=1)


def class_coverage(images: Tensor, classifier: FeatureExtractor) -> dict[str, float]:
    """{"modes": classes holding at least MIN_SHARE of the samples, "kl": KL to uniform} of uint8
    images N×C×H×W, as `classifier` labels them."""
    return coverage(predicted_classes(images, classifier), classifier.num_classes)


def coverage(predicted: Tensor, classes: int) -> dict[str, float]:
    """`class_coverage` of images whose classes are `predicted`, of `classes` in all."""
    counts = torch.bincount(predicted, minlength=classes)
    return {"modes": float((counts >= MIN_SHARE * len(predicted)).sum()), "kl": kl_to_uniform(counts)}


def modes_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `modes`: Stacked MNIST's 1,000 modes, each channel's digit labelled by the
    MNIST classifier; elsewhere the data set's classes covered."""
    if inputs.reference.stacked:
        return stacked_coverage(inputs.fake_classes)
    return coverage(inputs.fake_classes, inputs.classifier.num_classes)


def label_accuracy(images: Tensor, labels: Tensor, classifier: FeatureExtractor, stacked: bool = False) -> float:
    """The share of uint8 images N×C×H×W that `classifier` puts in their `labels`' classes (on
    Stacked MNIST, `stacked`, the modes of their channels' digits)."""
    return share_in_class(predicted_classes(images, classifier, stacked), labels)


def share_in_class(predicted: Tensor, labels: Tensor) -> float:
    """The share of images whose `predicted` classes are their `labels`."""
    if len(labels) != len(predicted):
        raise UserError(f"{len(labels)} labels for {len(predicted)} generated images")
    return float((predicted.cpu() == labels.cpu()).float().mean())


def label_accuracy_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `label_accuracy` of a class-conditional G's samples (`inputs.fake_labels`,
    which the Evaluator makes sure of)."""
    assert inputs.fake_labels is not None, "the Evaluator refuses label_accuracy without labels"
    return {"label_accuracy": share_in_class(inputs.fake_classes, inputs.fake_labels)}
