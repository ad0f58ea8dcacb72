"""The Technique hooks: the training loop calls these and never names a technique.

A technique overrides only the hooks it needs: extra loss terms for D or G, a transform of D's
input (instance noise), an action after an optimizer step (weight clipping, averages), a generator
to sample from in place of G (an EMA of G), metrics to log at each evaluation (the semi-supervised
D's test error). Techniques that keep tensors (an EMA of G, historical averages) return them from
`state_dict` so checkpoints carry them and a resumed run continues exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor, nn

from gankit.tensors import tensors_under


@dataclass
class DContext:
    """What a D-step hook may look at, at training step `step`. `draw(*shape)` gives per-example
    uniform noise for this rank;
    `pick(n)` this rank's share of a global batch of indices into n items, without replacement
    up to n (cycling past it); `d_input(x)` is what every technique's `d_input` makes of a batch
    at this step, for a hook that shows D a batch of its own (the labelled images), so that
    batch reaches D as `real` and `fake` do (with instance noise, noisy). `labels` are the class
    labels of `real` and of `fake` alike in a class-conditional run (G made each fake for the label
    of the real example beside it, so interpolates between them keep it), None otherwise: judge a
    batch of these with `gankit.nets.conditional.judged(ctx.d, x, ctx.labels)`."""

    d: nn.Module
    real: Tensor
    fake: Tensor
    real_out: Tensor
    draw: Callable[..., Tensor]
    pick: Callable[[int], Tensor]
    d_input: Callable[[Tensor], Tensor]
    step: int
    labels: Tensor | None = None


@dataclass
class GContext:
    """What a G-step hook may look at: `fake` is G's batch as D sees it, after every `d_input`
    transform, so it compares with `DContext.real` (instance noise reaches both); `labels`, the
    classes G made it for in a class-conditional run (None otherwise)."""

    d: nn.Module
    fake: Tensor
    labels: Tensor | None = None


class Technique:
    """Base class with every hook a no-op; `name` keys its loss terms and checkpoint tensors."""

    name = "technique"
    replaces_g_loss = False  # True: its G terms are G's whole objective (feature matching)

    def d_input(self, x: Tensor, step: int) -> Tensor:
        return x

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        return {}

    def g_terms(self, ctx: GContext) -> dict[str, Tensor]:
        return {}

    def after_d_step(self, d: nn.Module, step: int) -> None:
        pass

    def after_g_step(self, g: nn.Module, step: int) -> None:
        pass

    def sampling_generator(self) -> nn.Module | None:
        """A generator to sample from in place of the live G (an average of G's weights), or None."""
        return None

    def eval_metrics(self, d: nn.Module) -> dict[str, float]:
        """Values to log at each evaluation of the run (the semi-supervised D's test error)."""
        return {}

    def state_dict(self) -> dict[str, Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        pass


class TechniqueSet:
    """Calls each hook of every technique in order, so the loop makes one call per hook."""

    def __init__(self, techniques: list[Technique]) -> None:
        names = [t.name for t in techniques]
        if len(set(names)) != len(names):
            raise ValueError(f"each technique may be used once, got {names}")
        self.techniques = techniques

    def d_input(self, x: Tensor, step: int) -> Tensor:
        for t in self.techniques:
            x = t.d_input(x, step)
        return x

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        return {f"{t.name}/{k}": v for t in self.techniques for k, v in t.d_terms(ctx).items()}

    def g_terms(self, ctx: GContext) -> dict[str, Tensor]:
        return {f"{t.name}/{k}": v for t in self.techniques for k, v in t.g_terms(ctx).items()}

    def after_d_step(self, d: nn.Module, step: int) -> None:
        for t in self.techniques:
            t.after_d_step(d, step)

    def after_g_step(self, g: nn.Module, step: int) -> None:
        for t in self.techniques:
            t.after_g_step(g, step)

    def state_dict(self) -> dict[str, Tensor]:
        return {f"{t.name}.{k}": v for t in self.techniques for k, v in t.state_dict().items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        for t in self.techniques:
            t.load_state_dict(tensors_under(state, f"{t.name}."))

    def sampling_generator(self, g: nn.Module) -> nn.Module:
        """The generator to sample from: a technique's when one keeps it (an EMA of G), else `g`."""
        return next((kept for t in self.techniques if (kept := t.sampling_generator()) is not None), g)

    def eval_metrics(self, d: nn.Module) -> dict[str, float]:
        return {k: v for t in self.techniques for k, v in t.eval_metrics(d).items()}

    @property
    def replaces_g_loss(self) -> bool:
        return any(t.replaces_g_loss for t in self.techniques)
