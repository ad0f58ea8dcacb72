"""Minibatch discrimination against mode collapse on the 8×8 digits: digit classes covered, per seed.

What it measures: for each setting (Adam learning rate of both players, training steps) and seed,
preset `mlp-digits` trained without and with minibatch discrimination (10 kernels of 5 dims,
`model.d.minibatch`), then the final evaluation's `modes`: the digit classes holding at least 1% of
1,000 samples, as the shipped digits classifier labels them (`gankit.metrics.classes`), and its KL
to uniform. Per setting it reports both counts per seed, their means, and the seeds where the
layer covered more classes.

Why: Salimans et al. (2016, sec. 3.2) made the layer so that D can tell a collapsed batch by its
crowding. `tests/test_technique_effects.py` asserts the effect at the preset's budget; this table
shows where it holds and where it fades (longer runs, the DCGAN recipe's slower rate), which
docs/improved-gan.md discusses.

Each setting is one grid `gankit sweep` of two variants (without and with the layer), a run per
seed, in `--workers` processes, under runs/mbd-digits/ (git-ignored; `--folder` moves it; the same
command run again goes on with an interrupted benchmark). The table is written between its markers
in docs/RESULTS.md and every run to docs/results/mbd_digits_runs.jsonl. A smoke run with `--steps`
trains in a temporary folder and writes nothing unless `--write` is given.

    python benchmarks/mbd_digits.py
    python benchmarks/mbd_digits.py --steps 50 --seeds 0 1
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

from results_md import RESULTS, print_tables, this_command, write_block
from sweep_runs import (
    Run,
    add_sweep_options,
    check_sweep_options,
    describe_machine,
    describe_status,
    run_spec,
    runs_by_point,
    sweep_folder,
    write_runs_log,
)

PRESET = "mlp-digits"
MINIBATCH = "model.d.minibatch={kernels: 10, dims: 5}"
RUNS_LOG = RESULTS.parent / "results" / "mbd_digits_runs.jsonl"
# (learning rate, steps, seeds): the preset's budget over ten seeds, then longer and slower runs.
SETTINGS: list[tuple[float, int, int]] = [(1.5e-3, 300, 10), (1.5e-3, 1000, 5), (2e-4, 1000, 5), (2e-4, 2000, 3)]


def sweep_spec(lr: float, steps: int, seeds: list[int]) -> dict:
    """A setting's sweep: both variants (without the layer, with it), a run per seed."""
    return {
        "base": {"preset": PRESET, "set": [f"optim.g.lr={lr}", f"optim.d.lr={lr}", f"train.steps={steps}",
                                           f"log.eval_every={steps}"]},
        "space": {"set": {"choices": [[], [MINIBATCH]]}}, "seeds": seeds,
        "metric": {"name": "modes", "direction": "maximize"}, "sampler": {"name": "grid"},
    }


def table(rows: list[tuple[float, int, list[Run], list[Run]]]) -> str:
    """A row per setting. A diverged run counts the classes of its last evaluation before the
    non-finite loss, so the last column says how many runs that applies to."""
    lines = [
        "| Adam lr, steps | seeds | classes without it | classes with it | mean without / with "
        "| seeds where it covered more | diverged runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for lr, steps, plain, with_mbd in rows:
        a, b = [r.final["modes"] for r in plain], [r.final["modes"] for r in with_mbd]
        wins = sum(y > x for x, y in zip(a, b))
        lines.append(
            f"| {lr:g}, {steps:,} | {len(a)} | {', '.join(f'{x:g}' for x in a)} | {', '.join(f'{y:g}' for y in b)} "
            f"| {statistics.mean(a):.1f} / {statistics.mean(b):.1f} | {wins} of {len(a)} "
            f"| {sum(r.diverged for r in plain + with_mbd)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", help="these seeds for every setting (default: 10, 5, 5, 3)")
    add_sweep_options(parser)
    args = parser.parse_args()
    check_sweep_options(parser, args)
    write = args.steps is None or args.write
    machine = describe_machine(args.workers)
    seeds_of: dict[tuple[float, int], list[int]] = {}  # (lr, steps) -> seeds: a row each
    for lr, steps, n in SETTINGS:  # with --steps, settings that differ only in steps make one row
        seeds_of.setdefault((lr, args.steps or steps), args.seeds or list(range(n)))
    rows, sweeps = [], {}
    with contextlib.ExitStack() as stack:
        folder = sweep_folder(stack, args, "mbd-digits")
        for (lr, steps), seeds in seeds_of.items():
            name = f"lr{lr:g}-{steps}"
            sweeps[name] = run_spec(name, sweep_spec(lr, steps, seeds), folder, args.workers)
            runs = runs_by_point(sweeps[name], seeds, "set")
            plain, with_mbd = runs[()], runs[(MINIBATCH,)]
            rows.append((lr, steps, plain, with_mbd))
            print(f"lr {lr:g}, {steps} steps: {[r.final['modes'] for r in plain]} against "
                  f"{[r.final['modes'] for r in with_mbd]}", flush=True)
            if write:
                write_runs_log(RUNS_LOG, sweeps, machine)
                write_block("mbd_digits", (
                    "## Minibatch discrimination on the 8×8 digits (`benchmarks/mbd_digits.py`)\n\n"
                    f"Made by `{this_command()}` on {time.strftime('%Y-%m-%d')}; machine: {machine}. "
                    f"Status: {describe_status(len(rows), len(seeds_of))}.\n\n"
                    f"Preset `{PRESET}` with both learning rates and the steps of each row, without and with "
                    f"minibatch discrimination (`{MINIBATCH}`). Classes: the digit classes holding at least "
                    "1% of 1,000 samples at the last step, as the shipped digits classifier labels them "
                    "(metric `modes`); a diverged run, those of its last evaluation.\n\n" + table(rows)))
    print_tables(table(rows), write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
