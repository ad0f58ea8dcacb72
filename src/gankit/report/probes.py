"""Probes: what is measured and drawn at each evaluation of a run.

A probe looks at a batch of generated samples (always from the same fixed latent codes, so
pictures are comparable across steps) and at D, and returns metrics, diagnoses and pictures. The
run loop calls every probe the same way; which probes a run gets depends only on its data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import torch
from torch import Tensor, nn

from gankit.data import DataSource, GaussianMixture, ImageSource
from gankit.errors import UserError
from gankit.files import atomic_write_text
from gankit.metrics.evaluator import Evaluator
from gankit.metrics.modes import mode_coverage
from gankit.nets.latent import evaluation_labels
from gankit.report import class_columns, plots, spread_evenly
from gankit.techniques.base import TechniqueSet


@dataclass
class ProbeResult:
    metrics: dict[str, float] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)
    images: dict[str, Path] = field(default_factory=dict)  # TensorBoard tag -> PNG


class Probe(Protocol):
    samples: int  # how many of the fixed-z samples it looks at (the first ones)

    def evaluate(self, step: int, fake: Tensor, d: nn.Module) -> ProbeResult: ...


class CollapseAlarm:
    """Flags mode collapse: the modes (or classes) covered falling below `drop` × the best count
    seen so far in the run, from the run's earlier evaluations on. Once per fall: again only
    after the count has recovered."""

    def __init__(self, drop: float, history: list[dict]) -> None:
        self.drop = drop
        self.best = max((row.get("modes", 0.0) for row in history), default=0.0)
        self.collapsed = bool(history) and history[-1].get("modes", 0.0) < drop * self.best

    def check(self, step: int, modes: float, total: int) -> list[tuple[str, str]]:
        """The events of an evaluation that found `modes` of `total` modes captured."""
        falling = self.best >= 2 and modes < self.drop * self.best
        events = []
        if falling and not self.collapsed:
            events.append(("collapse", f"mode collapse at step {step}: modes captured fell from "
                                        f"{self.best:.0f} to {modes:.0f} of {total}"))
        self.collapsed = falling
        self.best = max(self.best, float(modes))
        return events


class ModeProbe:
    """Modes captured, % high quality and KL (see `gankit.metrics.modes`), and collapse alerts."""

    def __init__(self, mixture: GaussianMixture, drop: float, history: list[dict], samples: int) -> None:
        self.mixture = mixture
        self.samples = samples
        self.alarm = CollapseAlarm(drop, history)

    def evaluate(self, step: int, fake: Tensor, d: nn.Module) -> ProbeResult:
        coverage = mode_coverage(fake, self.mixture.centres, self.mixture.std)
        events = self.alarm.check(step, coverage.modes_captured, coverage.modes_total)
        return ProbeResult(metrics=coverage.as_metrics(), events=events)


class ScatterProbe:
    """A scatter plot of generated points over real ones, saved as `samples/step-NNNNNNNN.png`."""

    def __init__(self, source: DataSource, folder: Path, seed: int, samples: int, n_real: int = 2500) -> None:
        self.samples = samples
        self.folder = folder
        self.real = source.sample(n_real, torch.Generator().manual_seed(seed)).numpy()
        self.centres = source.centres.numpy() if isinstance(source, GaussianMixture) else None

    def evaluate(self, step: int, fake: Tensor, d: nn.Module) -> ProbeResult:
        path = self.folder / f"step-{step:08d}.png"
        plots.scatter(path, fake.cpu().numpy(), self.real, self.centres, f"step {step}")
        return ProbeResult(images={"samples": path})


class Figure1Probe:
    """The GAN paper's Figure 1, drawn from this run: p_data, p_g, D(x) and D* along x.

    p_g is a Gaussian kernel density estimate of the generated samples (Scott's bandwidth). D* =
    p_data / (p_data + p_g) is the optimal discriminator for the current G (Proposition 1 of the
    paper). Snapshots accumulate in `figure1.json` so that a resumed run keeps the early ones.
    """

    panels = 4

    def __init__(self, target: GaussianMixture, run_dir: Path, to_unit: Callable[[Tensor], Tensor],
                 resume_step: int, samples: int) -> None:
        self.samples = samples
        self.target = target
        self.to_unit = to_unit
        self.json_path = run_dir / "figure1.json"
        self.png_path = run_dir / "figure1.png"
        try:
            old = json.loads(self.json_path.read_text()) if self.json_path.exists() else []
            self.snapshots = [s for s in old if s["step"] <= resume_step]
        except (ValueError, TypeError, KeyError):
            raise UserError(f"{self.json_path} is corrupt (not the snapshots gankit saved)") from None

    @torch.no_grad()
    def evaluate(self, step: int, fake: Tensor, d: nn.Module) -> ProbeResult:
        fake = fake.float().cpu().flatten()
        centre, std = float(self.target.centres[0, 0]), self.target.std
        lo = min(centre - 4 * std, float(fake.quantile(0.01)) - std)
        hi = max(centre + 4 * std, float(fake.quantile(0.99)) + std)
        x = torch.linspace(lo, hi, 200)
        p_data = self.target.density(x[:, None])
        bandwidth = max(1.06 * float(fake.std()) * len(fake) ** -0.2, 1e-3)
        kernel = torch.exp(-0.5 * ((x[:, None] - fake[None, :]) / bandwidth) ** 2)
        p_g = kernel.mean(dim=1) / (bandwidth * math.sqrt(2 * math.pi))
        device = next(d.parameters()).device
        d_x = self.to_unit(d(x[:, None].to(device)).float().cpu())
        self.snapshots.append({
            "step": step,
            "x": x.tolist(),
            "p_data": p_data.tolist(),
            "p_g": p_g.tolist(),
            "d": d_x.tolist(),
            "d_star": (p_data / (p_data + p_g).clamp_min(1e-12)).tolist(),
        })
        atomic_write_text(self.json_path, json.dumps(self.snapshots))
        plots.figure1(self.png_path, spread_evenly(self.snapshots, self.panels))
        return ProbeResult(images={"figure1": self.png_path})


class SampleGridProbe:
    """A grid of images from the same 64 latent codes at every evaluation (`samples/step-N.png`),
    and once, for comparison, a grid of real images (`samples/real.png`).

    A class-conditional G's grid has a column per class, `rows` samples of each (sample i is of
    class i mod K, see `evaluation_labels`), and the real grid beside it the same columns of real
    images: whether G draws each class, and each class varied, shows at a glance. With more
    classes than fit a row (`class_columns`; Stacked MNIST's 1,000) the grid is the plain one."""

    rows = 8

    def __init__(self, source: ImageSource, folder: Path, seed: int, classes: int = 0) -> None:
        self.source = source
        self.folder = folder
        self.columns = class_columns(classes) or 8
        self.samples = self.rows * self.columns
        real = folder / "real.png"
        if not real.exists():
            generator = torch.Generator().manual_seed(seed)
            if self.columns == classes:
                images = self._by_class(source, classes, generator)
            else:
                images = source.sample(self.samples, generator)
            plots.image_grid(real, source.to_uint8(images).cpu().numpy(), columns=self.columns)

    def _by_class(self, source: ImageSource, classes: int, generator: torch.Generator) -> Tensor:
        """`rows` real images of each class, in the order of G's grid (image i of class i mod K)."""
        picks = [torch.nonzero(source.labels == c).flatten() for c in range(classes)]
        picks = [p[torch.randint(len(p), (self.rows,), generator=generator)] for p in picks]
        index = torch.stack(picks, dim=1).flatten()  # row-major: row r holds the r-th image of each class
        return source.images_at(index)

    def evaluate(self, step: int, fake: Tensor, d: nn.Module) -> ProbeResult:
        path = self.folder / f"step-{step:08d}.png"
        plots.image_grid(path, self.source.to_uint8(fake[: self.samples]).numpy(), columns=self.columns)
        return ProbeResult(images={"samples": path})


class MetricsProbe:
    """The image metrics of `log.metrics` (FID, KID, ... via the Evaluator) on the first
    `samples` generated images, logged like every other evaluation metric; with `modes`, collapse
    alerts as on the toy mixtures. A class-conditional G's samples are of every class in turn
    (`evaluation_labels`), which `label_accuracy` checks them against."""

    def __init__(
        self, evaluator: Evaluator, source: ImageSource, samples: int, alarm: CollapseAlarm, classes: int = 0
    ) -> None:
        self.evaluator = evaluator
        self.source = source
        self.samples = samples
        self.alarm = alarm
        self.labels = evaluation_labels(samples, classes)

    def evaluate(self, step: int, fake: Tensor, d: nn.Module) -> ProbeResult:
        result = ProbeResult(metrics=self.evaluator(self.source.to_uint8(fake[: self.samples]), self.labels))
        if "modes" in result.metrics:
            result.events = self.alarm.check(step, result.metrics["modes"], self.evaluator.modes_total)
        return result


class TechniqueProbe:
    """What the run's techniques report at an evaluation: the semi-supervised D's test error
    (`test_error`, a share of the test set, and `test_error_average` of its weight average)."""

    samples = 0

    def __init__(self, techniques: TechniqueSet) -> None:
        self.techniques = techniques

    def evaluate(self, step: int, fake: Tensor, d: nn.Module) -> ProbeResult:
        return ProbeResult(metrics=self.techniques.eval_metrics(d))


def build_probes(
    source: DataSource,
    run_dir: Path,
    seed: int,
    collapse_drop: float,
    history: list[dict],
    to_unit: Callable[[Tensor], Tensor],
    resume_step: int,
    samples: int,
    evaluator: Evaluator | None = None,
    metric_samples: int = 0,
    techniques: TechniqueSet | None = None,
    classes: int = 0,
) -> list[Probe]:
    """The probes that make sense for this data: modes for mixtures, pictures by kind of data,
    the configured image metrics and what the techniques report. `samples` is how many generated
    points the point-cloud probes judge, `metric_samples` how many images the metrics do; `classes`
    K > 0, a class-conditional G's (whose grid has a column per class)."""
    probes: list[Probe] = [TechniqueProbe(techniques)] if techniques is not None else []
    folder = run_dir / "samples"
    folder.mkdir(exist_ok=True)
    if isinstance(source, ImageSource):
        probes.append(SampleGridProbe(source, folder, seed, classes))
        if evaluator is not None:
            alarm = CollapseAlarm(collapse_drop, history)
            probes.append(MetricsProbe(evaluator, source, metric_samples, alarm, classes))
    if isinstance(source, GaussianMixture) and len(source.centres) > 1:
        probes.append(ModeProbe(source, collapse_drop, history, samples))
    if source.shape == (2,):
        probes.append(ScatterProbe(source, folder, seed, samples))
    if source.shape == (1,) and isinstance(source, GaussianMixture):
        probes.append(Figure1Probe(source, run_dir, to_unit, resume_step, samples))
    return probes
