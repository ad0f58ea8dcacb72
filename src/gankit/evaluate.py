"""`gankit eval`: the metrics of a run's generator, or of a folder of images, against a data set.

The generated images are a run's samples (its latest checkpoint, the EMA generator when it kept
one, from seeded latent codes) or the images of a folder, resized to the reference's size. The
reference is the run's own training data unless `--against` names another data set. Results are
printed as a table and written as JSON; for a run, to `RUN/evals/step-NNNNNNNN-<space>.json`,
merged with what an earlier evaluation of the same checkpoint with the same settings (reference,
feature space, image counts, seed) wrote there, so nothing is lost; one with other settings is
refused, as their numbers cannot be compared.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.config import DataConfig, apply_overrides, build_data_config, data_models
from gankit.data.images import (
    REPLACE_ADVICE,
    TRAINING_ADVICE,
    ImageSource,
    folder_shape,
    in_random_order,
    load_folder,
)
from gankit.errors import UserError
from gankit.files import atomic_write_text
from gankit.metrics.evaluator import build_evaluator
from gankit.metrics.inception_score import SPLITS as IS_SPLITS
from gankit.metrics.neighbours import neighbour_rows
from gankit.metrics.reference import reference_from_data
from gankit.metrics.registry import default_metrics, spreads
from gankit.nets.latent import evaluation_labels
from gankit.report import plots
from gankit.run import is_run, pick_device
from gankit.sample import RunGenerator, load_run_generator


@dataclass
class EvalRequest:
    source: Path
    against: str | None = None
    data_overrides: list[str] = field(default_factory=list)
    metrics: list[str] | None = None
    space: str = "auto"
    n: int = 10_000
    reference_n: int | None = 10_000
    step: int | None = None
    seed: int = 0
    inception_weights: Path | None = None
    out: Path | None = None
    neighbours: Path | None = None
    overwrite: bool = False  # of the neighbours PNG
    device: str = "auto"
    cache: Path | None = None


def _check_labelled(req: EvalRequest, run: RunGenerator | None, data_cfg: DataConfig) -> None:
    """Metric `label_accuracy` needs a class-conditional run, judged by its own data's classifier."""
    if run is None or not run.cfg.model.label_classes:
        raise UserError(f"metric 'label_accuracy' checks a class-conditional run's samples against the classes they "
                        f"were drawn for; {req.source} is not such a run")
    if data_cfg.name != run.cfg.data.name:
        raise UserError(f"metric 'label_accuracy' judges the run's classes by {run.cfg.data.name}'s classifier; "
                        f"--against {req.against} would judge them by {data_cfg.name}'s (leave --against out)")


def run_eval(req: EvalRequest) -> dict[str, Any]:
    """Evaluate as `req` asks; returns the JSON record (also written to its file)."""
    if req.n < 2:
        raise UserError(f"-n must be at least 2 generated images, got {req.n}")
    if req.reference_n is not None and req.reference_n < 2:
        raise UserError(f"--reference-n must be at least 2 reference images, got {req.reference_n}")
    if req.neighbours is not None:
        _check_picture_path(req.neighbours, req.overwrite)
    device = pick_device(req.device)
    run = load_run_generator(req.source, req.step, with_data=req.against is None) if is_run(req.source) else None
    if run is None and not req.source.is_dir():
        raise UserError(f"{req.source} is neither a gankit run folder nor a folder of images")
    if run is None and req.against is None:
        raise UserError(f"evaluating the images in {req.source} needs --against DATA_OR_FOLDER "
                        "(e.g. --against mnist, or --against FOLDER of reference images)")
    if run is not None and not isinstance(run.source, ImageSource):
        raise UserError(f"{req.source} trained on {run.cfg.data.name}, which is not images; image metrics need images")

    data_cfg = run.cfg.data if req.against is None else against_config(req.against, req.data_overrides, run)
    if "label_accuracy" in (req.metrics or []):  # before any image is drawn or loaded
        _check_labelled(req, run, data_cfg)
    reference = reference_from_data(data_cfg, run.source if run is not None and req.against is None else None)

    labels = None  # the class of each image, for a class-conditional run's (`evaluation_labels`)
    if run is not None:
        fake = run.source.to_uint8(run.generate(req.n, req.seed))
        labels = evaluation_labels(req.n, run.cfg.model.label_classes)
    else:
        channels, resolution = reference.images.shape[1], reference.images.shape[-1]
        images = load_folder(req.source, resolution, channels, skip_corrupt=False, advice=REPLACE_ADVICE)
        fake = in_random_order(images, req.seed)[: req.n]

    metrics = req.metrics or (["modes"] if reference.stacked else list(default_metrics()))
    if "is" in metrics and len(fake) < IS_SPLITS:
        more = "raise -n" if run is not None or len(images) > len(fake) else f"the folder holds only {len(images)}"
        raise UserError(f"the Inception Score (metric is) averages over {IS_SPLITS} splits of the generated images "
                        f"and needs at least {IS_SPLITS}, got {len(fake)} ({more})")
    evaluator = build_evaluator(reference, metrics, req.space, device, req.inception_weights, req.cache,
                                req.reference_n, with_features=req.neighbours is not None)

    out = req.out
    if out is None and run is not None:
        out = req.source / "evals" / f"step-{run.step:08d}-{evaluator.feature_space or 'pixels'}.json"
    settings = {  # what the numbers depend on besides the images: only evaluations alike are merged
        "against": reference.name,
        "feature_space": evaluator.feature_space,
        "generated": len(fake),
        "reference": len(reference.images[: req.reference_n]),
        "seed": req.seed,
    }
    earlier = _earlier_evaluation(out, settings) if out is not None else {}

    started = time.perf_counter()
    values = evaluator(fake, labels)
    if req.neighbours is not None:  # searched among the same reference images the metrics used
        pool = reference.images[: req.reference_n]
        rows, figures = neighbour_rows(fake[:8], pool, 4, evaluator.features, evaluator.real_features())
        plots.image_grid(req.neighbours, rows.flatten(0, 1).cpu().numpy(), columns=rows.shape[1])
        values.update(figures)
    record = {
        "source": str(req.source),
        "step": run.step if run is not None else None,
        **settings,
        "modes_scored_by": evaluator.classifier.name if evaluator.classifier is not None else None,
        "seconds": round(time.perf_counter() - started, 2),
        "metrics": values,
    }
    if out is not None:
        merged = {**earlier, **record, "metrics": {**earlier.get("metrics", {}), **record["metrics"]}}
        if record["modes_scored_by"] is None:  # the earlier `modes`, if any, keep naming their classifier
            merged["modes_scored_by"] = earlier.get("modes_scored_by")
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps(merged, indent=2) + "\n")
        record["written"] = str(out)
    return record


def against_config(against: str, overrides: list[str], run: RunGenerator | None) -> DataConfig:
    """The reference data `--against` names: a data set's name, or a folder of images (a path, as
    pytorch-fid takes two; a folder named like a data set is `./NAME`), refined by `--set data.*`.
    The reference is served at the run's size and channels when a run is measured; for a folder of
    images measured against a folder, at the reference images' own size (refusing mixed sizes) and
    channels, unless `--set data.resolution` / `data.channels` says otherwise."""
    known = data_models()
    if against in known:
        raw: dict[str, Any] = {"name": against}
    elif any(sep in against for sep in ("/", os.sep)) or Path(against).is_dir():
        if not Path(against).is_dir():
            raise UserError(f"--against {against} is neither a data set ({', '.join(known)}) nor a folder of images")
        raw = {"name": "folder", "path": against}
    else:
        raw = {"name": against}  # validation names the data sets it could be
    if raw["name"] in known and "resolution" not in known[raw["name"]].model_fields:
        raise UserError(f"--against {against} is not an image set; image metrics need images")
    if run is not None:
        raw["resolution"] = run.source.shape[-1]
        if raw["name"] == "folder":
            raw["channels"] = run.source.shape[0]
    raw = apply_overrides({"data": raw}, overrides)["data"]
    if raw.get("name") == "folder" and isinstance(raw.get("path"), str) and not {"resolution", "channels"} <= raw.keys():
        channels, sides = folder_shape(Path(raw["path"]), raw.get("skip_corrupt") is True, TRAINING_ADVICE)
        if "resolution" not in raw and len(sides) > 1:
            (a, first), (b, other) = list(sides.items())[:2]
            raise UserError(f"the images under {raw['path']} have different sizes (short side {a} in {first.name}, "
                            f"{b} in {other.name}); give the size to serve them at with --set data.resolution=N")
        raw.setdefault("resolution", next(iter(sides)))
        raw.setdefault("channels", channels)
    return build_data_config(raw)


def _earlier_evaluation(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """The evaluation already at `path`, whose metrics this one keeps where it does not redo them;
    checked before anything is computed or written, so a refused --out costs nothing. One made
    with other settings is refused rather than mixed into numbers it cannot be compared with."""
    if not path.exists():
        return {}
    try:
        earlier = json.loads(path.read_text())
        if not isinstance(earlier, dict) or not isinstance(earlier.get("metrics"), dict):
            raise ValueError("not an evaluation record")
    except (OSError, UnicodeDecodeError, ValueError):  # json.JSONDecodeError is a ValueError
        raise UserError(f"{path} exists and is not a gankit evaluation (remove it or pass another --out)") from None
    if earlier.get("step") is not None:  # a run's record from before the seed was recorded: the default, 0
        earlier.setdefault("seed", 0)
    differ = [f"{key} {earlier.get(key)} there, {value} now" for key, value in settings.items() if earlier.get(key) != value]
    if differ:
        raise UserError(f"{path} holds an evaluation made with other settings ({'; '.join(differ)}); pass another --out")
    return earlier


def _check_picture_path(path: Path, overwrite: bool) -> None:
    """Refused before anything is computed: a folder, or a file the user has not let us replace."""
    if path.is_dir():
        raise UserError(f"--neighbours {path} is a folder; name a PNG file")
    if path.exists() and not overwrite:
        raise UserError(f"--neighbours {path} already exists (pass --overwrite to replace it)")


def format_table(record: dict[str, Any]) -> str:
    """The record as a small text table: one metric per line, ± its spread where it has one."""
    values = record["metrics"]
    lines = [
        f"{record['generated']} generated vs {record['reference']} reference images ({record['against']}); "
        f"feature space: {record['feature_space'] or 'none (pixels)'}"
        + (f"; modes scored by the {record['modes_scored_by']}" if record["modes_scored_by"] else ""),
    ]
    spread_of = spreads()
    for name, value in values.items():
        if name in spread_of.values():
            continue
        spread = values.get(spread_of.get(name, ""))
        shown = f"{value:.6g}" + (f" ± {spread:.3g}" if spread is not None else "")
        lines.append(f"  {name:14s} {shown}")
    if "written" in record:
        lines.append(f"written to {record['written']}")
    return "\n".join(lines)
