"""The Improved-GAN techniques (Salimans et al. 2016): each one's math against a hand computation,
its config switches and refusals, and a short training run that shows its documented effect."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import MinibatchConfig, build_config, load_preset
from gankit.errors import UserError
from gankit.nets.discriminator import MinibatchDiscrimination
from tests.conftest import set_args


def test_minibatch_discrimination_matches_the_papers_sums():
    layer = MinibatchDiscrimination(in_features=2, kernels=2, dims=1)
    with torch.no_grad():
        layer.T.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))  # M_i = (f_i0, 2 f_i1)
    f = torch.tensor([[0.0, 0.0], [1.0, 0.5], [3.0, 0.0]])
    out = layer(f)
    assert torch.equal(out[:, :2], f)  # the features pass through, o(f) is appended
    # kernel 0 compares f_0 across the batch: |0-1|, |0-3|, |1-3|
    expected_0 = [1 + math.exp(-1) + math.exp(-3), math.exp(-1) + 1 + math.exp(-2), math.exp(-3) + math.exp(-2) + 1]
    # kernel 1 compares 2·f_1: 0, 1, 0
    expected_1 = [1 + math.exp(-1) + 1, math.exp(-1) + 1 + math.exp(-1), 1 + math.exp(-1) + 1]
    assert torch.allclose(out[:, 2], torch.tensor(expected_0))
    assert torch.allclose(out[:, 3], torch.tensor(expected_1))


def _config(preset: str, *overrides: str):
    return build_config(load_preset(preset), list(overrides))


def test_minibatch_discrimination_is_a_d_layer_refused_in_g_and_with_the_gradient_penalty():
    cfg = _config("toy-grid25", "model.d.minibatch={kernels: 8, dims: 3}")
    assert cfg.model.d.minibatch == MinibatchConfig(kernels=8, dims=3)
    with pytest.raises(UserError, match="minibatch discrimination is a layer of D"):
        _config("toy-grid25", "model.g.minibatch={}")
    with pytest.raises(UserError, match="does not combine with objective.name=wgan-gp"):
        _config("toy-grid25", "model.d.minibatch={}", "objective.name=wgan-gp")
