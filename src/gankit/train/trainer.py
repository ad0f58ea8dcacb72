"""The Trainer: one GAN step — k discriminator updates, then one generator update.

Each update is the objective's loss plus whatever loss terms the techniques add; techniques also
transform D's input and act after optimizer steps. The step never reads a value back to the host:
it returns detached scalar tensors that the run loop gathers every `log.every` steps.

Two schedules. Alternating (Algorithm 1 of Goodfellow et al. 2014, and every later paper): k D
updates, then a G update against the updated D from fresh noise. Simultaneous (the 2014 paper's
released pylearn2 code): one batch of G(z), both losses from the same D outputs, both players
stepped from gradients taken at the same point. The 2014 MNIST recipe needs the second: with the
same nets and optimizers, alternating updates collapsed to a single image within 1,000-3,000 steps
in every variant we tried, simultaneous ones gave varied digits (issue 3 notes).

A class-conditional run (`model.conditional`) carries labels beside the batches: in a D update, G
makes each fake for the label of the real example beside it, so real and fake batches share one
label vector (and the gradient penalty's interpolates keep their label); G's own update draws
uniform labels, and RpGAN's real batch for it has its own, so G's pairs mix classes where D's
share them. The simultaneous schedule has one batch of G(z) for both players: the real batch's
labels. An unconditional run's labels are None, and its nets are called without them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.source import DataSource
from gankit.nets.conditional import judged
from gankit.objectives.losses import Objective
from gankit.techniques.base import DContext, GContext, TechniqueSet
from gankit.tensors import tensors_under
from gankit.train.batches import BatchStream
from gankit.train.distributed import Distributed
from gankit.train.fast import FastPath
from gankit.train.optim import LinearDecay, join_state, split_state


class Trainer:
    """One GAN's training state and its step. Built by keyword (`gankit.run.build_trainer` does it
    from a config); the nets, optimizers, objective and techniques may be any that fit the hooks."""

    def __init__(
        self,
        *,
        g: nn.Module,
        d: nn.Module,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        objective: Objective,
        techniques: TechniqueSet,
        source: DataSource,
        batches: BatchStream,
        dist: Distributed,
        schedule: LinearDecay,
        fast: FastPath,
        d_steps: int = 1,
        simultaneous: bool = False,
    ) -> None:
        self.g, self.d = g, d
        self.opt_g, self.opt_d = opt_g, opt_d
        self.objective = objective
        self.techniques = techniques
        self.source = source
        self.batches = batches
        self.d_steps = d_steps
        self.dist = dist
        self.schedule = schedule
        self.simultaneous = simultaneous
        self.fast = fast
        self.step = 0

    def _d_input(self, x: Tensor) -> Tensor:
        """`x` as D sees it at this step, after every technique's `d_input` (instance noise)."""
        return self.techniques.d_input(x, self.step)

    def _judge(self, x: Tensor, labels: Tensor | None) -> Tensor:
        """D's outputs in float32, whatever precision D computed in: losses are taken in float32."""
        return judged(self.d, x, labels).float()

    def _d_terms(
        self, real: Tensor, fake: Tensor, labels: Tensor | None, real_out: Tensor, fake_out: Tensor
    ) -> dict[str, Tensor]:
        """D's loss terms: the objective's and each technique's (`fake` carries no graph into G)."""
        ctx = DContext(self.d, real, fake, real_out, self.batches.uniform, self.batches.pick, self._d_input,
                       self.step, labels)
        return {"loss": self.objective.d_loss(real_out, fake_out), **self.techniques.d_terms(ctx)}

    def _g_terms(
        self, fake: Tensor, labels: Tensor | None, fake_out: Tensor | None = None, real_out: Tensor | None = None
    ) -> dict[str, Tensor]:
        """G's loss terms: the objective's, unless a technique replaces it, and each technique's.
        `fake` is G's batch as D sees it, after `d_input`, like the real batch of the D step.
        `fake_out`, D's outputs on it, is judged here when not given, and only when the objective's
        loss is used: feature matching reads D's features instead, so no D pass is wasted. So is
        `real_out`, D's outputs on a real batch, which only a relativistic loss reads."""
        ctx = GContext(self.d, fake, labels)
        own = {}
        if not self.techniques.replaces_g_loss:
            own["loss"] = self.objective.generator_loss(
                self._judge(fake, labels) if fake_out is None else fake_out,
                lambda: self._judge_real() if real_out is None else real_out,
            )
        return {**own, **self.techniques.g_terms(ctx)}

    @torch.no_grad()
    def _judge_real(self) -> Tensor:
        """D's outputs on a fresh real batch, as D sees it (G's gradient never flows through them)."""
        real, labels = self.batches.real_labelled(self.source)
        return self._judge(self._d_input(real), labels)

    def _d_stats(self, terms: dict[str, Tensor], real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        return {
            **{f"d/{k}": v.detach() for k, v in terms.items()},
            "D(x)": self._as_reported(real_out),
            "D(G(z))": self._as_reported(fake_out),
        }

    def _d_update(self) -> dict[str, Tensor]:
        with self.fast.autocast():
            real, labels = self.batches.real_labelled(self.source)
            real = self._d_input(real)
            with torch.no_grad():
                fake = self.g(self.batches.latent(labels))
            fake = self._d_input(fake)
            real_out, fake_out = self._judge(real, labels), self._judge(fake, labels)
            terms = self._d_terms(real, fake, labels, real_out, fake_out)
        self._descend(self.opt_d, self.d, sum(terms.values()))
        self.techniques.after_d_step(self.d, self.step)
        return self._d_stats(terms, real_out, fake_out)

    def _g_update(self) -> dict[str, Tensor]:
        with self.fast.autocast():
            labels = self.batches.labels()
            fake = self._d_input(self.g(self.batches.latent(labels)))
            terms = self._g_terms(fake, labels)
        self._descend(self.opt_g, self.g, sum(terms.values()))
        self.techniques.after_g_step(self.g, self.step)
        return {f"g/{k}": v.detach() for k, v in terms.items()}

    def _joint_update(self) -> dict[str, Tensor]:
        """Both players from one forward pass: each loss differentiated w.r.t. its own player only."""
        self.d.requires_grad_(True)
        with self.fast.autocast():
            real, labels = self.batches.real_labelled(self.source)
            real = self._d_input(real)
            fake = self._d_input(self.g(self.batches.latent(labels)))
            real_out, fake_out = self._judge(real, labels), self._judge(fake, labels)
            d_terms = self._d_terms(real, fake.detach(), labels, real_out, fake_out)
            g_terms = self._g_terms(fake, labels, fake_out, real_out.detach())
        self._set_grads(self.d, sum(d_terms.values()), retain_graph=True)
        self._set_grads(self.g, sum(g_terms.values()))
        for opt, net in ((self.opt_d, self.d), (self.opt_g, self.g)):
            self.dist.average_gradients(net)
            opt.step()
        self.techniques.after_d_step(self.d, self.step)
        self.techniques.after_g_step(self.g, self.step)
        return {**self._d_stats(d_terms, real_out, fake_out), **{f"g/{k}": v.detach() for k, v in g_terms.items()}}

    @staticmethod
    def _set_grads(net: nn.Module, loss: Tensor, retain_graph: bool = False) -> None:
        params = [p for p in net.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss, params, retain_graph=retain_graph, allow_unused=True)
        for param, grad in zip(params, grads):
            param.grad = grad if grad is not None else torch.zeros_like(param)

    def _descend(self, opt: torch.optim.Optimizer, net: nn.Module, loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        self.dist.average_gradients(net)
        opt.step()

    def _as_reported(self, out: Tensor) -> Tensor:
        """Mean D output: a probability for the log-loss objectives, the raw critic value otherwise."""
        out = out.detach().float()
        return (torch.sigmoid(out) if self.objective.outputs_probability else out).mean()

    def update_d(self) -> dict[str, Tensor]:
        """One D update against G's current samples, G, the step count and the learning rates left
        as they are: a critic trained toward optimality against a fixed G (WGAN-GP's Figure 1a,
        benchmarks/wgan_toy_critics.py)."""
        self.d.requires_grad_(True)
        return self._d_update()

    def train_step(self) -> dict[str, Tensor]:
        """One step; returns detached scalars (the last D update's, and the G update's)."""
        self.schedule.set_step(self.step)
        if self.simultaneous:
            stats = self._joint_update()
            self.step += 1
            return stats
        self.d.requires_grad_(True)
        for _ in range(self.d_steps):
            stats = self._d_update()
        self.d.requires_grad_(False)
        stats.update(self._g_update())
        self.step += 1
        return stats

    # ------------------------------------------------------------------------ checkpoint state

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Everything a resumed run needs: nets, optimizers, techniques and every random stream."""
        tensors: dict[str, Tensor] = {}
        tensors.update({f"g.{k}": v for k, v in self.g.state_dict().items()})
        tensors.update({f"d.{k}": v for k, v in self.d.state_dict().items()})
        tensors.update({f"technique.{k}": v for k, v in self.techniques.state_dict().items()})
        opt_g, plain_g = split_state(self.opt_g, "opt_g")
        opt_d, plain_d = split_state(self.opt_d, "opt_d")
        tensors.update(opt_g)
        tensors.update(opt_d)
        tensors["rng.batches"] = self.batches.get_state()
        # The global torch RNGs drive dropout and noise layers; they differ per rank, so keep every rank's.
        for name, own in self._global_rng_states().items():
            for rank, state in enumerate(self.dist.gather(own)):
                tensors[f"rng.{name}.rank{rank}"] = state
        return tensors, {"step": self.step, "opt_g": plain_g, "opt_d": plain_d}

    def load_state(self, tensors: dict[str, Tensor], plain: dict[str, Any]) -> None:
        self.g.load_state_dict(tensors_under(tensors, "g."))
        self.d.load_state_dict(tensors_under(tensors, "d."))
        self.techniques.load_state_dict(tensors_under(tensors, "technique."))
        join_state(self.opt_g, tensors, plain["opt_g"], "opt_g")
        join_state(self.opt_d, tensors, plain["opt_d"], "opt_d")
        self.batches.set_state(tensors["rng.batches"])
        torch.set_rng_state(tensors[f"rng.torch.rank{self.dist.rank}"])
        cuda_state = tensors.get(f"rng.cuda.rank{self.dist.rank}")
        if cuda_state is not None and self._device.type == "cuda":  # absent when it trained on a CPU
            torch.cuda.set_rng_state(cuda_state, self._device)
        self.step = int(plain["step"])

    @property
    def _device(self) -> torch.device:
        return next(self.g.parameters()).device

    def _global_rng_states(self) -> dict[str, Tensor]:
        """This rank's global random streams: the CPU one, and its GPU's when it trains on one
        (dropout and noise layers on a GPU draw from the GPU's)."""
        states = {"torch": torch.get_rng_state()}
        if self._device.type == "cuda":
            states["cuda"] = torch.cuda.get_rng_state(self._device)
        return states
