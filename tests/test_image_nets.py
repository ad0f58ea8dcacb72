"""The image nets: DCGAN at every supported resolution, the WGAN-GP ResNet, MLPs on images."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import UserError
from gankit.nets import build_nets
from gankit.objectives.penalties import GradientPenalty
from tests.contexts import d_context


def nets(kind: str, shape, **extra):
    g = {"kind": kind, **extra} if kind != "mlp" else {"output": "tanh", "hidden": [32]}
    d = {"kind": kind, **extra} if kind != "mlp" else {"hidden": [32]}
    return build_nets(ModelConfig.model_validate({"z_dim": 16, "g": g, "d": d}), shape, seed=0)


@pytest.mark.parametrize(
    "kind, shape",
    [("dcgan", (1, 8, 8)), ("dcgan", (1, 14, 14)), ("dcgan", (1, 28, 28)), ("dcgan", (3, 32, 32)),
     ("dcgan", (3, 64, 64)), ("resnet", (3, 32, 32)), ("resnet", (1, 16, 16)), ("mlp", (1, 28, 28))],
)
def test_shapes(kind, shape):
    g, d = nets(kind, shape)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, *shape)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert d(x).shape == (5,) and d.features(x).shape[0] == 5


def test_dcgan_follows_the_paper():
    g, d = nets("dcgan", (3, 64, 64), width=8)
    g_layers = [type(m) for m in g.modules()]
    d_layers = [type(m) for m in d.modules()]
    # no hidden fully connected layers: D's only linear map is its output, on the flattened last map
    assert nn.Linear not in g_layers and [m for m in d.modules() if isinstance(m, nn.Linear)] == [d.head]
    assert nn.ConvTranspose2d in g_layers and nn.ReLU in g_layers and nn.Tanh in g_layers
    assert nn.LeakyReLU in d_layers and nn.ReLU not in d_layers
    assert not any(t in d_layers for t in (nn.MaxPool2d, nn.AvgPool2d))
    first_d_conv = next(m for m in d.modules() if isinstance(m, nn.Conv2d))
    assert first_d_conv.stride == (2, 2)
    assert isinstance(d.trunk[1], nn.LeakyReLU)  # no batch norm on D's input layer
    # widths double as the resolution halves: 64 px with width 8 -> G starts at 64 channels
    assert g.net[0].out_channels == 64 and [m.out_channels for m in d.modules() if isinstance(m, nn.Conv2d)] == [8, 16, 32, 64]
    stds = [float(m.weight.detach().std()) for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert all(0.015 < s < 0.025 for s in stds)  # N(0, 0.02) init


def test_critic_norm_variants():
    _, batch = nets("dcgan", (1, 28, 28))
    _, layer = nets("dcgan", (1, 28, 28), norm="layer")
    _, plain = nets("dcgan", (1, 28, 28), norm="none")
    assert any(isinstance(m, nn.BatchNorm2d) for m in batch.modules())
    assert any(isinstance(m, nn.GroupNorm) and m.num_groups == 1 for m in layer.modules())
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in plain.modules())
    g, critic = nets("resnet", (3, 32, 32))
    assert any(isinstance(m, nn.BatchNorm2d) for m in g.modules())
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in critic.modules())


def test_layer_norm_critic_keeps_examples_independent_for_the_gradient_penalty():
    """With layer norm, D(x_i) depends on x_i alone, so the penalty's per-example gradients are
    those of each example; with batch norm they would mix the batch."""
    _, critic = nets("dcgan", (1, 28, 28), norm="layer")
    x = torch.randn(4, 1, 28, 28, requires_grad=True)
    (grad,) = torch.autograd.grad(critic(x)[0], x)
    assert grad[1:].abs().max() == 0
    real, fake = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    ctx = d_context(critic, real, fake, critic(real))
    penalty = GradientPenalty(10.0).d_terms(ctx)["penalty"]
    penalty.backward()
    assert penalty > 0 and all(p.grad is not None for p in critic.parameters() if p.ndim > 1)  # biases of the head: no effect


@pytest.mark.parametrize("kind, size, rule", [("dcgan", 48, "4·2ⁿ or 7·2ⁿ"), ("resnet", 28, "power of two")])
def test_unsupported_resolution_is_a_user_error(kind, size, rule):
    with pytest.raises(UserError, match=rule):
        nets(kind, (1, size, size))


def test_pylearn2_style_init_and_a_generator_that_starts_at_the_mean_image():
    """The 2014 paper's init: U(±r) weights, zero biases, G's sigmoid biases from the data mean."""
    cfg = ModelConfig.model_validate({
        "z_dim": 4,
        "g": {"hidden": [64], "output": "sigmoid", "init_range": 0.05, "output_bias": "data-mean"},
        "d": {"hidden": [32], "activation": "maxout", "maxout_pieces": 3, "init_range": 0.005},
    })
    g, d = build_nets(cfg, (1, 4, 4), seed=0)
    weights = [p.detach() for p in d.parameters() if p.ndim > 1]
    assert all(float(w.abs().max()) <= 0.005 for w in weights) and float(weights[0].abs().max()) > 0.004
    assert all(float(p.detach().abs().max()) == 0 for p in d.parameters() if p.ndim == 1)
    mean = torch.linspace(0.1, 0.9, 16).view(1, 4, 4)
    g.start_at(mean)
    with torch.no_grad():
        g.head.weight.zero_()
        assert torch.allclose(g(torch.randn(3, 4)), mean.expand(3, 1, 4, 4), atol=1e-5)


def test_output_bias_belongs_to_g():
    with pytest.raises(ValueError, match="output_bias applies to G only"):
        ModelConfig.model_validate({"d": {"output_bias": "data-mean"}})
