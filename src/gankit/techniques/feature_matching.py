"""Feature matching (Salimans et al. 2016, sec. 3.1): G's objective ‖E f(x) − E f(G(z))‖², f the
activations of an intermediate layer of D. G no longer maximises D's output; it matches the
statistics of real data in D's features, which keeps G from over-training on the current D.

Both means come from the D that G is trained against, the one after the latest D update, as in
the paper's code: E f(x) on the real batch of that update (without gradient), E f(G(z)) on G's
batch. Reading E f(x) costs one more D forward pass per G update: with batch norm in D that pass
also moves D's running statistics, which only matter in eval mode.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import UserError
from gankit.techniques.base import DContext, GContext, Technique


class FeatureMatching(Technique):
    name = "feature_matching"

    def __init__(self, d: nn.Module, layer: str, weight: float, replace_g_loss: bool) -> None:
        self.layer = None if layer == "features" else _find_module(d, layer)
        self.weight = weight
        self.replaces_g_loss = replace_g_loss
        self.real: Tensor | None = None

    def features(self, d: nn.Module, x: Tensor) -> Tensor:
        """f(x), flattened per example."""
        if self.layer is None:
            return d.features(x).flatten(1)
        captured: list[Tensor] = []
        handle = self.layer.register_forward_hook(lambda module, args, out: captured.append(out))
        try:
            d(x)
        finally:
            handle.remove()
        return captured[0].flatten(1)

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        self.real = ctx.real.detach()
        return {}

    def g_terms(self, ctx: GContext) -> dict[str, Tensor]:
        with torch.no_grad():
            real_mean = self.features(ctx.d, self.real).float().mean(dim=0)
        fake_mean = self.features(ctx.d, ctx.fake).float().mean(dim=0)
        return {"loss": self.weight * (real_mean - fake_mean).square().sum()}


def _find_module(d: nn.Module, name: str) -> nn.Module:
    """The module of D named `name`: an intermediate layer, so neither D itself nor its output head."""
    output = getattr(d, "head", None)  # every HeadedDiscriminator's output layer
    modules = {n: m for n, m in d.named_modules() if n and m is not output}
    if name not in modules and name in dict(d.named_modules()):
        raise UserError(f"techniques.feature_matching.layer={name} is D's output; name an intermediate layer (or features)")
    if name not in modules:
        known = ", ".join(modules)
        raise UserError(f"techniques.feature_matching.layer={name} is not a module of D; use features or one of: {known}")
    return modules[name]
