"""Parzen-window log-likelihood: the exact formula, its batching, σ selection, and a known density."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from gankit.errors import UserError
from gankit.metrics.parzen import (
    PAPER_SIGMAS,
    parzen_estimate,
    parzen_log_likelihood,
    select_sigma,
)


def gaussian(n: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def naive_parzen(samples: np.ndarray, test: np.ndarray, sigma: float) -> np.ndarray:
    """The definition, one float64 distance at a time (parzen_ll.py's theano_parzen)."""
    sq = ((test[:, None, :] - samples[None, :, :]) ** 2).sum(axis=2)
    dims = samples.shape[1]
    return (
        logsumexp(-sq / (2 * sigma**2), axis=1)
        - math.log(len(samples))
        - dims / 2 * math.log(2 * math.pi * sigma**2)
    )


@pytest.mark.parametrize("sigma", [0.05, 0.2, 1.0])
def test_matches_naive_computation(sigma):
    samples = torch.rand(300, 49, generator=torch.Generator().manual_seed(0))
    test = torch.rand(40, 49, generator=torch.Generator().manual_seed(1))
    ours = parzen_log_likelihood(samples, test, sigma)
    ref = naive_parzen(samples.double().numpy(), test.double().numpy(), sigma)
    assert ours.dtype == torch.float64 and ours.shape == (40,)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-6)


def test_batching_does_not_change_results():
    samples, test = torch.rand(500, 20), torch.rand(130, 20)
    whole = parzen_log_likelihood(samples, test, 0.2, batch_size=10_000)
    blocked = parzen_log_likelihood(samples, test, 0.2, batch_size=7)
    # Only the float32 rounding of the distance matmul differs between block shapes.
    np.testing.assert_allclose(blocked.numpy(), whole.numpy(), rtol=0, atol=2e-5)


def test_images_are_flattened():
    samples, test = torch.rand(50, 1, 4, 4), torch.rand(10, 1, 4, 4)
    expected = parzen_log_likelihood(samples.flatten(1), test.flatten(1), 0.3)
    assert torch.equal(parzen_log_likelihood(samples, test, 0.3), expected)


def test_approaches_the_true_log_density_of_a_gaussian():
    """Samples from N(0, I₂): the estimate nears E[log p] = −log 2π − 1 (kernel-smoothing bias aside)."""
    samples, validation, test = gaussian(20_000, 2, 0), gaussian(1000, 2, 1), gaussian(4000, 2, 2)
    result = parzen_estimate(samples, validation, test, sigmas=np.logspace(-2, 0, 9))
    true_mean = -math.log(2 * math.pi) - 1
    exact = -math.log(2 * math.pi) - 0.5 * test.double().square().sum(dim=1)  # true log p of the test set
    assert abs(result.mean - true_mean) < 3 * result.stderr + 0.02
    assert abs(result.mean - float(exact.mean())) < 0.02
    assert 0.05 < result.sigma < 0.5


def test_select_sigma_is_the_argmax_of_the_validation_likelihood():
    samples, validation = gaussian(2000, 3, 3), gaussian(300, 3, 4)
    sigmas = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    means = [float(parzen_log_likelihood(samples, validation, s).mean()) for s in sigmas]
    best = sigmas[int(np.argmax(means))]
    assert best not in (sigmas[0], sigmas[-1])  # too narrow and too wide both lose
    assert select_sigma(samples, validation, sigmas) == best


def test_estimate_is_mean_and_standard_error_at_the_selected_sigma():
    samples, validation, test = torch.rand(400, 16), torch.rand(100, 16), torch.rand(250, 16)
    result = parzen_estimate(samples, validation, test)
    assert result.sigma in PAPER_SIGMAS
    ll = parzen_log_likelihood(samples, test, result.sigma)
    assert result.mean == pytest.approx(float(ll.mean()))
    assert result.stderr == pytest.approx(float(ll.std(correction=0)) / math.sqrt(250))


def test_rejects_bad_input():
    with pytest.raises(UserError, match="differ in size: 784 vs 100"):
        parzen_log_likelihood(torch.rand(10, 784), torch.rand(10, 100), 0.2)
    with pytest.raises(UserError, match="sigma must be positive"):
        parzen_log_likelihood(torch.rand(10, 4), torch.rand(10, 4), 0.0)
    with pytest.raises(UserError, match="non-empty batch"):
        parzen_log_likelihood(torch.rand(10), torch.rand(10, 4), 0.2)
