"""A training run, top to bottom: build everything from the config, loop, log, evaluate, save.

The loop itself names no objective, technique or data set: those plug in through the Trainer, the
Technique hooks and the probes. Read `train` from top to bottom to see a whole run.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

import gankit
from gankit.config import (
    CONFIG_VERSION,
    RESUMABLE_CHANGES,
    ModelConfig,
    RunConfig,
    load_run_config,
    resumable,
    save_config,
)
from gankit.data import DataSource, ImageSource, make_source
from gankit.errors import RunStopped, TrainingDiverged, UserError, first_line
from gankit.files import atomic_write_text, holds_working_folder, replace_folder
from gankit.metrics.evaluator import Evaluator, build_evaluator
from gankit.metrics.reference import reference_from_data
from gankit.nets import build_nets, fit_to_data
from gankit.nets.latent import draw_latent, evaluation_labels, with_labels
from gankit.objectives import build_objective
from gankit.report.html import read_metrics, write_report
from gankit.report.probes import build_probes
from gankit.techniques.base import Technique, TechniqueSet
from gankit.techniques.registry import build_techniques, d_classes
from gankit.train import checkpoint
from gankit.train.batches import BatchStream
from gankit.train.best import BestCheckpoint
from gankit.train.distributed import Distributed, launched
from gankit.train.fast import FastPath
from gankit.train.logger import RunLogger
from gankit.train.optim import LinearDecay, make_optimizer
from gankit.train.trainer import Trainer

RUN_MARKER = "run.json"


# --------------------------------------------------------------------------------- run folder


def is_run(path: Path) -> bool:
    return (Path(path) / RUN_MARKER).is_file() and (Path(path) / "config.yaml").is_file()


def check_new_run_dir(out: Path, overwrite: bool) -> None:
    """Refuse to write into an existing, non-empty folder unless asked to replace it."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"run folder {out} already exists and is not empty (pass --overwrite to replace it)")
        if not is_run(out):
            raise UserError(f"--out {out} holds files but is not a gankit run folder; --overwrite replaces only runs")
        if holds_working_folder(out):
            raise UserError(f"--out {out} is the working folder or holds it; run from outside it to replace it")


def create_run_dir(out: Path, cfg: RunConfig, preset: str | None, overwrite: bool, data_shape: tuple[int, ...]) -> None:
    """A fresh run folder holding the config and the run marker, swapped in whole for the old run
    that `overwrite` replaces (check_new_run_dir has refused, beforehand, what it may not). The
    marker records the shape of the data, so that the run can be sampled where the data is not."""
    info = {
        "preset": preset,
        "description": cfg.description,
        "gankit": gankit.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "world_size": launched()[1],
        "data_shape": list(data_shape),
    }

    def fill(folder: Path) -> None:
        save_config(cfg, folder / "config.yaml")
        atomic_write_text(folder / RUN_MARKER, json.dumps(info, indent=2))

    replace_folder(out, fill, replace=overwrite)


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda was asked for, but no CUDA device is available (use auto or cpu)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)  # NCCL's barrier and default-device calls use the current device
        return device
    return torch.device(name)


# --------------------------------------------------------------------------------- assembling


def build_trainer(
    cfg: RunConfig,
    dist: Distributed,
    device: torch.device,
    source: DataSource | None = None,
    *,
    nets: tuple[nn.Module, nn.Module] | None = None,
    techniques: Sequence[Technique] = (),
) -> Trainer:
    """Everything a run trains with, from the config. `source` replaces the configured data
    (benchmarks feed synthetic images this way); `nets`, a (G, D) pair of the user's own, replaces
    the configured nets (D returns logits, one per example, as every objective expects); each of
    `techniques` runs after the configured ones (see docs/api.md)."""
    source = source if source is not None else make_source(cfg.data)
    check_labels(cfg.model, source)
    if isinstance(source, ImageSource):
        source.move_to(device)
    if nets is None:
        g, d = build_nets(cfg.model, source.shape, cfg.seed, d_classes(cfg, source))
        fit_to_data(g, d, cfg.model, source, cfg.seed)
    else:
        g, d = nets
    fast = FastPath.for_device(cfg.train, device)
    g, d = fast.prepare(g.to(device)), fast.prepare(d.to(device))
    dist.broadcast_parameters(g)
    dist.broadcast_parameters(d)
    objective, penalties = build_objective(cfg.objective)
    batches = BatchStream(
        cfg.train.batch_size, dist.rank, dist.world_size, cfg.seed + 1, device,
        cfg.model.z_dim, cfg.model.z_dist, cfg.model.label_classes,
    )
    torch.manual_seed(cfg.seed + 2 + dist.rank)  # the global RNG drives dropout and instance noise only
    opt_g = make_optimizer(cfg.optim.g, g.parameters(), fast.fused)
    opt_d = make_optimizer(cfg.optim.d, d.parameters(), fast.fused)
    # The objective's constraints act first after a step (WGAN's weight clipping), so the
    # techniques that average D's weights (historical averaging) see the weights D really has.
    return Trainer(
        g=g, d=d, opt_g=opt_g, opt_d=opt_d, objective=objective,
        techniques=TechniqueSet([*penalties, *build_techniques(cfg, g, d, source), *techniques]), source=source, batches=batches,
        dist=dist, schedule=LinearDecay([opt_g, opt_d], cfg.optim.decay_start, cfg.train.steps), fast=fast,
        d_steps=cfg.train.d_steps, simultaneous=cfg.train.updates == "simultaneous",
    )


def check_labels(model: ModelConfig, source: DataSource) -> None:
    """A class-conditional run's data must have a label per image, of `model.conditional.classes` classes."""
    if model.conditional is None:
        return
    labels = getattr(source, "labels", None)
    if labels is None or not len(labels):
        raise UserError("model.conditional needs a data set with labels (mnist, fashion-mnist, digits, cifar10, "
                        "svhn, stacked-mnist); this one has none")
    classes = model.conditional.classes
    outside = labels[(labels < 0) | (labels >= classes)]
    if len(outside):
        raise UserError(f"model.conditional.classes={classes}, but the data set has label {int(outside[0])}: "
                        f"its labels must be 0-{classes - 1} (set model.conditional.classes to its count of classes)")
    counts = torch.bincount(labels).tolist()  # up to the largest label; the classes above it have none
    missing = counts.count(0) + classes - len(counts)
    if missing:
        empty = [c for c, n in enumerate(counts) if n == 0] + list(range(len(counts), min(classes, len(counts) + 5)))
        shown = ", ".join(map(str, empty[:5])) + (f" and {missing - 5} more" if missing > 5 else "")
        raise UserError(f"model.conditional.classes={classes}, but the data set has no image of class {shown}: "
                        "G could not learn to draw it (use more of the data, or fewer classes)")


def build_run_evaluator(cfg: RunConfig, source: DataSource, device: torch.device) -> Evaluator | None:
    """The Evaluator of `log.metrics`, against the run's own data (None when no metrics are asked)."""
    if not cfg.log.metrics:
        return None
    reference = reference_from_data(cfg.data, source)
    return build_evaluator(reference, cfg.log.metrics, cfg.log.features, device,
                           reference_count=cfg.log.metrics_samples)


@torch.no_grad()
def generate(
    g: nn.Module, n: int, model: ModelConfig, seed: int, label: int | None = None, batch: int = 10_000
) -> Tensor:
    """n samples from fixed latent codes (seeded), in eval mode, without touching any run RNG; a
    class-conditional G's all of class `label`, or of every class in turn (`evaluation_labels`)."""
    was_training = g.training
    g.eval()
    z = draw_latent(n, model.z_dim, model.z_dist, torch.Generator().manual_seed(seed))
    z = with_labels(z, evaluation_labels(n, model.label_classes, label), model.label_classes)
    device = next(g.parameters()).device
    out = torch.cat([g(chunk.to(device)).float().cpu() for chunk in z.split(batch)])
    g.train(was_training)
    return out


def check_made_by(ckpt: checkpoint.Checkpoint, cfg: RunConfig, run_dir: Path) -> None:
    """Refuse a checkpoint that another training configuration made (an edited config.yaml): the
    nets built from `cfg` would not be the ones it holds."""
    if ckpt.state.get("fingerprint") not in cfg.fingerprints(ckpt.state.get("config_version", 1)):
        raise UserError(f"checkpoint {ckpt.path} was made with another configuration than {run_dir / 'config.yaml'} "
                        f"(after a run is made only {', '.join(RESUMABLE_CHANGES)} may change)")


def resumed_config(run_dir: Path, overrides: Sequence[str] = ()) -> tuple[RunConfig, list[str]]:
    """(the config a resume of `run_dir` trains with, the dotted keys `overrides` changed): the
    run's config.yaml plus `overrides`, which may change only `RESUMABLE_CHANGES` (the budget,
    the device, logging); one that changes the training math is refused, with the keys named."""
    if not is_run(run_dir):
        raise UserError(f"{run_dir} is not a gankit run folder (no run.json and config.yaml)")
    before = load_run_config(run_dir / "config.yaml")
    cfg = load_run_config(run_dir / "config.yaml", list(overrides))
    changed = _changed_keys(before.to_dict(), cfg.to_dict())
    if cfg.fingerprint() != before.fingerprint():
        raise UserError(f"on --resume only {', '.join(RESUMABLE_CHANGES)} may change; "
                        f"changed: {', '.join(k for k in changed if not resumable(k))}")
    return cfg, changed


def _changed_keys(a: dict, b: dict, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two configs as nested dicts."""
    keys = []
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key), b.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            keys += _changed_keys(left, right, f"{prefix}{key}.")
        elif left != right:
            keys.append(f"{prefix}{key}")
    return keys


def restore(trainer: Trainer, run_dir: Path, cfg: RunConfig) -> None:
    """Load the run's last checkpoint into `trainer`: refused when another config made it or when
    `train.steps` would end the run before the step it resumes from."""
    ckpt = checkpoint.load(run_dir)
    check_made_by(ckpt, cfg, run_dir)
    try:
        trainer.load_state(ckpt.tensors, ckpt.state)
    except KeyError as exc:
        raise UserError(f"checkpoint {ckpt.path} does not fit this run: it has no {exc.args[0]!r}") from None
    except (RuntimeError, ValueError, TypeError) as exc:
        raise UserError(f"checkpoint {ckpt.path} does not fit this run: {first_line(exc)}") from None
    if cfg.train.steps < trainer.step:
        raise UserError(f"train.steps={cfg.train.steps} is below the step {trainer.step} the run resumes from")


def _forget_after(run_dir: Path, step: int) -> None:
    """Drop metric lines logged after the checkpoint we resume from: that stretch is replayed."""
    path = run_dir / "metrics.jsonl"
    if path.exists():
        rows = [r for r in read_metrics(run_dir) if r["step"] <= step]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


# ----------------------------------------------------------------------------------- the loop


def train(
    cfg: RunConfig, run_dir: Path, dist: Distributed, device: torch.device, *,
    resume: bool, preset: str | None = None, overwrite: bool = False,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
) -> str:
    """Train until `cfg.train.steps`; returns a one-line summary. Raises TrainingDiverged.
    `on_eval(step, metrics)` hears every evaluation (a sweep's pruner) and may stop the run by
    raising RunStopped, which is raised on.

    A new run's folder is created (swapped in for the old run with `overwrite`), and a resumed run's
    config and metrics log rewritten, only once the data, nets, techniques, metrics, checkpoint and
    saved curves it names have loaded: a refused run leaves the folder, and the user's earlier
    results in it, untouched."""
    if on_eval is not None and dist.world_size > 1:  # it stops rank 0 alone: the others would wait for it
        raise ValueError("train(on_eval=...) is for one process; a distributed run has no pruner")
    trainer = build_trainer(cfg, dist, device)
    if resume:
        restore(trainer, run_dir, cfg)
    evaluator = build_run_evaluator(cfg, trainer.source, device) if dist.is_main else None
    if not resume:
        dist.barrier()  # every rank has built its run before rank 0 creates the folder
        if dist.is_main:
            create_run_dir(run_dir, cfg, preset, overwrite, trainer.source.shape)
    dist.barrier()
    history = [r for r in read_metrics(run_dir) if r["kind"] == "eval" and r["step"] <= trainer.step]
    probes = build_probes(
        trainer.source, run_dir, cfg.seed, cfg.log.collapse_drop, history,
        to_unit=torch.sigmoid if trainer.objective.outputs_probability else _min_max, resume_step=trainer.step,
        samples=cfg.log.eval_samples, evaluator=evaluator,
        metric_samples=cfg.log.metrics_samples, techniques=trainer.techniques, classes=cfg.model.label_classes,
    ) if dist.is_main else []
    if resume and dist.is_main:
        save_config(cfg, run_dir / "config.yaml")  # new steps or logging settings
        _forget_after(run_dir, trainer.step)
    best = BestCheckpoint(run_dir, cfg.log.best, history)
    log = RunLogger(run_dir, cfg.train.steps, trainer.step, enabled=dist.is_main)
    sums: dict[str, Tensor] = {}
    steps_in_sums = 0

    def evaluate() -> bool:
        """Run the probes; True (on every rank) when the metric of `log.best` improved."""
        if not dist.is_main:
            return dist.main_says(False, device)
        g = trainer.techniques.sampling_generator(trainer.g)
        needed = max((probe.samples for probe in probes), default=0)
        fake = generate(g, needed, cfg.model, cfg.seed + 3)
        trainer.d.eval()
        metrics: dict[str, float] = {}
        for probe in probes:
            result = probe.evaluate(trainer.step, fake, trainer.d)
            metrics.update(result.metrics)
            for kind, message in result.events:
                log.event(trainer.step, kind, message)
            for tag, path in result.images.items():
                log.image(tag, trainer.step, path)
        trainer.d.train()
        if metrics:
            log.eval_scalars(trainer.step, metrics)
        if on_eval is not None:
            on_eval(trainer.step, metrics)
        return dist.main_says(best.offer(trainer.step, metrics), device)

    def flush() -> None:
        """Average the scalars gathered since the last flush (one host sync); stop on NaN/inf."""
        nonlocal sums, steps_in_sums
        if not steps_in_sums:
            return
        keys = sorted(sums)
        means = dist.mean(torch.stack([sums[k] for k in keys]) / steps_in_sums).tolist()
        sums, steps_in_sums = {}, 0
        values = dict(zip(keys, means))
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            last = checkpoint.list_steps(run_dir)
            kept = f"last good checkpoint: step {last[-1]}" if last else "no checkpoint was saved"
            message = f"training diverged: non-finite {', '.join(bad)} by step {trainer.step}; {kept}"
            log.event(trainer.step, "divergence", message)
            raise TrainingDiverged(message)
        log.train_scalars(trainer.step, values)

    def save() -> None:
        tensors, state = trainer.state()  # collective: every rank takes part
        if dist.is_main:
            state.update(fingerprint=cfg.fingerprint(), config_version=CONFIG_VERSION, gankit=gankit.__version__,
                         torch=torch.__version__)
            checkpoint.save(run_dir, trainer.step, tensors, state)
            best.record()
            checkpoint.prune(run_dir, cfg.log.keep_checkpoints, protect=best.protected())

    status = "finished"
    try:
        if trainer.step == 0 and evaluate():
            save()  # the untrained G is the best so far: keep it loadable, as best.json will name it
        while trainer.step < cfg.train.steps:
            stats = trainer.train_step()
            for key, value in stats.items():
                sums[key] = sums[key] + value if key in sums else value.clone()
            steps_in_sums += 1
            step, last = trainer.step, trainer.step == cfg.train.steps
            if step % cfg.log.every == 0 or step % cfg.log.checkpoint_every == 0 or last:
                flush()
            improved = (step % cfg.log.eval_every == 0 or last) and evaluate()
            if step % cfg.log.checkpoint_every == 0 or last or improved:
                save()
    except TrainingDiverged:
        status = "diverged (see Diagnoses)"
        raise
    except RunStopped as exc:
        status = f"stopped at step {trainer.step}: {exc}"
        raise
    except KeyboardInterrupt:
        status = f"interrupted at step {trainer.step}"
        raise
    finally:
        log.close()
        if dist.is_main and (run_dir / "metrics.jsonl").exists():
            write_report(run_dir, status)
    return f"trained to step {trainer.step}; report: {run_dir / 'report.html'}"


def _min_max(values: Tensor) -> Tensor:
    """Critic values mapped onto [0, 1] so they can share Figure 1's axis with densities."""
    return (values - values.min()) / (values.max() - values.min()).clamp_min(1e-12)
