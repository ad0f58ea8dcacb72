"""The two update schedules: alternating (Algorithm 1) and simultaneous (the 2014 released code)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from gankit.config import build_config, load_preset
from gankit.errors import UserError
from gankit.run import build_trainer
from gankit.train import checkpoint
from gankit.train.distributed import Distributed
from gankit.train.optim import LinearDecay
from tests.conftest import tiny_args


def toy_trainer(*overrides: str):
    cfg = build_config(load_preset("toy-ring8"), ["train.batch_size=16", "model.g.hidden=[8]", "model.d.hidden=[8]",
                                                  "optim.g.name=sgd", "optim.d.name=sgd", *overrides])
    return build_trainer(cfg, Distributed(), torch.device("cpu"))


def test_simultaneous_step_takes_both_gradients_at_the_same_point():
    trainer = toy_trainer("train.updates=simultaneous", "objective.name=non-saturating")
    g0, d0 = copy.deepcopy(trainer.g), copy.deepcopy(trainer.d)
    stream = copy.deepcopy(trainer.batches.generator)  # replay the step's random draws by hand
    lr_g, lr_d = trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]
    trainer.train_step()

    real = trainer.source.sample(16, stream)
    z = torch.randn((16, 2), generator=stream)
    fake = g0(z)
    real_out, fake_out = d0(real), d0(fake)
    d_loss = F.softplus(-real_out).mean() + F.softplus(fake_out).mean()
    g_loss = F.softplus(-fake_out).mean()
    d_grads = torch.autograd.grad(d_loss, list(d0.parameters()), retain_graph=True)
    g_grads = torch.autograd.grad(g_loss, list(g0.parameters()))
    for before, grad, after in zip(d0.parameters(), d_grads, trainer.d.parameters()):
        assert torch.allclose(before - lr_d * grad, after, atol=1e-6)
    for before, grad, after in zip(g0.parameters(), g_grads, trainer.g.parameters()):
        assert torch.allclose(before - lr_g * grad, after, atol=1e-6)


def test_alternating_step_differs_from_simultaneous():
    a, s = toy_trainer(), toy_trainer("train.updates=simultaneous")
    a.train_step()
    s.train_step()
    assert not all(torch.equal(p, q) for p, q in zip(a.g.parameters(), s.g.parameters()))


def test_simultaneous_needs_one_d_step():
    with pytest.raises(UserError, match="train.d_steps must be 1"):
        build_config(load_preset("toy-ring8"), ["train.updates=simultaneous", "train.d_steps=2"])


def test_simultaneous_run_resumes_exactly(tmp_path, cli):
    extra = ("train.updates=simultaneous", "model.d.dropout=0.2")
    straight, split = tmp_path / "a", tmp_path / "b"
    assert cli("train", "--preset", "toy-ring8", "--out", straight, *tiny_args(*extra))[0] == 0
    assert cli("train", "--preset", "toy-ring8", "--out", split, *tiny_args(*extra, "train.steps=6"))[0] == 0
    assert cli("train", "--resume", split, "--set", "train.steps=12")[0] == 0
    a, b = checkpoint.load(straight), checkpoint.load(split)
    assert [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])] == []


def test_latent_priors():
    from gankit.nets.latent import draw_latent

    gen = torch.Generator().manual_seed(0)
    symmetric = draw_latent(4000, 3, "uniform-symmetric", gen)
    unit = draw_latent(4000, 3, "uniform", gen)
    assert symmetric.min() < -0.99 and symmetric.max() > 0.99 and symmetric.abs().max() <= 1
    assert unit.min() >= 0 and unit.max() <= 1 and abs(float(symmetric.mean())) < 0.05


def test_linear_decay_holds_then_falls_toward_zero_by_the_budget():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.4)
    decay = LinearDecay([opt], start=0.5, total=10)
    assert [decay.factor(s) for s in range(10)] == pytest.approx([1, 1, 1, 1, 1, 1.0, 0.8, 0.6, 0.4, 0.2])
    assert decay.factor(10) == decay.factor(9)  # steps past the budget keep the last rate
    decay.set_step(8)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.16)
    constant = LinearDecay([opt], start=None, total=1)
    assert {constant.factor(s) for s in range(10)} == {1.0}  # a benchmark may step past train.steps


def test_trainer_steps_with_the_decayed_rates():
    trainer = toy_trainer("optim.decay_start=0.5", "train.steps=4")
    base_g, base_d = trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]
    seen = []
    for _ in range(4):
        trainer.train_step()
        seen.append((trainer.opt_g.param_groups[0]["lr"] / base_g, trainer.opt_d.param_groups[0]["lr"] / base_d))
    assert [factor for pair in seen for factor in pair] == pytest.approx([1, 1, 1, 1, 1, 1, 0.5, 0.5])


def test_decayed_run_resumes_exactly():
    """The schedule is a function of the step alone: a trainer rebuilt from a mid-run state sets the
    same rates, and ends on the same weights, as one that never stopped."""
    settings = ("optim.decay_start=0.25", "train.steps=8")
    straight, first = toy_trainer(*settings), toy_trainer(*settings)
    for _ in range(8):
        straight.train_step()
    for _ in range(4):
        first.train_step()
    resumed = toy_trainer(*settings)
    resumed.load_state(*first.state())
    for _ in range(4):
        resumed.train_step()
    a, b = straight.state()[0], resumed.state()[0]
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert resumed.opt_g.param_groups[0]["lr"] == straight.opt_g.param_groups[0]["lr"] < first.opt_g.param_groups[0]["lr"]


def test_decay_start_must_lie_in_the_run():
    with pytest.raises(UserError, match="decay_start"):
        build_config(load_preset("toy-ring8"), ["optim.decay_start=1.0"])


def test_the_supervised_baseline_follows_the_same_decay(monkeypatch):
    """Baseline (a) of a semi-supervised run trains D with the run's own optimizer and schedule."""
    import yaml

    from gankit.train.supervised import train_supervised_only
    from tests.test_technique_effects import SSL_DIGITS_20

    steps_seen = []
    original = LinearDecay.set_step
    monkeypatch.setattr(LinearDecay, "set_step", lambda self, step: (steps_seen.append(self.factor(step)), original(self, step)))
    raw = yaml.safe_load(SSL_DIGITS_20.format(seed=0))
    raw["optim"]["decay_start"] = 0.5
    train_supervised_only(build_config(raw), steps=4)
    assert steps_seen == pytest.approx([1.0, 1.0, 1.0, 0.5])
