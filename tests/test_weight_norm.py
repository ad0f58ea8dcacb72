"""Weight normalization with data-dependent init (Salimans & Kingma 2016), the semi-supervised D's
layer: its math by hand, the init's statistics, and that a fixed scale stays fixed in training."""

from __future__ import annotations

import pytest
import torch

from gankit.config import ModelConfig
from gankit.data.toy import ring
from gankit.nets import build_nets, fit_to_data
from gankit.nets.layers import GaussianNoise, WeightNormLinear, initialise_from_data


def test_a_unit_is_its_scale_times_the_unit_direction_plus_its_bias():
    layer = WeightNormLinear(2, 2, learn_scale=True)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0], [0.0, -2.0]]))  # norms 5 and 2
        layer.scale.copy_(torch.tensor([10.0, 0.5]))
        layer.bias.copy_(torch.tensor([1.0, -1.0]))
    x = torch.tensor([[1.0, 1.0], [2.0, -1.0]])
    expected = torch.tensor([[10 * 7 / 5 + 1, 0.5 * -2 / 2 - 1], [10 * 2 / 5 + 1, 0.5 * 2 / 2 - 1]])
    assert torch.allclose(layer(x), expected)
    # the length of v does not matter, only its direction
    with torch.no_grad():
        layer.weight.mul_(7.0)
    assert torch.allclose(layer(x), expected)


def test_data_dependent_init_gives_every_unit_mean_0_and_variance_1_on_the_batch():
    torch.manual_seed(0)
    net = torch.nn.Sequential(WeightNormLinear(5, 8), torch.nn.ReLU(), WeightNormLinear(8, 3, learn_scale=True))
    x = torch.randn(400, 5) * 3 + 2
    net.train()
    assert initialise_from_data(net, lambda: x)
    assert net.training  # back in training mode after the eval-mode pass
    first = net[0](x)
    second = net[2](torch.relu(first))  # each layer initialised on what the layer below now gives
    for out in (first, second):
        assert torch.allclose(out.mean(dim=0), torch.zeros(out.shape[1]), atol=1e-4)
        assert torch.allclose(out.std(dim=0, unbiased=False), torch.ones(out.shape[1]), atol=1e-3)
    drawn = []
    assert not initialise_from_data(torch.nn.Linear(2, 2), lambda: drawn.append(1) or x[:, :2])
    assert drawn == []  # nothing to initialise: no batch drawn


def test_data_dependent_init_keeps_the_noise_layers_on_with_a_seeded_draw():
    """As the paper's code: the scales are set for the noisy inputs of training, so a noisy unit
    has variance 1 under its noise (not without it); the noise comes from `noise_seed`, not from
    the global generator, whose state the init leaves as it found it."""

    def noisy_net() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(GaussianNoise(1.0), WeightNormLinear(5, 8), GaussianNoise(0.5), torch.nn.ReLU())

    x = torch.randn(400, 5, generator=torch.Generator().manual_seed(1))
    net, again = noisy_net(), noisy_net()
    state = torch.get_rng_state()
    initialise_from_data(net, lambda: x, noise_seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    initialise_from_data(again, lambda: x, noise_seed=7)
    assert torch.equal(net[1].scale, again[1].scale)  # the same init on every rank and every resume
    layer = net[1]
    clean = layer(x).std(dim=0, unbiased=False)
    noisy = layer(x + torch.randn_like(x)).std(dim=0, unbiased=False)
    assert torch.allclose(noisy.mean(), torch.tensor(1.0), atol=0.1) and clean.mean() < 0.85, (noisy, clean)


def _ssl_model(**d) -> ModelConfig:
    return ModelConfig.model_validate({
        "z_dim": 4, "z_dist": "uniform",
        "g": {"hidden": [16], "activation": "softplus", "norm": "batch"},
        "d": {"hidden": [16, 8], "norm": "weight", "input_noise": 0.3, "hidden_noise": 0.5, **d},
    })


def test_the_nets_are_fitted_to_the_data_the_same_way_on_every_build():
    cfg, source = _ssl_model(), ring(8, 2.0, 0.02)
    builds = []
    for _ in range(2):
        g, d = build_nets(cfg, source.shape, seed=3, classes=3)
        fit_to_data(g, d, cfg, source, seed=3)
        builds.append(d.state_dict())
    assert builds[0].keys() == builds[1].keys()
    assert all(torch.equal(builds[0][k], builds[1][k]) for k in builds[0])
    untouched = build_nets(cfg, source.shape, seed=3, classes=3)[1].state_dict()
    assert not torch.equal(untouched["trunk.1.scale"], builds[0]["trunk.1.scale"])
    assert d.training  # put back in training mode after the init's eval-mode pass


def test_hidden_scales_stay_fixed_in_training_and_the_heads_is_learnt(tmp_path, cli):
    from gankit.train import checkpoint

    config = tmp_path / "wn.yaml"
    config.write_text(
        "data: {name: ring}\n"
        "model: {z_dim: 4, g: {hidden: [16], norm: batch, activation: softplus}, d: {hidden: [16, 8], norm: weight}}\n"
        "train: {steps: 20, batch_size: 32}\nlog: {every: 10, eval_every: 20, checkpoint_every: 10}\n"
    )
    assert cli("train", "--config", config, "--out", tmp_path / "run")[0] == 0
    first, last = (checkpoint.load(tmp_path / "run", step).tensors for step in (10, 20))
    assert torch.equal(first["d.trunk.0.scale"], last["d.trunk.0.scale"])
    assert not torch.equal(first["d.head.scale"], last["d.head.scale"])
    assert not torch.equal(first["d.trunk.0.weight"], last["d.trunk.0.weight"])


def test_norm_is_refused_for_maxout_units_and_weight_norm_takes_no_init_range():
    with pytest.raises(ValueError, match="norm=weight does not apply to maxout units"):
        ModelConfig.model_validate({"d": {"activation": "maxout", "norm": "weight"}})
    with pytest.raises(ValueError, match="init_range does not apply to norm=weight"):
        ModelConfig.model_validate({"d": {"norm": "weight", "init_range": 0.05}})


def test_a_batch_norm_critic_is_refused_with_the_gradient_penalty():
    from gankit.config import build_config, load_preset
    from gankit.errors import UserError

    with pytest.raises(UserError, match="model.d.norm=batch does not combine with objective.name=wgan-gp"):
        build_config(load_preset("toy-grid25"), ["model.d.norm=batch", "objective.name=wgan-gp"])
    with pytest.raises(UserError, match="model.d.norm=batch does not combine"):
        build_config(load_preset("dcgan-fashion"), ["objective.name=wgan-gp"])
    assert build_config(load_preset("dcgan-fashion"), ["objective.name=wgan-gp", "model.d.norm=layer"])


def test_a_wrong_norm_name_is_one_error_line(tmp_path, cli):
    code, _, err = cli("train", "--preset", "toy-grid25", "--set", "model.d.norm=spectral", "--out", tmp_path / "r")
    assert code == 2 and "model.d.norm" in err and len(err.strip().splitlines()) == 1, err
