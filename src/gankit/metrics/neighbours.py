"""Nearest neighbours of generated images in the training set: the memorisation check of the
2014 GAN paper (its Figure 2 shows each sample beside its nearest training example).

Neighbours are found twice: in pixel space (Euclidean distance of the raw pixels, which finds
copies) and in a feature space (which finds near-copies that differ by small shifts or contrast).
A sample identical to its pixel neighbour is memorised; close but not identical ones are not.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.metrics.features import FeatureExtractor, extract


def nearest(queries: Tensor, pool: Tensor, k: int, block: int = 1024) -> tuple[Tensor, Tensor]:
    """(distances, indices), each len(queries)×k, of the k rows of `pool` nearest to each query."""
    queries, pool = queries.flatten(1).float(), pool.flatten(1).float()
    found = [torch.cdist(q, pool).topk(k, dim=1, largest=False) for q in queries.split(block)]
    return torch.cat([f.values for f in found]), torch.cat([f.indices for f in found])


def neighbour_rows(
    fake: Tensor, real: Tensor, k: int = 4, features: FeatureExtractor | None = None,
    real_features: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """(rows, figures): one row of images per generated image (the image, its k pixel-space
    neighbours, then its k feature-space neighbours when `features` is given), uint8
    N×(1+k[+k])×C×H×W for a picture; and the mean pixel distance to the nearest neighbour, on [0, 1]
    pixels per pixel (RMS), as a memorisation figure."""
    distance, pixel_index = nearest(fake.float() / 255, real.float() / 255, k)
    columns = [fake[:, None], real[pixel_index]]
    if features is not None:
        reference = real_features if real_features is not None else extract(features, real)[0]
        columns.append(real[nearest(extract(features, fake)[0], reference, k)[1]])
    pixels = float(np.prod(fake.shape[1:]))
    return torch.cat(columns, dim=1), {"nn_rms": float((distance[:, 0] / pixels**0.5).mean())}
