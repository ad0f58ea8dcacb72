"""The projection discriminator (Miyato & Koyama 2018, "cGANs with Projection Discriminator"):
D(x, y) = ψ(φ(x)) + e_yᵀφ(x), D's features φ(x) projected on a learnt embedding e_y of the label.

Why projection rather than feeding y into D's input (Mirza & Osindero 2014): under the log loss
the optimal D is log p_data(x|y)/p_G(x|y) plus a label-free term, and the inner product is that
form for a log-linear p(y|x); the paper finds it clearly better than concatenation on ImageNet.
It works on any D of gankit's (MLP, DCGAN, ResNet): ψ is D's own linear head and φ what the head
reads (with minibatch discrimination's features when D has them). The labels reach D as an
argument, so a G's samples are judged with the labels they were made for.
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.nets.discriminator import HeadedDiscriminator


class ProjectionDiscriminator(nn.Module):
    """`inner`'s verdict plus the projection of its head's input on the label's embedding. Called
    without labels it gives the label-free part ψ(φ(x)) alone: what a pass that only sets up D's
    layers needs (the data-dependent init of minibatch discrimination and weight norm)."""

    def __init__(self, inner: HeadedDiscriminator, classes: int) -> None:
        super().__init__()
        if inner.classes != 1:
            raise ValueError("a projection D adds to one logit per example; this D gives several")
        self.inner = inner
        self.embed = nn.Embedding(classes, inner.head.weight.shape[1])  # the width the head reads

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        f = self.inner.head_input(x)
        out = self.inner.head(f).squeeze(-1)
        return out if labels is None else out + (self.embed(labels) * f).sum(dim=1)

    def features(self, x: Tensor) -> Tensor:
        return self.inner.features(x)


def judged(d: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
    """D's outputs on `x`, with the labels of its examples when the run is class-conditional (a D
    of the user's own, in an unconditional run, is called with `x` alone, as docs/api.md says)."""
    return d(x) if labels is None else d(x, labels)
