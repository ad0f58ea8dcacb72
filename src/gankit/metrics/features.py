"""Feature spaces for the sample-quality metrics, and batched feature extraction.

A feature space is a frozen network that maps uint8 images to (features, logits): the FID
Inception-v3 (`inception`, needs its weights file) or one of gankit's own classifiers (`mnist`,
`fashion-mnist`, `digits`, shipped with the package, so they work offline). FID, KID and
precision/recall use the features, the Inception Score the logits. Numbers from different spaces
are not comparable, so each extractor's `name` travels with every number measured in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from gankit.errors import UserError
from gankit.metrics import classifier
from gankit.metrics.inception_weights import find_weights

SPACES = ("inception", *classifier.DATASETS)


class FeatureExtractor(Protocol):
    name: str
    dim: int
    num_classes: int
    resolution: int  # the side it resizes images to

    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor]: ...


def load_extractor(space: str, device: torch.device, inception_weights: Path | None = None) -> FeatureExtractor:
    """The extractor of `space`, on `device`."""
    if space == "inception":
        from gankit.metrics.inception import load_inception  # torchvision's Inception: seconds to import

        return load_inception(inception_weights, device)
    if space in classifier.DATASETS:
        return classifier.load_classifier(space).to(device)
    raise UserError(f"unknown feature space {space!r}; known: {', '.join(SPACES)}")


def default_space(dataset: str, inception_weights: Path | None = None) -> str:
    """`inception` when its weights are at hand, else the offline classifier of `dataset`."""
    try:
        find_weights(inception_weights)
        return "inception"
    except UserError:
        if inception_weights is not None or dataset not in classifier.DATASETS:
            raise
        return dataset


@torch.no_grad()
def extract(extractor: FeatureExtractor, images: Tensor, batch_size: int = 250) -> tuple[Tensor, Tensor]:
    """(features, logits) of uint8 images N×C×H×W, in batches; both float32 on the CPU.

    The batches' outputs stay where the extractor made them until the end: moving each to the CPU
    as it comes would make the host wait for the accelerator once per batch.
    """
    features, logits = [], []
    for batch in images.split(batch_size):
        batch_features, batch_logits = extractor(batch)
        features.append(batch_features)
        logits.append(batch_logits)
    return torch.cat(features).cpu(), torch.cat(logits).cpu()
