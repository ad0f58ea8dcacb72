"""Toy budgets for WGAN-GP: is there a learning rate, n_critic, step count and width at which it
covers the ring and the grid?

What it measures: for `toy-ring8` and `toy-grid25` under objective `wgan-gp` (λ = 10, Adam
β = (0, 0.9)), one `gankit sweep` each with the TPE sampler over G's and D's learning rates
(log range 1e-4 … 5e-3), n_critic ∈ {1, 2, 5}, steps ∈ {3000, 6000}, and the width of both 3-layer
MLPs ∈ {128, 256}, maximising the high-quality share (samples within 3 std of a mode, of 2,500 from
the EMA generator). It reports every trial's modes, high-quality share and minutes, the best point,
and whether it reaches the target: all modes with ≥ 90% high-quality samples within 10 CPU-minutes;
and it draws high quality against each trial's minutes (docs/images/wgan_toy_budgets.png).

Why: the toy table (benchmarks/toy_modes.py) shows WGAN-GP at ≤ 2% high quality on grid25 and 0 of
8 modes on ring8 under the presets' shared budget; the issue asks whether a budget of its own lets
it succeed, and for the curve of quality against budget if none does within 10 CPU-minutes.

The sweeps live in runs/wgan-toy-budgets/ (git-ignored; `--folder` moves them); running the
command again goes on with them.

    python benchmarks/wgan_toy_budgets.py --write
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

from results_md import RESULTS, print_tables, this_command, write_figure_block
from sweep_runs import run_spec

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

PRESETS = {"ring8": ("toy-ring8", 8), "grid25": ("toy-grid25", 25)}  # name: (preset, modes)
SPACE = {
    "optim.g.lr": {"low": 1.0e-4, "high": 5.0e-3, "log": True},
    "optim.d.lr": {"low": 1.0e-4, "high": 5.0e-3, "log": True},
    "train.d_steps": {"choices": [1, 2, 5]},
    "train.steps": {"choices": [3000, 6000]},
    "model.g.hidden": {"choices": [[128] * 3, [256] * 3]},
    "model.d.hidden": {"choices": [[128] * 3, [256] * 3]},
}
FIGURE = RESULTS.parent / "images" / "wgan_toy_budgets.png"
FOLDER = Path(__file__).resolve().parents[1] / "runs" / "wgan-toy-budgets"
TARGET_HQ, TARGET_MINUTES = 0.9, 10.0


def spec(preset: str, trials: int, seed: int) -> dict:
    return {
        "base": {"preset": preset, "set": ["objective.name=wgan-gp", "log.eval_every=1500", "log.checkpoint_every=1500"]},
        "space": SPACE, "seeds": [0], "metric": {"name": "high_quality", "direction": "maximize"},
        "sampler": {"name": "tpe", "trials": trials, "seed": seed},
    }


def _final(trial: dict) -> dict:
    return trial["user_attrs"]["seed-0"]["final"]


def _point(trial: dict) -> str:
    p = trial["params"]
    return (f"lr G {p['optim.g.lr']:.2g}, D {p['optim.d.lr']:.2g}; n_critic {p['train.d_steps']}; "
            f"{p['train.steps']} steps; width G {p['model.g.hidden'][0]}, D {p['model.d.hidden'][0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="TPE trials per data set")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sets", nargs="+", choices=list(PRESETS), default=list(PRESETS), help="the data sets to sweep")
    parser.add_argument("--folder", type=Path, default=FOLDER, help="where the sweeps live")
    parser.add_argument("--write", action="store_true", help="write docs/RESULTS.md")
    args = parser.parse_args()
    trials = {name: run_spec(name, spec(preset, args.trials, args.seed), args.folder, args.workers)
              for name, (preset, _) in PRESETS.items() if name in args.sets}
    # The trials' own wall time, summed: the same when the command only reads back a finished sweep.
    minutes = sum(t["seconds"] or 0 for runs in trials.values() for t in runs) / 60

    sections = []
    for name, all_trials in trials.items():
        done = sorted((t for t in all_trials if t["state"] == "COMPLETE"), key=lambda t: -t["value"])
        failed = sum(t["state"] == "FAIL" and t["settled"] for t in all_trials)
        rows = "".join(
            f"| {t['number']} | {_point(t)} | {int(_final(t)['modes'])} | {_final(t)['high_quality']:.1%} "
            f"| {t['seconds'] / 60:.1f} |\n" for t in done
        )
        preset, modes = PRESETS[name]
        hits = [t for t in done if _final(t)["modes"] == modes and _final(t)["high_quality"] >= TARGET_HQ
                and t["seconds"] / 60 <= TARGET_MINUTES]
        if hits:
            verdict = f"**Target reached** by trial {hits[0]['number']} ({_point(hits[0])})."
        elif done:
            verdict = (f"**Target not reached** in {len(done)} finished trials: best {done[0]['value']:.1%} high "
                       f"quality ({_point(done[0])}), {int(_final(done[0])['modes'])}/{modes} modes.")
        else:
            verdict = "No trial finished."
        verdict += f" {failed} trials failed or diverged." if failed else ""
        sections.append(
            f"### {name} ({preset}, wgan-gp)\n\n{verdict}\n\n"
            "| trial | point | modes | high quality | minutes |\n|---|---|---|---|---|\n" + rows
        )
    text = (
        "## WGAN-GP on the toy mixtures: a budget of its own\n\n"
        "The question (issue #24): at which learning rate, n_critic, steps and width does WGAN-GP capture every "
        f"mode of ring8 and grid25 with ≥ {TARGET_HQ:.0%} high-quality samples, within {TARGET_MINUTES:g} CPU-minutes "
        f"a run? A TPE sweep of {args.trials} trials per data set (one seed; sampler seed {args.seed}; the space in "
        f"the script's docstring), {args.workers} workers, {minutes:.0f} trial-minutes on this CPU in all; minutes are each "
        f"trial's wall time, its worker holding {max(1, (os.cpu_count() or 1) // args.workers)} of {os.cpu_count()} cores "
        "(a retried trial's counts only the retry).\n\n"
        + "\n".join(sections)
        + f"\n![high quality against each trial's minutes](images/{FIGURE.name})\n\nCommand: `{this_command()}`\n"
    )
    if args.write:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for name, all_trials in trials.items():
            done = [t for t in all_trials if t["state"] == "COMPLETE"]
            ax.scatter([t["seconds"] / 60 for t in done], [_final(t)["high_quality"] for t in done], label=name)
        ax.axhline(TARGET_HQ, color="grey", linestyle="--", linewidth=1)
        ax.axvline(TARGET_MINUTES, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("trial wall minutes")
        ax.set_ylabel("high-quality share")
        ax.legend(fontsize="small")
        write_figure_block("wgan-toy-budgets", text, fig, FIGURE)
    print_tables(text, args.write)


if __name__ == "__main__":
    main()
