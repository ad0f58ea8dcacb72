"""Training throughput of gankit's DCGAN-64 step against a plain eager PyTorch loop.

What it measures: images per second of one full GAN step (one D update on a real and a fake
batch, one G update; the non-saturating loss; Adam(2e-4, 0.5, 0.999)) on 3×64×64 images with the
DCGAN nets at width 64 (G 3.6 M, D 2.8 M parameters), at several batch sizes, for two loops over
the same nets, losses and optimizers in the same process:

- plain: the textbook eager loop (index a resident uint8 tensor, two backward passes, two Adam
  steps), running the same algorithm as gankit: the G update draws fresh noise (Algorithm 1 of
  Goodfellow et al. 2014), where some examples reuse the D update's fake batch and skip a G forward;
- gankit: `gankit.run.build_trainer` and `Trainer.train_step`, as `gankit train` runs them.

It also counts the step's FLOPs with `torch.utils.flop_counter.FlopCounterMode` and reports the
achieved TFLOP/s. Images are synthetic (random uint8, resident on the device): the data are not
what is being timed. Targets (issue 3): on an H100 at least 3× the plain loop at batch 64 and 1.5×
at batch 1024; on a CPU, no slower than the plain loop.

    python benchmarks/throughput.py                       # batches 64, 256, 1024; writes RESULTS.md
    python benchmarks/throughput.py --batches 8 --steps 2 --width 8   # a smoke run, writes nothing
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from gankit.config import build_config
from gankit.data import ImageSource
from gankit.run import build_trainer, pick_device
from gankit.train.distributed import Distributed
from machine import device_name, sync
from results_md import this_command, write_block

RESOLUTION = 64
DATASET_SIZE = 8192


def gankit_config(width: int, batch: int, device: str):
    overrides = [
        f"model.g.width={width}", f"model.d.width={width}", f"train.batch_size={batch}",
        f"train.device={device}",
    ]
    return build_config(
        {
            "data": {"name": "digits", "resolution": RESOLUTION},  # replaced by synthetic images
            "model": {"z_dim": 100, "g": {"kind": "dcgan"}, "d": {"kind": "dcgan"}},
            "objective": {"name": "non-saturating"},
            "optim": {g: {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]} for g in ("g", "d")},
            "train": {"steps": 1},
        },
        overrides,
    )


def synthetic_images(device: torch.device) -> ImageSource:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (DATASET_SIZE, 3, RESOLUTION, RESOLUTION), dtype=torch.uint8, generator=generator)
    source = ImageSource(images, None, (-1.0, 1.0))
    source.move_to(device)
    return source


def gankit_step(width: int, batch: int, device: torch.device) -> tuple[Callable[[], None], tuple]:
    cfg = gankit_config(width, batch, device.type)
    trainer = build_trainer(cfg, Distributed(), device, synthetic_images(device))
    return trainer.train_step, (trainer.g, trainer.d)


def plain_step(nets: tuple, batch: int, device: torch.device) -> Callable[[], None]:
    """The textbook loop over copies of the same nets (same init)."""
    g, d = (copy.deepcopy(net) for net in nets)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    images = synthetic_images(device).images

    def step() -> None:
        index = torch.randint(len(images), (batch,), device=device)
        real = images[index].float() / 127.5 - 1
        with torch.no_grad():
            fake = g(torch.randn(batch, 100, device=device))
        d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-d(g(torch.randn(batch, 100, device=device)))).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()

    return step


def images_per_second(step: Callable[[], None], batch: int, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return batch * steps / (time.perf_counter() - start)


def step_flops(step: Callable[[], None]) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=None, help="timed steps per loop (default: 50 on GPU, 3 on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 10 on GPU, 1 on CPU)")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    steps = args.steps or (50 if device.type == "cuda" else 3)
    warmup = args.warmup or (10 if device.type == "cuda" else 1)
    full = args.width == 64 and args.steps is None
    rows = []
    for batch in args.batches:
        ours, nets = gankit_step(args.width, batch, device)
        plain = plain_step(nets, batch, device)
        flops = step_flops(plain)
        plain_rate = images_per_second(plain, batch, steps, warmup, device)
        ours_rate = images_per_second(ours, batch, steps, warmup, device)
        tflops = lambda rate: flops / batch * rate / 1e12  # noqa: E731
        rows.append(
            f"| {batch} | {plain_rate:,.0f} | {ours_rate:,.0f} | {ours_rate / plain_rate:.2f}× | "
            f"{tflops(plain_rate):.3f} | {tflops(ours_rate):.3f} | {flops / batch / 1e9:.2f} |"
        )
        print(rows[-1], flush=True)
    table = (
        "| batch | plain loop img/s | gankit img/s | gankit / plain | plain TFLOP/s | gankit TFLOP/s | "
        "GFLOP per image |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    print()
    print(table, end="")
    if full:
        command = this_command()
        body = (
            f"## Training throughput, DCGAN-64 (`benchmarks/throughput.py`) — {device_name(device)}\n\n"
            f"Made by `{command}` on {time.strftime('%Y-%m-%d')}; torch {torch.__version__}; "
            f"{steps} timed steps after {warmup} warm-up steps per loop and batch size. One step = one "
            "D update (real and fake batch) + one G update, non-saturating loss, Adam; FLOPs counted "
            "by torch.utils.flop_counter on the plain loop's step.\n\n" + table
        )
        write_block(f"throughput-{device.type}", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
