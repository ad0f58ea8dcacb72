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
from gankit.metrics.stacked import stacked_mnist_labels, stacked_mnist_modes

if TYPE_CHECKING:
    from gankit.metrics.inputs import MetricInputs

MIN_SHARE = 0.01  # a tenth of a class's share when 10 classes are covered evenly


def class_coverage(images: Tensor, classifier: FeatureExtractor) -> dict[str, float]:
    """{"modes": classes holding at least MIN_SHARE of the samples, "kl": KL to uniform} of uint8
    images N×C×H×W, as `classifier` labels them."""
    _, logits = extract(classifier, images)
    counts = torch.bincount(logits.argmax(dim=1), minlength=logits.shape[1])
    return {"modes": float((counts >= MIN_SHARE * len(images)).sum()), "kl": kl_to_uniform(counts)}


def modes_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `modes`: Stacked MNIST's 1,000 modes, each channel's digit labelled by the
    MNIST classifier; elsewhere the data set's classes covered."""
    modes = stacked_mnist_modes if inputs.reference.stacked else class_coverage
    return modes(inputs.fake, inputs.classifier)


def label_accuracy(images: Tensor, labels: Tensor, classifier: FeatureExtractor, stacked: bool = False) -> float:
    """The share of uint8 images N×C×H×W that `classifier` puts in their `labels`' classes (on
    Stacked MNIST, `stacked`, the modes of their channels' digits)."""
    if len(labels) != len(images):
        raise UserError(f"{len(labels)} labels for {len(images)} generated images")
    if stacked:
        predicted = stacked_mnist_labels(images, classifier)
    else:
        predicted = extract(classifier, images)[1].argmax(dim=1)
    return float((predicted.cpu() == labels.cpu()).float().mean())


def label_accuracy_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `label_accuracy` of a class-conditional G's samples (`inputs.fake_labels`,
    which the Evaluator makes sure of)."""
    assert inputs.fake_labels is not None, "the Evaluator refuses label_accuracy without labels"
    return {"label_accuracy": label_accuracy(inputs.fake, inputs.fake_labels, inputs.classifier, inputs.reference.stacked)}
