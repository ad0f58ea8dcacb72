"""Loss pairs as pure functions of D's outputs (logits or critic values). The math lives here only.

Each objective is a `d_loss(real_out, fake_out)` and a `g_loss(fake_out)`, both means over the batch;
a relativistic one pairs each fake with a real in G's loss too, `g_loss(fake_out, real_out)`
(`g_needs_real`), and the trainer gives it D's outputs on a real batch (`generator_loss`).
Penalties that need D itself or its inputs (gradient penalty, weight clipping) are Techniques, made
by `build_objective` together with the loss pair that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn.functional as F
from torch import Tensor

from gankit.config import ObjectiveConfig
from gankit.objectives.penalties import GradientPenalty, WeightClipping
from gankit.techniques.base import Technique


@dataclass(frozen=True)
class Objective:
    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[..., Tensor]  # (fake_out), or (fake_out, real_out) when g_needs_real
    # Whether D's output is a logit of P(real): then sigmoid(out) is reported as D(x).
    outputs_probability: bool
    g_needs_real: bool = False  # a relativistic loss: G's loss pairs its samples with real ones

    def generator_loss(self, fake_out: Tensor, real_out: Callable[[], Tensor]) -> Tensor:
        """G's loss; `real_out()` gives D's outputs on a real batch, judged only when the loss pairs."""
        return self.g_loss(fake_out, real_out()) if self.g_needs_real else self.g_loss(fake_out)


def _bce_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """-E log D(x) - E log(1 - D(G(z))), with D = sigmoid(logit); softplus keeps it stable."""
    return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()


def _saturating_g_loss(fake_out: Tensor) -> Tensor:
    """Goodfellow et al. 2014, eq. 1: G minimises E log(1 - D(G(z))) = -E softplus(logit)."""
    return -F.softplus(fake_out).mean()


def _non_saturating_g_loss(fake_out: Tensor) -> Tensor:
    """Goodfellow et al. 2014, sec. 3: G maximises E log D(G(z)) instead (strong early gradients)."""
    return F.softplus(-fake_out).mean()


def _wasserstein_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """Arjovsky et al. 2017: the critic maximises E f(x) - E f(G(z))."""
    return fake_out.mean() - real_out.mean()


def _critic_g_loss(fake_out: Tensor) -> Tensor:
    return -fake_out.mean()


def _hinge_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """Lim & Ye 2017; Miyato et al. 2018: E relu(1 - D(x)) + E relu(1 + D(G(z)))."""
    return F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()


def _least_squares_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """Mao et al. 2017 (a=0, b=c=1): ½E (D(x) - 1)² + ½E D(G(z))²."""
    return 0.5 * (real_out - 1).pow(2).mean() + 0.5 * fake_out.pow(2).mean()


def _least_squares_g_loss(fake_out: Tensor) -> Tensor:
    return 0.5 * (fake_out - 1).pow(2).mean()


def _rpgan_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """Relativistic pairing (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024): each real example
    against a fake one, E softplus(D(G(z)) − D(x)) = −E log σ(D(x) − D(G(z)))."""
    return F.softplus(fake_out - real_out).mean()


def _rpgan_g_loss(fake_out: Tensor, real_out: Tensor) -> Tensor:
    """The same pairs the other way round: G raises each fake above its real, E softplus(D(x) − D(G(z)))."""
    return F.softplus(real_out - fake_out).mean()


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective("minimax", _bce_d_loss, _saturating_g_loss, True),
    "non-saturating": Objective("non-saturating", _bce_d_loss, _non_saturating_g_loss, True),
    "wgan": Objective("wgan", _wasserstein_d_loss, _critic_g_loss, False),
    "wgan-gp": Objective("wgan-gp", _wasserstein_d_loss, _critic_g_loss, False),
    "hinge": Objective("hinge", _hinge_d_loss, _critic_g_loss, False),
    "least-squares": Objective("least-squares", _least_squares_d_loss, _least_squares_g_loss, False),
    "rpgan": Objective("rpgan", _rpgan_d_loss, _rpgan_g_loss, False, g_needs_real=True),
}


def build_objective(cfg: ObjectiveConfig) -> tuple[Objective, list[Technique]]:
    """The loss pair for `cfg.name` and the penalties that objective is defined with."""
    penalties: list[Technique] = []
    if cfg.name == "wgan":
        penalties.append(WeightClipping(cfg.clip))
    if cfg.name == "wgan-gp":
        penalties.append(GradientPenalty(cfg.gp_weight))
    return OBJECTIVES[cfg.name], penalties
