"""WGAN-GP's Figure 1b: gradient norms through a deep critic, weight clipping against the penalty.

What it measures: on the Swiss roll (`toy-swissroll`), a critic of 12 linear layers (11 hidden
ReLU layers of 128 units, no normalisation, then the head) is trained with gankit's trainer, G
trained beside it, under weight clipping at c ∈ {0.1, 0.01, 0.001} (objective `wgan`, RMSProp 5e-5,
n_critic 5, Arjovsky et al.'s recipe) and under the gradient penalty (objective `wgan-gp`, λ = 10,
Adam(1e-4, 0, 0.9), n_critic 5). After `--steps` G steps it takes the critic's Wasserstein loss,
mean D(G(z)) − mean D(x), on `--batches` fresh batches of 256 and reports log10 of the norm of its
gradient with respect to each layer's weights (mean over the batches), input layer first.

Why: Gulrajani et al. 2017 (Fig. 1b) argue that clipping makes a deep critic's gradients explode
(c large) or vanish (c small) as they pass back through the layers, while the penalty keeps them
of one size; this is that measurement on gankit's own nets and objectives. It writes
docs/images/wgan_gradient_norms.png and its block in docs/RESULTS.md (`--write`).

    python benchmarks/wgan_gradient_norms.py --write
"""

from __future__ import annotations

import argparse
import math
import time

import matplotlib
import torch
from torch import nn

from gankit.config import build_config, load_preset
from gankit.run import build_trainer
from gankit.train.distributed import Distributed
from results_md import RESULTS, print_tables, this_command, write_figure_block

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

DEEP_CRITIC = ["model.d.hidden=[128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128]", "model.d.activation=relu",
               "train.ema=null", "train.batch_size=256"]
CLIPPING = ["objective.name=wgan", "optim.g={name: rmsprop, lr: 5.0e-5}", "optim.d={name: rmsprop, lr: 5.0e-5}"]
VARIANTS: dict[str, list[str]] = {
    **{f"weight clipping c={c}": [*CLIPPING, f"objective.clip={c}"] for c in (0.1, 0.01, 0.001)},
    "gradient penalty": ["objective.name=wgan-gp", "optim.g={name: adam, lr: 1.0e-4, betas: [0.0, 0.9]}",
                         "optim.d={name: adam, lr: 1.0e-4, betas: [0.0, 0.9]}"],
}
FIGURE = RESULTS.parent / "images" / "wgan_gradient_norms.png"


def layer_log_norms(variant: list[str], steps: int, batches: int, seed: int) -> list[float]:
    """log10 ‖∂L/∂W_l‖ for each linear layer l of the critic, after `steps` training steps."""
    cfg = build_config(load_preset("toy-swissroll"), [*DEEP_CRITIC, *variant, f"train.steps={steps}", f"seed={seed}"])
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
    for _ in range(steps):
        trainer.train_step()
    layers = [m for m in trainer.d.modules() if isinstance(m, nn.Linear)]
    sums = [0.0] * len(layers)
    trainer.d.requires_grad_(True)
    for _ in range(batches):
        real = trainer.batches.real(trainer.source)
        with torch.no_grad():
            fake = trainer.g(trainer.batches.latent())
        trainer.d.zero_grad()
        (trainer.d(fake).mean() - trainer.d(real).mean()).backward()
        for i, layer in enumerate(layers):
            sums[i] += layer.weight.grad.norm().item()
    return [math.log10(s / batches) if s > 0 else -math.inf for s in sums]  # -inf: exactly zero (dead ReLUs)


def _shown(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "0 exactly (−∞)"


def _spread(values: list[float]) -> str:
    """Orders of magnitude between the largest and smallest non-zero norm, and how many are zero."""
    finite = [v for v in values if math.isfinite(v)]
    zero = len(values) - len(finite)
    return (f"{max(finite) - min(finite):.2f}" if finite else "—") + (f" ({zero} layers exactly 0)" if zero else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="G steps before measuring (5 critic steps each)")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="write the figure and docs/RESULTS.md")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    norms = {name: layer_log_norms(v, args.steps, args.batches, args.seed) for name, v in VARIANTS.items()}
    seconds = time.perf_counter() - started

    layers = len(next(iter(norms.values())))
    head = "| layer (input first) | " + " | ".join(norms) + " |\n|---|" + "---|" * len(norms) + "\n"
    rows = "".join(f"| {i + 1} | " + " | ".join(_shown(v[i]) for v in norms.values()) + " |\n" for i in range(layers))
    spread = " | ".join(_spread(v) for v in norms.values())
    text = (
        "## WGAN-GP Figure 1b: gradient norms through a deep critic\n\n"
        f"log10 of the norm of the critic loss's gradient w.r.t. each layer's weights, Swiss roll, a critic of "
        f"{layers} linear layers (ReLU, no normalisation), after {args.steps} G steps (n_critic 5), mean over "
        f"{args.batches} batches of 256; seed {args.seed}; {seconds:.0f} s on this CPU in all. The paper's claim "
        "(Gulrajani et al. 2017, Fig. 1b; its caption as we recall it, not checked against the PDF here): the "
        "gradient norms of deep WGAN critics on the Swiss roll explode or vanish with weight clipping, and do not "
        "with the gradient penalty. Layers whose gradient is exactly 0 (ReLUs with no input left) are not drawn.\n\n"
        + head + rows + f"| spread (max − min, orders of magnitude) | {spread} |\n\n"
        f"![gradient norms per layer](images/{FIGURE.name})\n\nCommand: `{this_command()}`\n"
    )
    if args.write:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for name, values in norms.items():
            ax.plot(range(1, layers + 1), [v if math.isfinite(v) else math.nan for v in values], marker="o", label=name)
        ax.set_xlabel("critic layer (input first)")
        ax.set_ylabel("log10 gradient norm")
        ax.legend(fontsize="small")
        write_figure_block("wgan-gradient-norms", text, fig, FIGURE, dpi=120)
    print_tables(text, args.write)


if __name__ == "__main__":
    main()
