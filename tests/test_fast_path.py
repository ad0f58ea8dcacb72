"""The GPU speed settings (bf16 autocast, channels_last, fused optimizers), exercised on the CPU.

`auto` turns them on only on CUDA; here each is switched on by hand so its code path runs in CI.
The point checked: they change how the step computes, never what the run stores or resumes from.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gankit.config import OptimizerConfig, build_config, load_preset
from gankit.run import build_trainer
from gankit.train import checkpoint
from gankit.train.distributed import Distributed
from gankit.train.fast import FastPath
from gankit.train.optim import make_optimizer
from tests.conftest import digits_args


def _trainer(*extra: str, fast: FastPath | None = None):
    cfg = build_config(load_preset("dcgan-fashion"), digits_args(*extra)[1::2])
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
    if fast is not None:  # rebuild the parts the fast path touches, as build_trainer does on CUDA
        trainer.fast = fast
        trainer.g, trainer.d = fast.prepare(trainer.g), fast.prepare(trainer.d)
    return trainer


def _run(trainer, steps: int = 3) -> dict[str, torch.Tensor]:
    for _ in range(steps):
        stats = trainer.train_step()
    return stats


def test_auto_picks_nothing_on_a_cpu():
    cfg = build_config(load_preset("dcgan-fashion"), digits_args()[1::2]).train
    assert FastPath.for_device(cfg, torch.device("cpu")) == FastPath("cpu")
    bf16 = FastPath.for_device(cfg.model_copy(update={"precision": "bf16"}), torch.device("cpu"))
    assert bf16.autocast_dtype is torch.bfloat16 and not bf16.channels_last and not bf16.fused


def test_channels_last_computes_the_same_step():
    plain, nhwc = _trainer(), _trainer(fast=FastPath("cpu", channels_last=True))
    conv = next(p for p in nhwc.g.parameters() if p.dim() == 4 and p.shape[1] > 1)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    _run(plain), _run(nhwc)
    for a, b in zip(plain.g.parameters(), nhwc.g.parameters()):
        assert torch.allclose(a, b, atol=1e-5)


def test_bf16_autocast_keeps_float32_weights_and_losses():
    plain, bf16 = _trainer(), _trainer(fast=FastPath("cpu", autocast_dtype=torch.bfloat16))
    stats_plain, stats_bf16 = _run(plain), _run(bf16)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in stats_bf16.values())
    assert all(p.dtype == torch.float32 for p in bf16.g.parameters())
    # the forward passes did run in bf16: the numbers moved, but only by rounding-sized amounts
    assert stats_bf16["d/loss"] != stats_plain["d/loss"]
    assert torch.allclose(stats_bf16["d/loss"], stats_plain["d/loss"], rtol=0.05)


def test_a_fast_run_checkpoints_plain_tensors_and_resumes(tmp_path, cli, monkeypatch):
    """channels_last nets save as ordinary contiguous tensors that load back into NHWC nets."""
    real_for_device = FastPath.for_device
    monkeypatch.setattr(FastPath, "for_device", classmethod(
        lambda cls, cfg, device: dataclasses.replace(real_for_device(cfg, device), channels_last=True, fused=True)
    ))
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli("train", "--preset", "dcgan-fashion", "--out", straight, *digits_args())[0] == 0
    assert cli("train", "--preset", "dcgan-fashion", "--out", split, *digits_args("train.steps=3"))[0] == 0
    assert cli("train", "--resume", split, "--set", "train.steps=6")[0] == 0
    a, b = checkpoint.load(straight), checkpoint.load(split)
    assert all(t.is_contiguous() for t in a.tensors.values())
    for key in a.tensors:
        assert torch.allclose(a.tensors[key].float(), b.tensors[key].float(), atol=1e-6), key


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_fused_optimizers_take_the_same_steps(name):
    cfg = OptimizerConfig(name=name, lr=0.1, **({"betas": (0.5, 0.9)} if name == "adam" else {"momentum": 0.5}))
    weights = [torch.randn(5, 3, generator=torch.Generator().manual_seed(0)) for _ in range(2)]
    for w in weights:
        w.requires_grad_(True)
    opts = [make_optimizer(cfg, [w], fused=fused) for w, fused in zip(weights, (False, True))]
    assert opts[1].defaults.get("fused") is True
    for _ in range(3):
        for w, opt in zip(weights, opts):
            opt.zero_grad()
            (w ** 3).sum().backward()
            opt.step()
    assert torch.allclose(weights[0], weights[1], atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_run_resumes_with_its_gpu_random_stream():
    """Instance noise on a GPU draws from the GPU's generator: a trainer rebuilt from a mid-run
    state continues exactly only if that stream was saved and restored with the CPU one."""
    settings = ["techniques.instance_noise={std: 0.5, anneal_steps: 100}", "train.batch_size=16",
                "model.g.hidden=[8]", "model.d.hidden=[8]", "train.precision=fp32"]

    def trainer():
        return build_trainer(build_config(load_preset("toy-grid25"), settings), Distributed(), torch.device("cuda"))

    straight, first = trainer(), trainer()
    for _ in range(6):
        straight.train_step()
    for _ in range(3):
        first.train_step()
    tensors, plain = first.state()
    assert "rng.cuda.rank0" in tensors
    resumed = trainer()  # its GPU stream starts where a fresh run's does, not where `first` left it
    resumed.load_state(tensors, plain)
    for _ in range(3):
        resumed.train_step()
    a, b = straight.state()[0], resumed.state()[0]
    assert [k for k in a if not torch.equal(a[k].cpu(), b[k].cpu())] == []
