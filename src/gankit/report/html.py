"""The run report: one HTML page built from the run folder alone (metrics.jsonl, pictures, config).

Because it reads only files, `write_report` can be called again on any run folder, and a crashed
or diverged run still gets a report of what happened.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import yaml

from gankit.files import atomic_write_text
from gankit.report import class_columns, plots, spread_evenly

SAMPLE_PANELS = 6


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # a line cut short by a killed process
            continue
        if isinstance(row, dict) and isinstance(row.get("kind"), str) and isinstance(row.get("step"), int):
            rows.append(row)  # anything else is not a line gankit wrote: skipped like a cut one
    return rows


def write_report(run_dir: Path, status: str) -> Path:
    run_dir = Path(run_dir)
    rows = read_metrics(run_dir)
    train = [r for r in rows if r["kind"] == "train"]
    evals = [r for r in rows if r["kind"] == "eval"]
    events = [r for r in rows if r["kind"] == "event"]
    if train:
        plots.curves(run_dir / "curves.png", train, evals, events)
    try:  # the heading's preset and description only: a damaged run.json must not fail a finished run
        info = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        info = {}
    info = info if isinstance(info, dict) else {}
    config = (run_dir / "config.yaml").read_text()

    parts = [
        f"<h1>gankit run: {html.escape(info.get('preset') or run_dir.name)}</h1>",
        f"<p>{html.escape(info.get('description', ''))}</p>",
        f"<p><b>Status:</b> {html.escape(status)}</p>",
    ]
    if events:
        items = "".join(f"<li>{html.escape(e['message'])}</li>" for e in events)
        parts.append(f"<h2>Diagnoses</h2><ul class='warn'>{items}</ul>")
    if evals:
        parts.append("<h2>Metrics at each evaluation</h2>" + _table(evals))
    if train:
        parts.append("<h2>Training curves</h2><img src='curves.png' alt='training curves'>")
    if (run_dir / "figure1.png").exists():
        parts.append(
            "<h2>Figure 1 of Goodfellow et al. (2014), from this run</h2>"
            "<img src='figure1.png' alt='p_data, p_g, D and D* along x'>"
        )
    pictures = sorted((run_dir / "samples").glob("step-*.png")) if (run_dir / "samples").is_dir() else []
    if pictures:
        shown = spread_evenly(pictures, SAMPLE_PANELS)
        images = "".join(f"<figure><img src='samples/{p.name}' alt='{p.stem}'><figcaption>{p.stem}</figcaption></figure>"
                         for p in shown)
        parts.append(f"<h2>Samples from fixed latent codes, over training</h2>{_class_note(config)}"
                     f"<div class='row'>{images}</div>")
    if (run_dir / "samples" / "real.png").exists():
        parts.append("<h2>Real images, for comparison</h2><div class='row'><figure>"
                     "<img src='samples/real.png' alt='real images'></figure></div>")
    parts.append(f"<h2>Configuration</h2><pre>{html.escape(config)}</pre>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>gankit report</title><style>"
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto}img{max-width:100%}"
        ".row{display:flex;flex-wrap:wrap}.row figure{width:32%;margin:0.3%}"
        "figcaption{text-align:center;font-size:small}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}.warn{color:#b00}"
        "</style></head><body>" + "\n".join(parts) + "</body></html>"
    )
    path = run_dir / "report.html"
    atomic_write_text(path, page)
    return path


def _class_note(config: str) -> str:
    """For a class-conditional run whose grids have a column per class, a line that says so. The
    report is written whatever became of the run, so a config.yaml it cannot read gives no line."""
    try:
        classes = yaml.safe_load(config)["model"]["conditional"]["classes"]
    except Exception:  # a damaged or hand-edited file, of any shape: the note is only a caption
        return ""
    columns = class_columns(classes) if isinstance(classes, int) and not isinstance(classes, bool) else None
    if columns is None:
        return ""
    return f"<p>Class-conditional: column k shows class k (0 to {columns - 1}), here and in the real images.</p>"


def _table(rows: list[dict[str, Any]]) -> str:
    keys = [k for k in rows[-1] if k not in ("kind",)]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(row.get(k))}</td>" for k in keys) + "</tr>"
        for row in spread_evenly(rows, 12)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))
