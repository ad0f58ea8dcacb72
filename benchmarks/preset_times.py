"""Wall time of presets run end to end on this machine, and their final samples.

What it measures: `gankit train --preset NAME` as a user runs it (start-up, data loading,
training, evaluations, checkpoints, report), one preset at a time. It records the wall time, the
preset's steps and batch, the mean ms/step of the run's last logged stretch, and copies the run's
last sample picture (a scatter plot for points, 64 fixed latent codes for images) to
docs/results/<preset>-samples.png, next to the table it writes into docs/RESULTS.md. Issue 2 asks
for the toy presets to train in under a minute on 2 cores; issue 3 for recognisable samples from
`dcgan-fashion` and `goodfellow-mnist` within 15 minutes each: look at the pictures.

    python benchmarks/preset_times.py            # toy-grid25, toy-ring8, dcgan-fashion, goodfellow-mnist
    python benchmarks/preset_times.py --presets dcgan-mnist --set train.steps=100 --no-write

MNIST comes from $GANKIT_DATA (as in .ci/run), Fashion-MNIST from Debian's package or $GANKIT_DATA.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from gankit.config import build_config, load_preset
from results_md import RESULTS, this_command, write_block

GRIDS = RESULTS.parent / "results"


def run_preset(preset: str, overrides: list[str], out: Path) -> dict:
    command = ["gankit", "train", "--preset", preset, "--out", str(out)]
    for item in overrides:
        command += ["--set", item]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{preset} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    train_rows = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "train"]
    cfg = build_config(load_preset(preset), overrides)
    return {
        "preset": preset, "wall_s": wall, "steps": cfg.train.steps, "batch": cfg.train.batch_size,
        "ms_per_step": train_rows[-1]["ms_per_step"], "grid": sorted((out / "samples").glob("step-*.png"))[-1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["toy-grid25", "toy-ring8", "dcgan-fashion", "goodfellow-mnist"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every preset")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="preset_times-") as tmp:
        for preset in args.presets:
            result = run_preset(preset, args.set, Path(tmp) / preset)
            line = (
                f"| `{preset}` | {result['steps']:,} | {result['batch']} | {result['ms_per_step']:.0f} | "
                f"{result['wall_s']:.0f} ({result['wall_s'] / 60:.1f} min) | ![{preset}](results/{preset}-samples.png) |"
            )
            print(line, flush=True)
            rows.append(line)
            if not args.no_write:
                GRIDS.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(result["grid"], GRIDS / f"{preset}-samples.png")
    table = (
        "| preset | steps | batch | ms/step (end of run) | wall seconds | final samples (fixed z) |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    if not args.no_write:
        command = this_command()
        threads = os.environ.get("OMP_NUM_THREADS", "all")
        load = os.getloadavg()[0]
        write_block("preset_times", (
            "## Presets end to end on a CPU (`benchmarks/preset_times.py`)\n\n"
            f"Made by `{command}` on {time.strftime('%Y-%m-%d')}; machine: {os.cpu_count()}-core CPU "
            f"({platform.machine()}), OMP_NUM_THREADS={threads}, 1-minute load average {load:.1f} at the end "
            "(one run using both cores gives about 2; more means other work shared them). "
            "Wall seconds: `gankit train` end to end.\n\n" + table
        ))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
