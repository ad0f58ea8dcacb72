"""The random stream of a run: real batches, latent codes, class labels and per-example noise.

Every rank draws the *global* batch from one generator with a shared seed and keeps its own slice.
Ranks therefore see disjoint examples, and the union of their batches is exactly the batch a
single process would draw: a 2-rank run follows the same trajectory as a 1-rank run at the same
global batch, and the stream's state is one generator that checkpoints can save and restore. The
cost, drawing numbers for the whole batch on each rank, is negligible beside the nets.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.source import DataSource, LabelledSource
from gankit.errors import UserError
from gankit.nets.latent import draw_labels, draw_latent, with_labels


def cycled_permutation(uniforms: Tensor, size: int) -> Tensor:
    """`size` indices into a pool of len(`uniforms`) items, drawn without replacement and, past the
    pool's size, cycling through it again: the random order of the `uniforms`, repeated. A batch as
    large as the pool holds every item once."""
    order = uniforms.argsort()
    return order.repeat(-(-size // len(order)))[:size]



def check_batch_split(global_batch: int, world_size: int, pack: int = 1) -> None:
    """Each of `world_size` processes takes an equal share of the global batch, in whole packs of
    a PacGAN D (`model.pack`)."""
    if global_batch % world_size:
        raise UserError(f"train.batch_size={global_batch} must divide evenly over {world_size} processes")
    if (global_batch // world_size) % pack:
        raise UserError(f"train.batch_size={global_batch} over {world_size} processes gives each "
                        f"{global_batch // world_size} examples, which do not split into packs of model.pack={pack}")

class BatchStream:
    def __init__(
        self,
        global_batch: int,
        rank: int,
        world_size: int,
        seed: int,
        device: torch.device,
        z_dim: int,
        z_dist: str,
        classes: int = 0,
    ) -> None:
        """`classes` K > 0: a class-conditional run, whose batches carry labels."""
        check_batch_split(global_batch, world_size)
        self.global_batch = global_batch
        self.local = global_batch // world_size
        self.start = rank * self.local
        self.device = device
        self.z_dim = z_dim
        self.z_dist = z_dist
        self.classes = classes
        self.generator = torch.Generator().manual_seed(seed)

    def _mine(self, full: Tensor) -> Tensor:
        return full[self.start : self.start + self.local].to(self.device, non_blocking=True)

    def real(self, source: DataSource) -> Tensor:
        return self._mine(source.sample(self.global_batch, self.generator))

    def real_labelled(self, source: LabelledSource) -> tuple[Tensor, Tensor | None]:
        """A real batch and, in a class-conditional run, its labels (None in an unconditional one,
        which draws just what `real` draws)."""
        if not self.classes:
            return self.real(source), None
        images, labels = source.sample_labelled(self.global_batch, self.generator)
        return self._mine(images), self._mine(labels)

    def labels(self) -> Tensor | None:
        """Labels for G's own update, uniform over the classes (None in an unconditional run)."""
        return self._mine(draw_labels(self.global_batch, self.classes, self.generator)) if self.classes else None

    def latent(self, labels: Tensor | None = None) -> Tensor:
        """G's input: latent codes, each followed by its label's one-hot when `labels` are given."""
        z = self._mine(draw_latent(self.global_batch, self.z_dim, self.z_dist, self.generator))
        return with_labels(z, labels, self.classes)

    def uniform(self, *per_example_shape: int) -> Tensor:
        """U(0, 1) noise of shape (local batch, *per_example_shape[1:]) — the first entry is the batch."""
        full = torch.rand((self.global_batch, *per_example_shape[1:]), generator=self.generator)
        return self._mine(full)

    def pick(self, pool: int) -> Tensor:
        """Indices into a pool of `pool` items for this rank's share of the global batch: one order
        of the pool, drawn alike on every rank, cycled past the pool's size (`cycled_permutation`)
        and sliced like every other draw, so the ranks' picks together are the single process's."""
        full = cycled_permutation(torch.rand(pool, generator=self.generator), self.global_batch)
        return self._mine(full)

    def get_state(self) -> Tensor:
        return self.generator.get_state()

    def set_state(self, state: Tensor) -> None:
        self.generator.set_state(state)
