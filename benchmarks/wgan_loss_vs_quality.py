"""WGAN's Figures 3–4: does the critic's loss track sample quality, where the minimax D loss does not?

What it measures: the `mlp-digits` preset (an MLP GAN on the 8×8 digits) trained for `--steps`
steps under each objective (`wgan`: weight clipping, RMSProp, n_critic 5; `wgan-gp`: λ = 10,
Adam (0, 0.9), n_critic 5; `minimax` and `non-saturating`, Adam, k = 1 — each objective's recipe
optimizer at the preset's learning rate), FID and Inception Score in the offline digit
classifier's feature space every `--eval-every` steps over 1,000 samples. D's divergence estimate
at an evaluation is minus its loss (E D(x) − E D(G(z)) for the critics; for the log-loss D,
2 JS − log 4, increasing with its JS estimate), averaged over the logged steps since the
previous evaluation. Per run: Spearman's ρ between that estimate and FID, and between it and IS,
over the evaluations after step 0; mean and range over `--seeds`.

Why: Arjovsky et al. 2017 (Figs. 3–4) show the WGAN critic's Wasserstein estimate falling as
samples improve, so it can be read as a training curve, while the JS estimate of a standard GAN's
D does not follow quality; Gulrajani et al. 2017 show the same for WGAN-GP. A loss that tracks
quality has ρ(estimate, FID) near +1 and ρ(estimate, IS) near −1. Writes
docs/images/wgan_loss_vs_quality.png and its block in docs/RESULTS.md (`--write`).

The runs are one grid `gankit sweep` over the objectives, a run per seed, in runs/wgan-loss-vs-quality/
(git-ignored; `--folder` moves it; run again, it goes on with an interrupted one); the curves are
read from each run's metrics.jsonl.

    python benchmarks/wgan_loss_vs_quality.py --write
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import matplotlib
from scipy.stats import spearmanr

from gankit.report.html import read_metrics
from results_md import RESULTS, print_tables, this_command, write_figure_block
from sweep_runs import RUNS, centre_and_range, run_spec

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

OBJECTIVES = ["wgan", "wgan-gp", "minimax", "non-saturating"]
FIGURE = RESULTS.parent / "images" / "wgan_loss_vs_quality.png"
Curve = list[tuple[int, float, float, float]]  # (step, D's estimate, FID, IS)


def sweep_spec(steps: int, eval_every: int, seeds: list[int]) -> dict:
    return {
        "base": {"preset": "mlp-digits", "set": [
            f"train.steps={steps}", "log.metrics=[fid, is]", "log.features=digits", f"log.eval_every={eval_every}",
            f"log.every={max(1, eval_every // 5)}", f"log.checkpoint_every={steps}"]},
        "space": {"objective.name": {"choices": OBJECTIVES}}, "seeds": seeds,
        "metric": {"name": "fid", "direction": "minimize"}, "sampler": {"name": "grid"},
    }


def read_curve(folder: Path) -> Curve:
    """Pair each evaluation of a run after step 0 with D's mean estimate since the last one."""
    rows = read_metrics(folder)
    curve: Curve = []
    window: list[float] = []
    for row in rows:
        if row["kind"] == "train":
            window.append(-row["d/loss"])
        elif row["kind"] == "eval" and row["step"] > 0 and window:
            curve.append((row["step"], statistics.fmean(window), row["fid"], row["is"]))
            window = []
    return curve


def rho(curve: Curve, column: int) -> float:
    return float(spearmanr([c[1] for c in curve], [c[column] for c in curve]).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=RUNS / "wgan-loss-vs-quality", help="where the sweep lives")
    parser.add_argument("--write", action="store_true", help="write the figure and docs/RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    name = f"steps{args.steps}-every{args.eval_every}"
    trials = run_spec(name, sweep_spec(args.steps, args.eval_every, args.seeds), args.folder, args.workers)
    seconds = time.perf_counter() - started
    curves = {t["params"]["objective.name"]: [read_curve(Path(t["user_attrs"]["folder"]) / f"seed-{s}") for s in args.seeds]
              for t in trials}

    rows = "".join(
        f"| {objective} | {centre_and_range([rho(c, 2) for c in runs], '+.2f', dash=' … ')} "
        f"| {centre_and_range([rho(c, 3) for c in runs], '+.2f', dash=' … ')} "
        f"| {statistics.fmean(c[-1][2] for c in runs):.2f} |\n"
        for objective, runs in curves.items()
    )
    text = (
        "## WGAN Figures 3–4: does D's loss track sample quality?\n\n"
        "The papers' claim (Arjovsky et al. 2017, Figs. 3–4; Gulrajani et al. 2017; their captions as we recall "
        "them, not checked against the PDFs here): the WGAN critic's estimate of the Wasserstein distance falls as "
        "the samples improve, so it is a usable training curve; the JS estimate of a standard GAN's discriminator "
        "is not. Here: the `mlp-digits` preset on the 8×8 digits, "
        f"{args.steps} steps per run, FID and IS in the offline digit classifier's feature space every "
        f"{args.eval_every} steps (1,000 samples), D's estimate (minus its loss) averaged over the steps between "
        f"evaluations; Spearman's ρ over the {args.steps // args.eval_every} evaluations after step 0, mean "
        f"(min … max) over seeds {', '.join(map(str, args.seeds))}; {seconds:.0f} s on this CPU in all. "
        "Tracking quality means ρ with FID near +1 and ρ with IS near −1.\n\n"
        "| objective | ρ(estimate, FID) | ρ(estimate, IS) | final FID (mean) |\n|---|---|---|---|\n"
        + rows
        + f"\n![D's estimate and FID over training](images/{FIGURE.name})\n\nCommand: `{this_command()}`\n"
    )
    if args.write:
        fig, axes = plt.subplots(1, len(OBJECTIVES), figsize=(3.2 * len(OBJECTIVES), 3))
        for ax, (objective, runs) in zip(axes, curves.items()):
            curve = runs[0]
            steps = [c[0] for c in curve]
            ax.plot(steps, [c[1] for c in curve], color="tab:blue")
            ax.set_ylabel("D's estimate (−loss)", color="tab:blue", fontsize="small")
            twin = ax.twinx()
            twin.plot(steps, [c[2] for c in curve], color="tab:red")
            twin.set_ylabel("FID", color="tab:red", fontsize="small")
            ax.set_title(f"{objective} (seed {args.seeds[0]})", fontsize="small")
            ax.set_xlabel("step", fontsize="small")
        write_figure_block("wgan-loss-vs-quality", text, fig, FIGURE, dpi=110)
    print_tables(text, args.write)


if __name__ == "__main__":
    main()
