"""Mode coverage of every objective on the 2D ring and 2D grid, beside the published numbers.

What it measures: for each objective × {grid25, ring8} × seed, one training run of the toy preset
at its default budget (nets, batch, steps and lr as `toy-grid25.yaml` / `toy-ring8.yaml` set them;
optimizer, betas and k from each objective's recipe in `gankit.config.RECIPES`), then the final
evaluation of that run: modes captured, % high-quality samples and KL to uniform over 2,500 samples
(`gankit.metrics.modes`), and the wall time of the run. Per (objective, dataset) it reports the
medians over seeds and how many seeds captured every mode with at least 90% high-quality samples.

Why: these are the mode-collapse tests of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al.
2018). The table says whether the presets do what they promise — cover every mode, sharply — on
every objective and seed, not just on a lucky one, and at what cost; the quoted tables put the
numbers beside the literature's (whose budgets were far larger: PacGAN trained 400 epochs).

Each dataset is one grid `gankit sweep` over the objectives, a run per seed (`--workers` processes,
the cores shared among them), in runs/toy-modes/ (git-ignored; `--folder` moves it): the same
command run again goes on with an interrupted benchmark, and `gankit sweep table
runs/toy-modes/ring8.yaml --out runs/toy-modes/ring8` lists its trials. The full benchmark rewrites
the block between the markers in docs/RESULTS.md after each dataset, so an interrupted benchmark
leaves what it measured, marked partial, and writes every run (seed, metrics, times, machine) to
docs/results/toy_modes_runs.jsonl, the raw data behind the table. A smoke run with `--steps` trains
in a temporary folder and writes nothing unless `--write` is given.

    python benchmarks/toy_modes.py                          # the full table (long: see RESULTS.md)
    python benchmarks/toy_modes.py --steps 300 --seeds 0 --objectives hinge --datasets ring8
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
import typing
from dataclasses import dataclass

from gankit.config import ObjectiveName, RunConfig, build_config, load_preset
from gankit.data import make_source
from results_md import RESULTS, print_tables, this_command, write_block
from sweep_runs import (
    Run,
    add_sweep_options,
    check_sweep_options,
    describe_load,
    describe_machine,
    describe_status,
    run_spec,
    runs_by_point,
    sweep_folder,
    write_runs_log,
)

# The six objectives the table was made with; rpgan came later (a sweep with it is another study:
# `--objectives ... rpgan --folder runs/toy-modes-rpgan`).
OBJECTIVES: tuple[str, ...] = ("minimax", "non-saturating", "wgan", "wgan-gp", "hinge", "least-squares")
DATASETS: dict[str, str] = {"grid25": "toy-grid25", "ring8": "toy-ring8"}  # grid first: see RESULTS
RUNS_LOG = RESULTS.parent / "results" / "toy_modes_runs.jsonl"
TARGET_HQ = 0.9
QUOTED_LABEL = (
    "quoted from the papers' tables; transcribed without access to the PDFs in this environment "
    "— verify before citing"
)
# (paper and table, dataset, method, modes, % high quality, reverse KL), as printed in the papers
QUOTED: list[tuple[str, str, str, str, str, str]] = [
    ("VEEGAN (Srivastava et al. 2017), Table 1", "ring8", "GAN", "1", "99.3", "—"),
    ("VEEGAN (Srivastava et al. 2017), Table 1", "ring8", "ALI", "2.8", "0.13", "—"),
    ("VEEGAN (Srivastava et al. 2017), Table 1", "ring8", "Unrolled GAN", "7.6", "35.6", "—"),
    ("VEEGAN (Srivastava et al. 2017), Table 1", "ring8", "VEEGAN", "8.0", "52.9", "—"),
    ("VEEGAN (Srivastava et al. 2017), Table 1", "grid25", "GAN", "3.3", "0.5", "—"),
    ("VEEGAN (Srivastava et al. 2017), Table 1", "grid25", "ALI", "15.8", "1.6", "—"),
    ("VEEGAN (Srivastava et al. 2017), Table 1", "grid25", "Unrolled GAN", "23.6", "16.0", "—"),
    ("VEEGAN (Srivastava et al. 2017), Table 1", "grid25", "VEEGAN", "24.6", "40.0", "—"),
    ("PacGAN (Lin et al. 2018), Table 2", "ring8", "GAN", "6.3", "98.2", "0.45"),
    ("PacGAN (Lin et al. 2018), Table 2", "ring8", "ALI", "6.6", "97.6", "0.36"),
    ("PacGAN (Lin et al. 2018), Table 2", "ring8", "Minibatch Disc.", "4.3", "36.6", "1.93"),
    ("PacGAN (Lin et al. 2018), Table 2", "ring8", "PacGAN2", "7.9", "95.6", "0.07"),
    ("PacGAN (Lin et al. 2018), Table 2", "ring8", "PacGAN3", "7.8", "97.7", "0.10"),
    ("PacGAN (Lin et al. 2018), Table 2", "ring8", "PacGAN4", "7.8", "95.9", "0.07"),
    ("PacGAN (Lin et al. 2018), Table 2", "grid25", "GAN", "17.3", "94.2", "0.70"),
    ("PacGAN (Lin et al. 2018), Table 2", "grid25", "ALI", "24.1", "95.7", "0.14"),
    ("PacGAN (Lin et al. 2018), Table 2", "grid25", "Minibatch Disc.", "23.8", "79.9", "0.18"),
    ("PacGAN (Lin et al. 2018), Table 2", "grid25", "PacGAN2", "23.8", "91.3", "0.13"),
    ("PacGAN (Lin et al. 2018), Table 2", "grid25", "PacGAN3", "24.6", "94.2", "0.06"),
    ("PacGAN (Lin et al. 2018), Table 2", "grid25", "PacGAN4", "24.8", "93.6", "0.04"),
]
GEOMETRY_NOTE = (
    "Geometry and protocol: PacGAN's grid has centres {-4, -2, 0, 2, 4}² with std 0.05 and its ring "
    "radius 1 with std 0.01, the same as our presets, and it counts modes and high-quality samples "
    "as we do over 2,500 samples; its released config trains 400 epochs of 100,000 samples at batch "
    "100 (400,000 updates, G 4×400 ReLU with batch norm, D 3×200 maxout) and its rows are means over "
    "its trials, ours medians over seeds at a budget of a few thousand updates. VEEGAN's ring and "
    "grid have the same centres, but its exact std and training budget may differ from ours "
    "(not checked here), so compare its rows loosely."
)


@dataclass(frozen=True)
class RunResult:
    modes: float
    modes_total: int
    high_quality: float  # share, 0-1
    kl: float
    wall_s: float
    cpu_s: float  # CPU time of the process: robust to other work on the machine, unlike wall time
    diverged: bool

    @property
    def on_target(self) -> bool:
        return not self.diverged and self.modes == self.modes_total and self.high_quality >= TARGET_HQ


def run_config(dataset: str, objective: str, seed: int, steps: int | None) -> RunConfig:
    overrides = [f"objective.name={objective}", f"seed={seed}"]
    if steps is not None:
        overrides.append(f"train.steps={steps}")
    return build_config(load_preset(DATASETS[dataset]), overrides)


def sweep_spec(dataset: str, objectives: list[str], seeds: list[int], steps: int | None) -> dict:
    """One grid sweep per dataset: every objective, a run per seed, at the preset's budget."""
    return {
        "base": {"preset": DATASETS[dataset], "set": [] if steps is None else [f"train.steps={steps}"]},
        "space": {"objective.name": {"choices": objectives}}, "seeds": seeds,
        "metric": {"name": "high_quality", "direction": "maximize"}, "sampler": {"name": "grid"},
    }


def mode_result(run: Run, modes_total: int) -> RunResult:
    m = run.final
    return RunResult(m["modes"], modes_total, m["high_quality"], m["kl"], run.wall_s, run.cpu_s, run.diverged)


@dataclass(frozen=True)
class Cell:
    dataset: str
    objective: str
    optim: str  # the optimizer the runs used, e.g. "adam 0.0015, k=1"
    runs: list[RunResult]

    def row(self) -> str:
        med = statistics.median
        total = self.runs[0].modes_total
        return (
            f"| {self.dataset} | {self.objective} | {self.optim} | "
            f"{med(r.modes for r in self.runs):g} / {total} | "
            f"{100 * med(r.high_quality for r in self.runs):.1f} | "
            f"{med(r.kl for r in self.runs):.3f} | "
            f"{sum(r.on_target for r in self.runs)} / {len(self.runs)} | "
            f"{sum(r.diverged for r in self.runs)} | "
            f"{med(r.cpu_s for r in self.runs):.1f} | "
            f"{med(r.wall_s for r in self.runs):.1f} |"
        )


def describe_optim(cfg: RunConfig) -> str:
    g, d = cfg.optim.g, cfg.optim.d
    lrs = f"{g.lr:g}" if g.lr == d.lr else f"G {g.lr:g} / D {d.lr:g}"
    return f"{g.name} {lrs}, k={cfg.train.d_steps}"


def describe_budget(cfg: RunConfig) -> str:
    m, t = cfg.model, cfg.train
    ema = f", EMA of G {t.ema:g}" if t.ema else ""
    return (
        f"G {m.g.hidden} {m.g.activation}, D {m.d.hidden} {m.d.activation}, z_dim {m.z_dim}, "
        f"batch {t.batch_size}, {t.steps} steps{ema}"
    )


def table(cells: list[Cell]) -> str:
    head = (
        "| dataset | objective | optimizer, lr, k | modes (median) | % high quality (median) | "
        "KL (median) | seeds with all modes and ≥ 90% HQ | diverged | CPU s per run (median) | "
        "wall s per run (median) |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(cell.row() for cell in cells) + "\n"


def quoted_table() -> str:
    lines = [
        "| paper, table | dataset | method | modes | % high quality | reverse KL |",
        "|---|---|---|---|---|---|",
    ]
    for paper, dataset, method, modes, hq, kl in QUOTED:
        lines.append(f"| {paper} | {dataset} | {method} | {modes} | {hq} | {kl} |")
    return "\n".join(lines) + "\n"


def results_block(cells: list[Cell], budgets: dict[str, str], context: dict[str, str]) -> str:
    budget_lines = "".join(f"- {name}: {text}\n" for name, text in budgets.items())
    return (
        "## Mode coverage on the toy mixtures (`benchmarks/toy_modes.py`)\n\n"
        f"Made by `{context['command']}` on {context['date']}; machine: {context['machine']}. "
        f"Status: {context['status']}.\n\n"
        "Each row: one training run per seed at the preset's default budget (optimizer, betas and k "
        "from the objective's recipe, lr as the preset sets it); the final evaluation over 2,500 "
        "samples. High quality (HQ) = within 3 std of the nearest mode centre; KL = KL(histogram of "
        "the HQ samples over the modes ‖ uniform). Budgets:\n\n"
        f"{budget_lines}\n"
        f"{table(cells)}\n"
        "Time: the in-process training call (run folder, training, evaluations, report); "
        "`gankit train` adds about 7 s of start-up (importing torch). CPU seconds are the "
        "process's CPU time: with one thread per run they are the time on one idle core, an upper "
        "bound for a 2-core run, and unlike wall seconds they barely change when other work shares "
        "the machine (1-minute load average "
        f"{context['load']}).\n\n"
        f"### Published numbers ({QUOTED_LABEL})\n\n"
        f"{quoted_table()}\n"
        f"{GEOMETRY_NOTE}\n"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--objectives", nargs="+", choices=typing.get_args(ObjectiveName), default=list(OBJECTIVES))
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    add_sweep_options(parser)
    args = parser.parse_args()
    check_sweep_options(parser, args)
    return args


def main() -> int:
    args = parse_args()
    write = args.steps is None or args.write
    context = {"command": this_command(), "date": time.strftime("%Y-%m-%d"), "machine": describe_machine(args.workers)}
    load_start = os.getloadavg()[0]
    budgets = {d: describe_budget(run_config(d, OBJECTIVES[0], 0, args.steps)) for d in args.datasets}
    cells: list[Cell] = []
    sweeps = {}
    with contextlib.ExitStack() as stack:
        folder = sweep_folder(stack, args, "toy-modes")
        for dataset in args.datasets:
            sweeps[dataset] = run_spec(dataset, sweep_spec(dataset, args.objectives, args.seeds, args.steps),
                                       folder, args.workers)
            runs = runs_by_point(sweeps[dataset], args.seeds, "objective.name")
            modes_total = len(make_source(run_config(dataset, OBJECTIVES[0], 0, args.steps).data).centres)
            for objective in args.objectives:
                results = [mode_result(run, modes_total) for run in runs[objective]]
                for seed, r in zip(args.seeds, results):
                    print(f"{dataset} {objective} seed {seed}: {r.modes:g}/{r.modes_total} modes, "
                          f"{100 * r.high_quality:.1f}% HQ, KL {r.kl:.3f}, {r.cpu_s:.1f} CPU s, {r.wall_s:.1f} s"
                          + (" (diverged)" if r.diverged else ""), flush=True)
                cells.append(Cell(dataset, objective, describe_optim(run_config(dataset, objective, 0, args.steps)),
                                  results))
            if write:
                context["status"] = describe_status(len(sweeps), len(args.datasets))
                context["load"] = describe_load(load_start)
                write_block("toy_modes", results_block(cells, budgets, context))
                write_runs_log(RUNS_LOG, sweeps, context["machine"])
    print_tables(table(cells), write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
