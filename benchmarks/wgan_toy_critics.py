"""WGAN-GP's Figure 1a: what a weight-clipped critic and a gradient-penalty critic learn on toy data.

What it measures: on 8 Gaussians (`toy-ring8`), 25 Gaussians (`toy-grid25`) and the Swiss roll
(`toy-swissroll`), gankit's toy presets are trained with objective `wgan` (weight clipping at
c = 0.01, RMSProp, n_critic 5) and `wgan-gp` (λ = 10, Adam β = (0, 0.9), n_critic 5), each with
the preset's nets and learning rate, in two settings:

- *G frozen at the data*, as in the paper's figure: "G" returns a fresh real batch plus Gaussian
  noise of standard deviation `--noise` × the data's RMS radius, and only the critic is trained,
  `--critic-steps` updates, toward optimality. Its Wasserstein estimate is then put on a common
  scale: E D(real) − E D(fake) divided by the critic's largest gradient norm over real, fake and
  interpolated points (a 1-Lipschitz rescaling, so every number is a lower bound on W1), beside
  the exact W1 between two 1,000-point samples (an assignment problem). Also the critic's AUC at
  telling real from fake, and its mean gradient norm.
- *G trained*: the whole preset run (its step count); the mode metrics of the mixtures (modes
  captured, high-quality share over 2,500 samples).

Why: Gulrajani et al. 2017 (Fig. 1a) show that the clipped critic's value surface is too simple
to follow the data ("fails to capture higher moments"), while the penalised one follows it. It
writes docs/images/wgan_toy_critics.png (value contours with real and fake points) and its block
in docs/RESULTS.md (`--write`).

    python benchmarks/wgan_toy_critics.py --write
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import matplotlib
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from gankit.config import build_config, load_preset
from gankit.metrics.modes import mode_coverage
from gankit.run import build_trainer
from gankit.train.batches import BatchStream
from gankit.train.distributed import Distributed
from gankit.train.trainer import Trainer
from results_md import RESULTS, print_tables, this_command, write_figure_block

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

DATASETS = {"8 Gaussians": "toy-ring8", "25 Gaussians": "toy-grid25", "Swiss roll": "toy-swissroll"}
VARIANTS = {"weight clipping": ["objective.name=wgan"], "gradient penalty": ["objective.name=wgan-gp"]}
FIGURE = RESULTS.parent / "images" / "wgan_toy_critics.png"


class DataPlusNoise(nn.Module):
    """The paper's fixed generator: a fresh real batch plus N(0, σ²) noise, whatever z it is given."""

    def __init__(self, batches: BatchStream, source, sigma: float) -> None:
        super().__init__()
        self.batches, self.source, self.sigma = batches, source, sigma

    def forward(self, z: Tensor) -> Tensor:
        real = self.batches.real(self.source)
        return real + self.sigma * torch.randn(real.shape, generator=self.batches.generator)


@dataclass
class Critic:
    """One trained critic, the points it was shown, and what it makes of them."""

    trainer: Trainer
    real: Tensor
    fake: Tensor
    scores: dict[str, float]


def _trainer(preset: str, variant: list[str], seed: int) -> tuple[Trainer, int]:
    """The preset's trainer under `variant`, and its step count."""
    cfg = build_config(load_preset(preset), [*variant, f"seed={seed}"])
    return build_trainer(cfg, Distributed(), torch.device("cpu")), cfg.train.steps


def _draw(trainer: Trainer, g: nn.Module, n: int) -> tuple[Tensor, Tensor]:
    """`n` real points and `n` of `g`'s."""
    real, fake = [], []
    with torch.no_grad():
        while sum(len(r) for r in real) < n:
            real.append(trainer.batches.real(trainer.source))
            fake.append(g(trainer.batches.latent()))
    return torch.cat(real)[:n], torch.cat(fake)[:n]


def _grad_norms(d: nn.Module, x: Tensor) -> Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x)
    return grad.norm(dim=1)


def exact_w1(a: Tensor, b: Tensor) -> float:
    """W1 between two equal-sized point clouds: the cheapest one-to-one matching."""
    cost = torch.cdist(a.double(), b.double()).numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def critic_scores(trainer: Trainer, real: Tensor, fake: Tensor) -> dict[str, float]:
    """How good a Wasserstein critic D is on these points: its estimate E D(real) − E D(fake) made
    1-Lipschitz (a lower bound on W1, comparable across critics of any scale), the exact W1 of the
    points, D's AUC at ranking real above fake, and its mean gradient norm."""
    d = trainer.d
    d.requires_grad_(False)  # gradients w.r.t. the points only
    eps = torch.rand(len(real), 1)
    norms = torch.cat([_grad_norms(d, x) for x in (real, fake, eps * real + (1 - eps) * fake)])
    with torch.no_grad():
        real_out, fake_out = d(real).flatten(), d(fake).flatten()
    gap = float(real_out.mean() - fake_out.mean())
    labels = [1] * len(real) + [0] * len(fake)
    return {
        "w1_bound": gap / float(norms.max()),
        "w1_exact": exact_w1(real, fake),
        "auc": float(roc_auc_score(labels, torch.cat([real_out, fake_out]).numpy())),
        "grad_mean": float(norms.mean()),
    }


def frozen_critic(preset: str, variant: list[str], critic_steps: int, noise: float, seed: int) -> Critic:
    """A critic trained `critic_steps` updates against G frozen at the data plus noise (the paper's figure)."""
    trainer, _ = _trainer(preset, variant, seed)
    sample = trainer.batches.real(trainer.source)
    trainer.g = DataPlusNoise(trainer.batches, trainer.source, noise * float(sample.norm(dim=1).pow(2).mean().sqrt()))
    for _ in range(critic_steps):
        trainer.update_d()
    real, fake = _draw(trainer, trainer.g, 1000)
    return Critic(trainer, real, fake, critic_scores(trainer, real, fake))


def trained_gan(preset: str, variant: list[str], seed: int) -> Critic:
    """The preset trained whole: its critic scored against the G it was trained against, the mode
    metrics on the samples that gankit counts (the EMA G's)."""
    trainer, steps = _trainer(preset, variant, seed)
    for _ in range(steps):
        trainer.train_step()
    real, trained_fake = _draw(trainer, trainer.g, 1000)
    scores = critic_scores(trainer, real, trained_fake)
    _, fake = _draw(trainer, trainer.techniques.sampling_generator(trainer.g), 2500)
    centres = getattr(trainer.source, "centres", None)
    if centres is not None:
        coverage = mode_coverage(fake, centres, trainer.source.std)
        scores |= {"modes": f"{coverage.modes_captured}/{coverage.modes_total}", "high_quality": coverage.high_quality}
    return Critic(trainer, real, fake[:1000], scores)


def _contours(ax, critic: Critic, title: str) -> None:
    points = torch.cat([critic.real, critic.fake])
    low, high = points.min(0).values, points.max(0).values
    pad = 0.15 * (high - low)
    xs = torch.linspace(float(low[0] - pad[0]), float(high[0] + pad[0]), 120)
    ys = torch.linspace(float(low[1] - pad[1]), float(high[1] + pad[1]), 120)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    with torch.no_grad():
        value = critic.trainer.d(torch.stack([gx.flatten(), gy.flatten()], dim=1)).reshape(gx.shape)
    ax.contourf(gx.numpy(), gy.numpy(), value.numpy(), levels=20, cmap="viridis")
    ax.scatter(*critic.real[:300].T.numpy(), s=2, c="orange", label="real")
    ax.scatter(*critic.fake[:300].T.numpy(), s=2, c="lime", label="fake")
    ax.set_title(title, fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--critic-steps", type=int, default=3000, help="critic updates against the frozen G")
    parser.add_argument("--noise", type=float, default=0.5, help="frozen G's noise std, in units of the data's RMS radius")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="write the figure and docs/RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    frozen = {(data, name): frozen_critic(preset, variant, args.critic_steps, args.noise, args.seed)
              for data, preset in DATASETS.items() for name, variant in VARIANTS.items()}
    trained = {(data, name): trained_gan(preset, variant, args.seed)
               for data, preset in DATASETS.items() for name, variant in VARIANTS.items()}
    seconds = time.perf_counter() - started

    frozen_rows = "".join(
        f"| {data} | {name} | {s['w1_bound']:.3f} | {s['w1_exact']:.3f} | {s['w1_bound'] / s['w1_exact']:.0%} "
        f"| {s['auc']:.3f} | {s['grad_mean']:.3f} |\n"
        for (data, name), critic in frozen.items() for s in [critic.scores]
    )
    trained_rows = "".join(
        f"| {data} | {name} | {s.get('modes', '—')} | "
        + (f"{s['high_quality']:.1%}" if "high_quality" in s else "—")
        + f" | {s['w1_bound']:.3f} | {s['w1_exact']:.3f} | {s['auc']:.3f} |\n"
        for (data, name), critic in trained.items() for s in [critic.scores]
    )
    text = (
        "## WGAN-GP Figure 1a: toy critics, weight clipping against the gradient penalty\n\n"
        "The paper's claim (Gulrajani et al. 2017, Fig. 1a; its caption as we recall it, not checked against the "
        "PDF here): critics trained to optimality with weight clipping fail to capture higher moments of the data, "
        "while gradient-penalty critics follow it; the generator is held fixed at the real data plus Gaussian noise. "
        f"Here: gankit's toy presets (critic 3 × 128 leaky ReLU, the preset's lr 1.5e-3 with each objective's "
        f"optimizer: RMSProp and c = 0.01 for clipping, Adam (0, 0.9) and λ = 10 for the penalty); seed {args.seed}; "
        f"{seconds:.0f} s on this CPU in all.\n\n"
        f"**G frozen at the data** (noise std {args.noise} × the data's RMS radius; {args.critic_steps} critic "
        "updates). *W1 bound*: E D(real) − E D(fake) over 1,000 points each, divided by the critic's largest "
        "gradient norm over real, fake and interpolated points, so it is a lower bound on W1 for either critic; "
        "*exact W1*: the optimal matching of the same two point sets; *captured*: their ratio (100% is a perfect "
        "critic); *AUC*: how well the critic's value ranks real above fake.\n\n"
        "| data | critic | W1 bound | exact W1 | captured | AUC | mean ‖∇D‖ |\n|---|---|---|---|---|---|---|\n"
        + frozen_rows
        + "\n**G trained** (the preset's steps, n_critic 5): mode metrics over 2,500 samples of the EMA generator "
        "(drawn in the figure), and the final critic's scores against 1,000 samples of the G it was trained against.\n\n"
        "| data | objective | modes | high quality | W1 bound | exact W1 | AUC |\n|---|---|---|---|---|---|---|\n"
        + trained_rows
        + f"\n![toy critics' value surfaces](images/{FIGURE.name})\n\nCommand: `{this_command()}`\n"
    )
    if args.write:
        fig, axes = plt.subplots(4, len(DATASETS), figsize=(3 * len(DATASETS), 12))
        rows = [(name, "G frozen", frozen) for name in VARIANTS] + [(name, "G trained", trained) for name in VARIANTS]
        for col, data in enumerate(DATASETS):
            for row, (name, setting, critics) in enumerate(rows):
                _contours(axes[row][col], critics[(data, name)], f"{data}: {name}, {setting}")
        axes[0][0].legend(fontsize="x-small", loc="lower left", markerscale=3)
        write_figure_block("wgan-toy-critics", text, fig, FIGURE, dpi=100)
    print_tables(text, args.write)


if __name__ == "__main__":
    main()
