"""Penalties that constrain the critic, as Techniques: they need D itself, not only its outputs.

The gradient penalty and weight clipping come with their objectives (`build_objective`); R1 and R2
are switched on by `techniques.r1` / `techniques.r2` and work with any objective."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.nets.conditional import judged
from gankit.techniques.base import DContext, Technique


def per_output(grad: Tensor, out: Tensor) -> Tensor:
    """The input gradient as one row per D output: per example, or per pack of a PacGAN D (whose
    packs are consecutive examples), whose input is the whole pack."""
    return grad.reshape(out.shape[0], -1)


class GradientPenalty(Technique):
    """Gulrajani et al. 2017: λ E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on random interpolates x̂ of real and fake."""

    name = "gp"

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        pack = getattr(ctx.d, "pack", 1)  # a PacGAN D: one mixing weight per pack, its input
        shape = (ctx.real.shape[0] // pack,) + (1,) * (ctx.real.dim() - 1)
        eps = ctx.draw(*shape).to(ctx.real.dtype).repeat_interleave(pack, dim=0)
        mixed = (eps * ctx.real + (1 - eps) * ctx.fake).requires_grad_(True)
        out = judged(ctx.d, mixed, ctx.labels)
        (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
        norms = per_output(grad, out).norm(2, dim=1)
        return {"penalty": self.weight * (norms - 1).pow(2).mean()}


class ZeroCentredPenalty(Technique):
    """R1 / R2 (Mescheder et al. 2018): γ/2 E‖∇ₓD(x)‖² on real data (R1) or on G's samples (R2),
    the batch as D saw it (after instance noise or augmentation, as StyleGAN2-ADA takes R1).
    Lazy with `every` k > 1 (StyleGAN2): on the D updates of every k-th step only, weighted k."""

    def __init__(self, name: str, gamma: float, every: int = 1) -> None:
        if name not in ("r1", "r2"):
            raise ValueError(f"a zero-centred penalty is r1 (real data) or r2 (G's samples), not {name}")
        self.name, self.gamma, self.every = name, gamma, every

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        if ctx.step % self.every:
            return {}
        x = (ctx.real if self.name == "r1" else ctx.fake).detach().requires_grad_(True)
        out = judged(ctx.d, x, ctx.labels).float()
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        return {"penalty": self.every * self.gamma / 2 * per_output(grad, out).pow(2).sum(dim=1).mean()}


class WeightClipping(Technique):
    """Arjovsky et al. 2017: clamp every critic weight to [−c, c] after each critic update."""

    name = "clip"

    def __init__(self, clip: float) -> None:
        self.clip = clip

    @torch.no_grad()
    def after_d_step(self, d: nn.Module, step: int) -> None:
        for p in d.parameters():
            p.clamp_(-self.clip, self.clip)
