"""The literature's evaluations of gankit's image presets, beside the published numbers.

What it does: trains each preset with `gankit train` (or reuses a finished run in `--runs`), then
runs `gankit eval` on it as a user would, and writes one table into docs/RESULTS.md:

- `dcgan-fashion`: FID / IS / KID / precision-recall / density-coverage in the offline
  Fashion-MNIST classifier's feature space (10,000 generated vs 10,000 training images), and the
  Parzen-window log-likelihood of the test set (σ chosen on 10,000 training images).
- `goodfellow-mnist`: Parzen log-likelihood, the 2014 paper's own measure (its Table 1 reports
  225 ± 2 for the GAN on MNIST), plus the MNIST-classifier metrics; at the preset's 6,000 steps
  and trained on to 30,000 (`goodfellow-mnist-30k`).
- A check of the Parzen estimator itself: 10,000 real training images in place of samples, which
  Theis et al. 2016 report as 243 for MNIST.
- `dcgan-stacked-mnist`: modes of 1,000 and KL to uniform over 26,000 samples, the measure of
  VEEGAN Table 2 and PacGAN Table 3.

    python benchmarks/eval_presets.py                    # all of them; writes RESULTS.md
    python benchmarks/eval_presets.py --presets dcgan-fashion --set train.steps=50 --no-write

Published numbers are quoted beside ours; those marked "transcribed" were copied from memory of the
papers' tables without the PDFs at hand and are to be verified.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

from results_md import this_command, write_block

# run name -> (preset, training overrides, gankit eval options)
PLANS = {
    "dcgan-fashion": ("dcgan-fashion", [], ["--metrics", "fid,is,kid,pr,dc,parzen", "--features", "fashion-mnist"]),
    "goodfellow-mnist": ("goodfellow-mnist", [], ["--metrics", "parzen,fid,is,kid,pr,dc", "--features", "mnist"]),
    "goodfellow-mnist-30k": (
        "goodfellow-mnist",
        ["train.steps=30000", "log.eval_every=5000", "log.checkpoint_every=5000", "log.keep_checkpoints=6"],
        ["--metrics", "parzen,fid,is,kid,pr,dc", "--features", "mnist"],
    ),
    "dcgan-stacked-mnist": ("dcgan-stacked-mnist", [], ["--metrics", "modes", "-n", "26000"]),
}
GOODFELLOW = "Goodfellow et al. 2014, Table 1: Parzen 225 ± 2 (GAN), 214 ± 1.1 (DBN), 121 ± 1.6 (Stacked CAE)"
PUBLISHED = {
    "goodfellow-mnist": GOODFELLOW,
    "goodfellow-mnist-30k": GOODFELLOW,
    "dcgan-stacked-mnist": "VEEGAN Table 2 (transcribed): DCGAN 99 modes / KL 3.40, ALI 16 / 5.40, Unrolled GAN 48.7 / 4.32, "
                           "VEEGAN 150 / 2.95; PacGAN Table 3 (transcribed): PacDCGAN2 1000 / 0.06",
}


def sh(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=list(PLANS), choices=list(PLANS), help="runs to evaluate")
    parser.add_argument("--runs", type=Path, default=Path("runs/eval-presets"), help="where runs are trained or reused")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every preset")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args()

    rows = []
    for name in args.presets:
        preset, overrides, options = PLANS[name]
        run = args.runs / name
        started = time.perf_counter()
        if not (run / "checkpoints").is_dir():
            sh(["gankit", "train", "--preset", preset, "--out", str(run), "--overwrite",
                *[a for item in overrides + args.set for a in ("--set", item)]])
        trained = time.perf_counter() - started
        out = run / "evals" / "benchmark.json"
        out.unlink(missing_ok=True)
        command = ["gankit", "eval", str(run), *options, "--out", str(out)]
        started = time.perf_counter()
        print(sh(command))
        record = json.loads(out.read_text())
        rows.append((name, record, trained, time.perf_counter() - started, command))

    started = time.perf_counter()
    real = real_data_parzen()
    real_seconds = time.perf_counter() - started

    lines = [
        "## Evaluations of the image presets (`benchmarks/eval_presets.py`)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores; "
        f"{time.strftime('%Y-%m-%d')}. Command: `{this_command()}`",
        "",
        "| preset | feature space | metrics (ours) | published | eval s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, record, _, seconds, command in rows:
        shown = ", ".join(_fmt(k, v, record["metrics"]) for k, v in record["metrics"].items() if not k.endswith(("_std", "_se")))
        space = record["feature_space"] or f"{record['modes_scored_by']} per channel"
        lines.append(f"| {name} (step {record['step']}) | {space} | {shown} | {PUBLISHED.get(name, '-')} | {seconds:.0f} |")
    lines.append(
        f"| MNIST training images as the samples (a check of the estimator) | pixels | "
        f"parzen {real.mean:.4g} ± {real.stderr:.2g}, parzen_sigma {real.sigma:.4g} | "
        "Theis et al. 2016, Table 1 (transcribed): 243 for the true distribution, 10,000 samples | "
        f"{real_seconds:.0f} |"
    )
    lines += ["", "Parzen is measured in pixel space ([0, 1] pixels, σ in those units) whatever the feature space "
              "column says; the other metrics in that feature space, on 10,000 generated vs 10,000 training images "
              "(Stacked MNIST: 26,000 samples)."]
    lines += ["", "Each row: `" + "`; `".join(shlex.join(c[:2] + ["RUN"] + c[3:-2]) for *_, c in rows) + "`"]
    body = "\n".join(lines)
    print(body)
    if not args.no_write and not args.set:
        write_block("eval-presets", body)
    return 0


def real_data_parzen():
    """Parzen of the MNIST test set with 10,000 training images in place of generated samples, σ
    chosen on the last 10,000 training images: what a perfect generator would score."""
    from gankit.data.idx import load_idx_dataset
    from gankit.metrics.parzen import parzen_estimate

    train_images, _ = load_idx_dataset("mnist", "train", None, False)
    test_images, _ = load_idx_dataset("mnist", "test", None, False)
    unit = lambda x: x.float() / 255  # noqa: E731
    return parzen_estimate(unit(train_images[:10_000]), unit(train_images[-10_000:]), unit(test_images))


def _fmt(name: str, value: float, metrics: dict[str, float]) -> str:
    spread = metrics.get({"is": "is_std", "kid": "kid_std", "parzen": "parzen_se"}.get(name, ""))
    return f"{name} {value:.4g}" + (f" ± {spread:.2g}" if spread is not None else "")


if __name__ == "__main__":
    sys.exit(main())
