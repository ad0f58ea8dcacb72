"""The loss pairs and penalties against small hand computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.config import ObjectiveConfig
from gankit.objectives import OBJECTIVES, build_objective
from gankit.objectives.penalties import GradientPenalty, WeightClipping
from gankit.techniques.base import DContext
from tests.contexts import d_context

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_minimax_matches_the_papers_value_function():
    obj = OBJECTIVES["minimax"]
    d_expected = -(sum(_log_sigmoid(r) for r in REAL.tolist()) / 2) - sum(
        math.log(1 - 1 / (1 + math.exp(-f))) for f in FAKE.tolist()
    ) / 2
    assert obj.d_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    g_expected = sum(math.log(1 - 1 / (1 + math.exp(-f))) for f in FAKE.tolist()) / 2
    assert obj.g_loss(FAKE).item() == pytest.approx(g_expected, rel=1e-6)


def test_non_saturating_g_loss_is_minus_log_d():
    expected = -sum(_log_sigmoid(f) for f in FAKE.tolist()) / 2
    assert OBJECTIVES["non-saturating"].g_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_saturating_loss_saturates_where_d_rejects_fakes():
    """The reason for the non-saturating loss (Goodfellow et al. 2014, sec. 3)."""
    confident = torch.tensor([-8.0], requires_grad=True)
    OBJECTIVES["minimax"].g_loss(confident).backward()
    weak = confident.grad.abs().item()
    confident.grad = None
    OBJECTIVES["non-saturating"].g_loss(confident).backward()
    strong = confident.grad.abs().item()
    assert weak < 1e-3 < 0.9 < strong


def test_wasserstein_hinge_and_least_squares():
    assert OBJECTIVES["wgan"].d_loss(REAL, FAKE).item() == pytest.approx((0.5 - 3) / 2 - (2 - 1) / 2)
    assert OBJECTIVES["wgan"].g_loss(FAKE).item() == pytest.approx(1.25)
    hinge = (max(0, 1 - 2) + max(0, 1 + 1)) / 2 + (max(0, 1 + 0.5) + max(0, 1 - 3)) / 2
    assert OBJECTIVES["hinge"].d_loss(REAL, FAKE).item() == pytest.approx(hinge)
    assert OBJECTIVES["hinge"].g_loss(FAKE).item() == pytest.approx(1.25)
    ls_d = 0.5 * ((2 - 1) ** 2 + (-1 - 1) ** 2) / 2 + 0.5 * (0.5**2 + 3**2) / 2
    assert OBJECTIVES["least-squares"].d_loss(REAL, FAKE).item() == pytest.approx(ls_d)
    assert OBJECTIVES["least-squares"].g_loss(FAKE).item() == pytest.approx(0.5 * ((0.5 - 1) ** 2 + 16) / 2)


def test_optimal_discriminator_loss_is_log4_at_equilibrium():
    """Goodfellow et al. 2014, Theorem 1: with p_g = p_data, D* = 1/2 and the D loss is log 4."""
    half = torch.zeros(5)
    assert OBJECTIVES["minimax"].d_loss(half, half).item() == pytest.approx(math.log(4))


def _context(d: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: float) -> DContext:
    return d_context(d, real, fake, d(real), draw=lambda *shape: torch.full(shape, eps))


def test_gradient_penalty_of_a_linear_critic():
    """D(x) = w·x has gradient w everywhere: the penalty is λ(‖w‖ − 1)²."""
    d = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        d.weight.copy_(torch.tensor([[3.0, 4.0]]))
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    terms = GradientPenalty(10.0).d_terms(_context(d, real, fake, 0.3))
    assert terms["penalty"].item() == pytest.approx(10 * (5 - 1) ** 2)


def _spread(*shape: int) -> torch.Tensor:
    """Uniform-like draws that differ in every element: 1/(n+1), ..., n/(n+1)."""
    n = math.prod(shape)
    return (torch.arange(n) + 1.0).div(n + 1).reshape(shape)


def test_gradient_penalty_uses_interpolates_and_backpropagates_to_d():
    """One ε per example (its interpolate lies on the segment between its real and fake)."""
    d = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    penalty = GradientPenalty(1.0).d_terms(d_context(d, real, fake, d(real), draw=_spread))["penalty"]
    eps = torch.tensor([[0.2], [0.4], [0.6], [0.8]])
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(mixed).sum(), mixed)
    assert penalty.item() == pytest.approx(((grad.norm(dim=1) - 1) ** 2).mean().item(), rel=1e-5)
    penalty.backward()
    # Every weight shapes ∇_x D; the last bias does not, so it gets no penalty gradient.
    assert d[0].weight.grad.abs().sum() > 0 and d[2].weight.grad.abs().sum() > 0


def test_weight_clipping_clamps_every_weight():
    d = nn.Linear(3, 3)
    with torch.no_grad():
        d.weight.fill_(0.5)
        d.bias.fill_(-0.5)
    WeightClipping(0.01).after_d_step(d, 0)
    assert d.weight.abs().max().item() == pytest.approx(0.01)
    assert d.bias.min().item() == pytest.approx(-0.01)


def test_build_objective_attaches_the_right_penalty():
    _, clip = build_objective(ObjectiveConfig(name="wgan"))
    _, gp = build_objective(ObjectiveConfig(name="wgan-gp"))
    _, none = build_objective(ObjectiveConfig(name="hinge"))
    assert [t.name for t in clip] == ["clip"] and [t.name for t in gp] == ["gp"] and none == []


@pytest.mark.parametrize(
    "objective, d_loss_of",
    [
        ("minimax", lambda dx, dgz: -math.log(dx) - math.log(1 - dgz)),  # probabilities
        ("wgan", lambda dx, dgz: dgz - dx),  # raw critic values
    ],
)
def test_the_logged_d_outputs_are_what_the_d_loss_is_made_of(objective, d_loss_of):
    """With one example per batch, the logged D(x) and D(G(z)) of a step give its D loss."""
    from gankit.config import build_config, load_preset
    from gankit.run import build_trainer
    from gankit.train.distributed import Distributed

    cfg = build_config(load_preset("toy-grid25"), [
        f"objective.name={objective}", "train.batch_size=1", "model.g.hidden=[8]", "model.d.hidden=[8]",
    ])
    stats = build_trainer(cfg, Distributed(), torch.device("cpu")).train_step()
    dx, dgz = stats["D(x)"].item(), stats["D(G(z))"].item()
    if objective == "minimax":
        assert 0 < dx < 1 and 0 < dgz < 1
    assert stats["d/loss"].item() == pytest.approx(d_loss_of(dx, dgz), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("objective, penalty", [("wgan", None), ("wgan-gp", "d/gp/penalty")])
def test_update_d_trains_the_critic_alone(objective, penalty):
    """`update_d` is one D update, with its penalty or clipping, against G as it is, also after a
    training step has left D frozen: G's weights and the step count stay, D's change (and stay
    clipped). WGAN-GP's Fig. 1a trains critics so."""
    from gankit.config import build_config, load_preset
    from gankit.run import build_trainer
    from gankit.train.distributed import Distributed

    cfg = build_config(load_preset("toy-grid25"), [f"objective.name={objective}", "model.g.hidden=[8]", "model.d.hidden=[8]"])
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
    trainer.train_step()  # leaves D's parameters without requires_grad
    g_before = [p.detach().clone() for p in trainer.g.parameters()]
    d_before = [p.detach().clone() for p in trainer.d.parameters()]
    stats = trainer.update_d()
    assert trainer.step == 1 and "d/loss" in stats and not any(k.startswith("g/") for k in stats)
    assert penalty is None or stats[penalty] > 0
    assert all(torch.equal(a, b) for a, b in zip(g_before, trainer.g.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, trainer.d.parameters()))
    if objective == "wgan":
        assert max(p.abs().max().item() for p in trainer.d.parameters()) <= cfg.objective.clip
