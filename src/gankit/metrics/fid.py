"""Fréchet distance between Gaussian fits of two feature sets (FID, Heusel et al. 2017).

`FeatureStats` is the Gaussian fit (mean, unbiased covariance) of one set of feature vectors; it is
what gets cached per reference dataset and feature extractor, so it saves to safetensors with its
sample count and the name of its feature space in the file's metadata.

`frechet_distance` uses tr sqrt(Σ1 Σ2) = tr sqrt(sqrt(Σ1) Σ2 sqrt(Σ1)): the right side is the
square root of a symmetric positive semi-definite matrix, so two symmetric eigendecompositions
(`torch.linalg.eigh`, fast on a GPU) give it, and it stays real when fewer samples than feature
dimensions make the covariances singular — where `scipy.linalg.sqrtm(Σ1 Σ2)`, as used by
pytorch-fid, returns complex noise. Eigenvalues below the usual rank tolerance (largest · dims ·
float64 eps, as `np.linalg.matrix_rank`) count as zero: they are rounding noise of either sign, and
a square root would magnify them (√1e-16 = 1e-8 per eigenvalue, summed over the whole null space
of a singular covariance). Everything is float64, as in pytorch-fid and torch-fidelity.

`as_features` and `feature_pair` also validate the inputs of the IS, KID and PRDC modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors
from torch import Tensor

from gankit.errors import UserError, first_line
from gankit.files import atomic_write_bytes

if TYPE_CHECKING:
    from gankit.metrics.inputs import MetricInputs


def as_features(x: Tensor, name: str, min_rows: int = 1) -> Tensor:
    """`x` as a float64 (samples, dims) matrix, or a UserError saying what is wrong with it."""
    if not isinstance(x, Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise UserError(f"{name} must be a 2-D (samples, dims) tensor, got {shape}")
    if len(x) < min_rows:
        raise UserError(f"{name} needs at least {min_rows} samples, got {len(x)}")
    x = x.detach().double()
    if not bool(torch.isfinite(x).all()):
        raise UserError(f"{name} contains NaN or infinite values")
    return x


def feature_pair(real: Tensor, fake: Tensor, min_rows: int = 1) -> tuple[Tensor, Tensor]:
    """Both feature sets validated, float64, on `real`'s device; their dimensions must agree."""
    real = as_features(real, "real features", min_rows)
    fake = as_features(fake, "fake features", min_rows)
    if real.shape[1] != fake.shape[1]:
        raise UserError(
            f"real and fake features differ in dimension: {real.shape[1]} vs {fake.shape[1]}"
        )
    return real, fake.to(real.device)


@dataclass(frozen=True, eq=False)
class FeatureStats:
    """Mean and unbiased covariance (ddof=1, as `np.cov`) of `count` feature vectors."""

    mu: Tensor
    sigma: Tensor
    count: int
    feature_space: str

    @classmethod
    def from_features(cls, features: Tensor, feature_space: str) -> FeatureStats:
        """Fit in float64 on the features' device."""
        x = as_features(features, "features", min_rows=2)
        mu = x.mean(dim=0)
        centred = x - mu
        sigma = centred.T @ centred / (len(x) - 1)
        return cls(mu, sigma, len(x), feature_space)

    def save(self, path: str | Path) -> None:
        """Write atomically: a reader never sees half a file."""
        blob = save_safetensors(
            {"mu": self.mu.cpu().contiguous(), "sigma": self.sigma.cpu().contiguous()},
            metadata={"count": str(self.count), "feature_space": self.feature_space},
        )
        atomic_write_bytes(Path(path), blob)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> FeatureStats:
        try:
            with safe_open(str(path), framework="pt", device="cpu") as handle:
                meta = handle.metadata() or {}
                mu, sigma = handle.get_tensor("mu"), handle.get_tensor("sigma")
            count, feature_space = int(meta["count"]), meta["feature_space"]
        except FileNotFoundError:
            raise UserError(f"feature statistics file {path} does not exist") from None
        except (SafetensorError, OSError, KeyError, ValueError) as exc:
            reason = f"no {exc} entry" if isinstance(exc, KeyError) else first_line(exc)
            raise UserError(
                f"feature statistics file {path} is corrupt or not a gankit statistics file: {reason}"
            ) from None
        if mu.dim() != 1 or sigma.shape != (len(mu), len(mu)):
            raise UserError(
                f"feature statistics file {path} is corrupt: mu {tuple(mu.shape)} and "
                f"sigma {tuple(sigma.shape)} do not match"
            )
        return cls(mu.double().to(device), sigma.double().to(device), count, feature_space)


def _psd_sqrt(eigenvalues: Tensor) -> Tensor:
    """Square roots of a PSD matrix's eigenvalues, those within rounding noise of zero set to 0."""
    tolerance = eigenvalues.abs().max() * len(eigenvalues) * torch.finfo(eigenvalues.dtype).eps
    return torch.where(eigenvalues > tolerance, eigenvalues, 0.0).sqrt()


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """‖μa − μb‖² + tr Σa + tr Σb − 2 tr sqrt(Σa Σb), in float64 on `a`'s device."""
    if a.feature_space != b.feature_space:
        raise UserError(
            f"cannot compare statistics from different feature spaces: "
            f"{a.feature_space!r} vs {b.feature_space!r}"
        )
    if a.mu.shape != b.mu.shape:
        raise UserError(f"statistics differ in dimension: {len(a.mu)} vs {len(b.mu)}")
    device = a.mu.device
    mu_a, sigma_a = a.mu.double(), a.sigma.double()
    mu_b, sigma_b = b.mu.to(device, torch.float64), b.sigma.to(device, torch.float64)
    values, vectors = torch.linalg.eigh(sigma_a)
    root_a = (vectors * _psd_sqrt(values)) @ vectors.T
    inner = root_a @ sigma_b @ root_a
    tr_covmean = _psd_sqrt(torch.linalg.eigvalsh((inner + inner.T) / 2)).sum()
    diff = mu_a - mu_b
    return float(diff @ diff + sigma_a.trace() + sigma_b.trace() - 2 * tr_covmean)


def fid_metric(inputs: MetricInputs) -> dict[str, float]:
    """The registered `fid`: Fréchet distance of the generated images' feature fit to the reference's."""
    fake = FeatureStats.from_features(inputs.fake_features, inputs.features.name)
    return {"fid": frechet_distance(inputs.real_stats(), fake)}
