"""WGAN-GP's Table 1 at CPU scale: how many randomly drawn architectures each objective trains.

What it measures: `--archs` G/D architectures drawn at random (MLP depth 1–4 and width 32–256
for each net, its activation among ReLU, leaky ReLU, tanh, softplus, batch norm in G or not,
weight norm in D or not) on the 8×8 digits (`mlp-digits`), each trained `--steps` steps with every
objective: minimax, non-saturating, WGAN with weight clipping, WGAN-GP (each objective's recipe
optimizer and n_critic at the preset's learning rate). Each objective is one `gankit sweep` with
a random sampler; the four specs share the space and the sampler's seed, so they draw the same
architectures. The score is the Inception Score in the offline digit classifier's space over 1,000
samples; the table counts the architectures above each threshold, beside the real digits' score.

Why: Gulrajani et al. 2017 (Table 1) train 200 random architectures on 32×32 ImageNet and count
how many pass Inception Score thresholds per objective, to show that WGAN-GP trains far more of
them than the other objectives. Batch norm in D is not drawn: the gradient penalty refuses it
(each example needs its own gradient) and the MLP nets have no layer norm, so D's normalisation is
weight norm or none for every objective.

The sweeps live in runs/wgan-architectures/ (git-ignored; `--folder` moves them): run the command
again to go on with an interrupted one; `gankit sweep table runs/wgan-architectures/<objective>.yaml
--out runs/wgan-architectures/<objective>` lists its trials.

    python benchmarks/wgan_architectures.py --write
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from gankit.config import build_config, load_preset
from gankit.run import build_run_evaluator, build_trainer
from gankit.train.distributed import Distributed
from results_md import print_tables, this_command, write_block
from sweep_runs import run_spec

OBJECTIVES = ["minimax", "non-saturating", "wgan", "wgan-gp"]
LAYERS = [[width] * depth for depth in (1, 2, 3, 4) for width in (32, 64, 128, 256)]
ACTIVATIONS = ["relu", "leaky_relu", "tanh", "softplus"]
SPACE = {
    "model.g.hidden": {"choices": LAYERS}, "model.d.hidden": {"choices": LAYERS},
    "model.g.activation": {"choices": ACTIVATIONS}, "model.d.activation": {"choices": ACTIVATIONS},
    "model.g.norm": {"choices": ["none", "batch"]}, "model.d.norm": {"choices": ["none", "weight"]},
}
THRESHOLDS = [2.0, 4.0, 6.0, 8.0]
FOLDER = Path(__file__).resolve().parents[1] / "runs" / "wgan-architectures"
LOGGING = ["log.metrics=[is]", "log.features=digits", "log.metrics_samples=1000"]


def spec(objective: str, archs: int, steps: int, seed: int) -> dict:
    return {
        "base": {"preset": "mlp-digits", "set": [f"objective.name={objective}", f"train.steps={steps}", *LOGGING,
                                                 f"log.eval_every={steps}", f"log.checkpoint_every={steps}"]},
        "space": SPACE, "seeds": [0], "metric": {"name": "is", "direction": "maximize"},
        "sampler": {"name": "random", "trials": archs, "seed": seed},
    }


def real_score() -> float:
    """The real digits' Inception Score in the same space, over as many images."""
    cfg = build_config(load_preset("mlp-digits"), LOGGING)
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
    evaluator = build_run_evaluator(cfg, trainer.source, torch.device("cpu"))
    real = trainer.source.sample(cfg.log.metrics_samples, torch.Generator().manual_seed(0))
    return evaluator(trainer.source.to_uint8(real))["is"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=24, help="architectures drawn (the paper: 200)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0, help="the random sampler's seed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=FOLDER, help="where the sweeps live")
    parser.add_argument("--write", action="store_true", help="write docs/RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    trials = {o: run_spec(o, spec(o, args.archs, args.steps, args.seed), args.folder, args.workers) for o in OBJECTIVES}
    seconds = time.perf_counter() - started
    real = real_score()

    def row(objective: str) -> str:
        scores = [t["value"] for t in trials[objective] if t["state"] == "COMPLETE"]
        counts = " | ".join(str(sum(s > threshold for s in scores)) for threshold in THRESHOLDS)
        failed = sum(t["state"] == "FAIL" and t["settled"] for t in trials[objective])  # not a dead worker's
        return f"| {objective} | {counts} | {max(scores, default=float('nan')):.2f} | {failed} |\n"

    same = all(
        [t["params"] for t in trials[o]] == [t["params"] for t in trials[OBJECTIVES[0]]] for o in OBJECTIVES
    )
    text = (
        "## WGAN-GP Table 1 at CPU scale: random architectures per objective\n\n"
        "The paper's claim (Gulrajani et al. 2017, Table 1; as we recall it, not checked against the PDF here): "
        "over 200 random architectures on 32×32 ImageNet, WGAN-GP trains far more of them past each Inception "
        "Score threshold than the minimax, non-saturating or weight-clipped objectives. Here: "
        f"{args.archs} random MLP architectures on the 8×8 digits (each net's depth 1–4, width 32–256, "
        "activation ReLU / leaky ReLU / tanh / softplus; batch norm in G or not; weight norm in D or not), "
        f"{args.steps} steps each, one seed; every objective is one `gankit sweep` (random sampler, seed "
        f"{args.seed}){' drawing the same architectures' if same else ''}; score: Inception Score in the "
        f"offline digit classifier's space over 1,000 samples (the real digits: {real:.2f}); "
        f"{seconds / 60:.0f} min on this CPU in all ({args.workers} workers).\n\n"
        "| objective | " + " | ".join(f"IS > {t:g}" for t in THRESHOLDS) + " | best IS | failed or diverged |\n"
        "|---|" + "---|" * (len(THRESHOLDS) + 2) + "\n"
        + "".join(row(o) for o in OBJECTIVES)
        + f"\nCommand: `{this_command()}`\n"
    )
    if args.write:
        write_block("wgan-architectures", text)
    print_tables(text, args.write)


if __name__ == "__main__":
    main()
