"""Data parallelism over processes started by torchrun, without the DistributedDataParallel wrapper.

Why not `nn.parallel.DistributedDataParallel`: a GAN update calls D several times before one
backward (real batch, fake batch, the gradient penalty's interpolates with a double backward), and
DDP's reducer expects each parameter's gradient to become ready once per backward. So, as
StyleGAN2-ADA does, each update averages its gradients with one all-reduce of a flat buffer, and
the initial weights are broadcast from rank 0. The effect is the same as DDP's: every rank holds
identical weights and takes the same optimizer step on the gradient of the global batch.

A single process (no WORLD_SIZE in the environment) needs no process group at all.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.errors import RankLost, first_line


def launched() -> tuple[int, int]:
    """(rank, world size) as torchrun set them for this process; (0, 1) when launched alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")) if world_size > 1 else 0), world_size


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: torch.device) -> "Distributed":
        if launched()[1] == 1:
            return cls()
        if not dist.is_initialized():
            import torch.distributed.nn  # noqa: F401  (before the group exists, or it pins the group: see `session`)

            # NCCL moves only GPU tensors; the checkpoint's gather of CPU random states goes by gloo.
            backend = "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=10))
        return cls(dist.get_rank(), dist.get_world_size())

    @classmethod
    @contextmanager
    def session(cls, device: torch.device) -> Iterator["Distributed"]:
        """The run's processes for the length of a `with` block, the process group torn down at its
        end. A block that finishes first waits for every rank; a block that fails waits for nobody.

        The teardown must really free the gloo group, whose worker threads otherwise live into
        interpreter exit and abort the process ("terminate called without an active exception")
        when one drops its last tensor after Python is gone: about 1 rank-1 exit in 30 under load
        (torch 2.14). `torch.distributed.nn.functional` binds `group.WORLD` as a default argument of
        ten functions at import, and torch imports it lazily (the first optimizer does), which kept
        the group alive past `destroy_process_group`; so `from_environment` imports it before it
        makes the group, and the destroy joins the threads."""
        run = cls.from_environment(device)
        try:
            yield run
            run.barrier()
        finally:
            if run.world_size > 1 and dist.is_initialized():
                dist.destroy_process_group()

    @contextmanager
    def _collective(self, what: str) -> Iterator[None]:
        """Turn a failed collective into `RankLost`: gloo raises a RuntimeError on the surviving
        ranks as soon as a partner process exits, before torchrun gets to stop them. Its type does
        not tell a lost partner from other collective failures, so the message names the likely
        cause and keeps torch's reason."""
        try:
            yield
        except RuntimeError as exc:
            reason = first_line(exc).split(". ")[0]
            raise RankLost(f"rank {self.rank}: stopped: a collective failed, most likely because another "
                           f"process of the run stopped first; see its message ({what}: {reason})") from exc

    def broadcast_parameters(self, module: nn.Module) -> None:
        if self.world_size > 1:
            with self._collective("broadcast of the initial weights"):
                for tensor in list(module.parameters()) + list(module.buffers()):
                    dist.broadcast(tensor.data, src=0)

    def average_gradients(self, module: nn.Module) -> None:
        if self.world_size == 1:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        flat = torch.cat([g.flatten() for g in grads])
        with self._collective("gradient all-reduce"):
            dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean(self, values: Tensor) -> Tensor:
        """The average of `values` over ranks (for logged scalars)."""
        if self.world_size > 1:
            values = values.clone()
            with self._collective("all-reduce of the logged values"):
                dist.all_reduce(values)
            values /= self.world_size
        return values

    def main_says(self, flag: bool, device: torch.device) -> bool:
        """Rank 0's `flag` on every rank: for decisions only rank 0 can make (it alone evaluates)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([float(flag)], device=device)
        with self._collective("broadcast of rank 0's decision"):
            dist.broadcast(value, src=0)
        return bool(value.item())

    def gather(self, tensor: Tensor) -> list[Tensor]:
        """Every rank's copy of a same-shaped tensor, in rank order."""
        if self.world_size == 1:
            return [tensor]
        out = [torch.empty_like(tensor) for _ in range(self.world_size)]
        with self._collective("all-gather"):
            dist.all_gather(out, tensor)
        return out

    def barrier(self) -> None:
        if self.world_size > 1:
            with self._collective("barrier"):
                dist.barrier()

