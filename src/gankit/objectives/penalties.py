"""Penalties that constrain the critic, as Techniques: they need D itself, not only its outputs."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.techniques.base import DContext, Technique


class GradientPenalty(Technique):
    """Gulrajani et al. 2017: λ E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on random interpolates x̂ of real and fake."""

    name = "gp"

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        shape = (ctx.real.shape[0],) + (1,) * (ctx.real.dim() - 1)
        eps = ctx.draw(*shape).to(ctx.real.dtype)
        mixed = (eps * ctx.real + (1 - eps) * ctx.fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(ctx.d(mixed).sum(), mixed, create_graph=True)
        norms = grad.flatten(1).norm(2, dim=1)
        return {"penalty": self.weight * (norms - 1).pow(2).mean()}


class WeightClipping(Technique):
    """Arjovsky et al. 2017: clamp every critic weight to [−c, c] after each critic update."""

    name = "clip"

    def __init__(self, clip: float) -> None:
        self.clip = clip

    @torch.no_grad()
    def after_d_step(self, d: nn.Module, step: int) -> None:
        for p in d.parameters():
            p.clamp_(-self.clip, self.clip)
