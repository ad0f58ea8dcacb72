"""PacGAN (Lin et al. 2018): D judges `pack` examples at a time, concatenated along their first axis
(channels of an image, coordinates of a point), all real or all generated.

Why it helps against mode collapse: one sample of a collapsed G may look real, but m samples that
are near copies of each other do not, so D learns to spot the lack of variety that single-example
D cannot see; the paper shows that packing penalises distributions with missing mass more the more
examples D sees. Only D's first layer changes (m times as wide); the losses, techniques and
penalties see one output per pack (a penalty's gradient norm is taken per pack, the packed input
being D's input: `gankit.objectives.penalties`).
"""

from __future__ import annotations

from torch import Tensor, nn


def packed_shape(shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """The shape of one packed input: `pack` examples of `shape` along the first axis."""
    return (shape[0] * pack, *shape[1:])


class PackedDiscriminator(nn.Module):
    """`inner`, built for packed inputs, fed N examples as N / pack packs of consecutive examples."""

    def __init__(self, inner: nn.Module, pack: int) -> None:
        super().__init__()
        self.inner, self.pack = inner, pack

    def _packed(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.pack:
            raise ValueError(f"a batch of {x.shape[0]} does not split into packs of {self.pack}")
        return x.reshape(x.shape[0] // self.pack, x.shape[1] * self.pack, *x.shape[2:])

    def forward(self, x: Tensor) -> Tensor:
        return self.inner(self._packed(x))

    def features(self, x: Tensor) -> Tensor:
        return self.inner.features(self._packed(x))
