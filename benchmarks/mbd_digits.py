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

Runs are trained with the same library calls as `gankit train`, in `--jobs` worker processes of
`--threads` threads (on 2 cores: `--jobs 2 --threads 1`). Every finished run is appended to
docs/results/mbd_digits_runs.jsonl, which later invocations reuse (`--fresh` retrains); the table
is written between its markers in docs/RESULTS.md. A smoke run with `--steps` writes nothing
unless `--write` is given.

    python benchmarks/mbd_digits.py --jobs 2 --threads 1
    python benchmarks/mbd_digits.py --steps 50 --seeds 0 1
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

from gankit.config import RunConfig, build_config, load_preset
from results_md import RESULTS, print_tables, this_command, write_block
from runs import Runner, Trained, add_run_options, check_run_options, describe_status, train_run

PRESET = "mlp-digits"
MINIBATCH = "model.d.minibatch={kernels: 10, dims: 5}"
RUNS_LOG = RESULTS.parent / "results" / "mbd_digits_runs.jsonl"
# (learning rate, steps, seeds): the preset's budget over ten seeds, then longer and slower runs.
SETTINGS: list[tuple[float, int, int]] = [(1.5e-3, 300, 10), (1.5e-3, 1000, 5), (2e-4, 1000, 5), (2e-4, 2000, 3)]


def run_config(lr: float, steps: int, seed: int, minibatch: bool) -> RunConfig:
    sets = [f"seed={seed}", f"optim.g.lr={lr}", f"optim.d.lr={lr}", f"train.steps={steps}",
            f"log.eval_every={steps}", *([MINIBATCH] if minibatch else [])]
    return build_config(load_preset(PRESET), sets)


def table(rows: list[tuple[float, int, list[Trained], list[Trained]]]) -> str:
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
    add_run_options(parser)
    args = parser.parse_args()
    check_run_options(parser, args)
    write = args.steps is None or args.write
    seeds_of: dict[tuple[float, int], list[int]] = {}  # (lr, steps) -> seeds: a row each
    for lr, steps, n in SETTINGS:  # with --steps, settings that differ only in steps make one row
        seeds_of.setdefault((lr, args.steps or steps), args.seeds or list(range(n)))
    rows = []
    with contextlib.ExitStack() as stack:
        runner = Runner(stack, log_path=RUNS_LOG, result_type=Trained, jobs=args.jobs, threads=args.threads,
                        out_dir=args.out_dir, prefix="mbd_digits-", record=write, reuse=write and not args.fresh)
        futures = {}
        for (lr, steps), seeds in seeds_of.items():
            for seed in seeds:
                for minibatch in (False, True):
                    cfg = run_config(lr, steps, seed, minibatch)
                    name = f"lr{lr:g}-{steps}-seed{seed}" + ("-mbd" if minibatch else "")
                    fields = {"lr": lr, "seed": seed, "minibatch": minibatch}
                    futures[lr, steps, seed, minibatch] = runner.submit(
                        (cfg.fingerprint(), steps), fields, train_run, cfg, PRESET, runner.folder(name))
        for (lr, steps), seeds in seeds_of.items():
            plain = [futures[lr, steps, s, False].result() for s in seeds]
            with_mbd = [futures[lr, steps, s, True].result() for s in seeds]
            rows.append((lr, steps, plain, with_mbd))
            print(f"lr {lr:g}, {steps} steps: {[r.final['modes'] for r in plain]} against "
                  f"{[r.final['modes'] for r in with_mbd]}", flush=True)
            if write:
                write_block("mbd_digits", (
                    "## Minibatch discrimination on the 8×8 digits (`benchmarks/mbd_digits.py`)\n\n"
                    f"Made by `{this_command()}` on {time.strftime('%Y-%m-%d')}; machine: {runner.machine}. "
                    f"Status: {describe_status(len(rows), len(seeds_of), runner.reused)}.\n\n"
                    f"Preset `{PRESET}` with both learning rates and the steps of each row, without and with "
                    f"minibatch discrimination (`{MINIBATCH}`). Classes: the digit classes holding at least "
                    "1% of 1,000 samples at the last step, as the shipped digits classifier labels them "
                    "(metric `modes`); a diverged run, those of its last evaluation.\n\n" + table(rows)))
    print_tables(table(rows), write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
