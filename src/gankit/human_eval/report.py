"""`gankit human-eval report STUDY_DIR`: the study's numbers, printed, and written as
STUDY/report.json and a self-contained STUDY/report.html (plots and thumbnails embedded), so the
page can be mailed or attached as it is.

What it reports, from the answers of judges who passed the attention checks:
  - HYPE-∞ error rates (Zhou et al. 2019): fakes judged real, reals judged fake, and overall (a
    source's fakes with the real images interleaved with them), each with a 95% bootstrap interval
    over judges and images. In a time-limited study these are error rates at the exposures shown,
    not HYPE-∞, and are labelled so.
  - HYPE-time (hype-time studies): the mean over judges of each judge's modal exposure (Zhou et al.
    2019: "the modal exposure measures their perceptual threshold"), from judges who finished that
    staircase, with a 95% bootstrap interval over judges, as in the paper (a staircase's images are
    not exchangeable, so images are not resampled there).
  - With two fake sources: A − B for the fake-judged-real rate (and the threshold), its interval,
    a bootstrap p-value, and whether it is significant (the interval excludes 0).
  - Per judge: accuracy, attention checks, reaction and timing; agreement between judges
    (Krippendorff's alpha); the fake images most often judged real; how closely the measured
    on-screen time followed the requested one.
A careless judge (fewer than ATTENTION_PASS of the attention checks right) is listed but left out.
"""

from __future__ import annotations

import base64
import html
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import UserError
from gankit.files import atomic_write_text
from gankit.human_eval import stats
from gankit.human_eval.store import Answer, Store
from gankit.human_eval.study import Study, load_study

ATTENTION_PASS = 0.75  # the share of attention checks a judge must get right to be counted
TOP_IMAGES = 8
DEFAULT_BOOTSTRAP = 10_000  # replicates, as in Zhou et al. (2019)

MAX_BOOTSTRAP = 100_000  # each replicate resamples every answer: more would only exhaust memory


def write_report(study_dir: Path, boots: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Analyse the study in `study_dir` and write report.json and report.html there."""
    study = load_study(Path(study_dir))
    if not study.database.is_file():
        raise UserError(f"{study_dir} has no answers yet (no {study.database.name}); serve it to judges first")
    if not 100 <= boots <= MAX_BOOTSTRAP:
        raise UserError(f"--bootstrap takes 100 to {MAX_BOOTSTRAP:,} replicates, got {boots}")
    store = Store(study.database, study.id)
    try:
        answers = store.answers()
        judges = store.judges()
    except sqlite3.DatabaseError as exc:  # a page or a column damaged after it opened
        raise UserError(f"{study.database} is damaged ({exc}); the earlier report, if any, is kept") from None
    finally:
        store.close()
    if not answers:
        raise UserError(f"{study_dir} has no answers yet; serve it to judges first")
    report = analyse(study, judges, answers, boots, seed)
    atomic_write_text(study.path / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(study.path / "report.html", _html(study, report, answers))
    report["written"] = [str(study.path / "report.json"), str(study.path / "report.html")]
    return report


def analyse(study: Study, judge_ids: list[str], answers: list[Answer], boots: int, seed: int) -> dict[str, Any]:
    """Every number of the report, as a JSON-able dict."""
    rng = np.random.default_rng(seed)
    per_judge = [_judge_summary(study, j, [a for a in answers if a.judge == j]) for j in judge_ids]
    counted = {s["judge"] for s in per_judge if not s["careless"] and s["answered"] > 0}
    scored = [a for a in answers if a.kind == "trial" and a.judge in counted]
    report: dict[str, Any] = {
        "study": str(study.path),
        "protocol": study.protocol.to_dict(),
        "real": study.real.label,
        "fakes": [{"label": label, "step": step} for label, step in zip(study.labels, study.steps)],
        "judges": {"total": len(judge_ids), "counted": len(counted),
                   "careless": sorted(s["judge"] for s in per_judge if s["careless"])},
        "answers": {"total": len(answers), "scored_counted": len(scored)},
        "confidence": stats.CONFIDENCE,
        "bootstrap": boots,
        "per_judge": per_judge,
    }
    if not scored:
        return report
    judge_order = sorted(counted)

    def table(rows: list[Answer]) -> stats.AnswerTable:
        return stats.AnswerTable.build([a.judge for a in rows], [a.image for a in rows], [not a.correct for a in rows],
                                       [a.truth for a in rows], judge_order)

    reals = [a for a in scored if a.truth == "real"]
    rates: dict[str, Any] = {"real_judged_fake": stats.error_rate(table(reals), boots, rng).to_dict() if reals else None,
                             "by_source": {}}
    fake_tables = []
    for track, label in enumerate(study.labels):
        fakes = [a for a in scored if a.truth == "fake" and a.track == track]
        mixed = [a for a in scored if a.track == track]
        fake_tables.append(table(fakes) if fakes else None)
        rates["by_source"][label] = {
            "fake_judged_real": stats.error_rate(fake_tables[-1], boots, rng).to_dict() if fakes else None,
            "overall": stats.error_rate(table(mixed), boots, rng).to_dict() if mixed else None,
            "answers": len(mixed),
        }
    report["error_rates"] = rates
    if len(study.labels) == 2 and all(t is not None for t in fake_tables):
        report["comparison"] = {"fake_judged_real": stats.compare_rates(*fake_tables, boots, rng).to_dict()}

    if study.protocol.name == "hype-time":
        report["hype_time"] = _thresholds(study, scored, boots, rng)
        paired = report["hype_time"].pop("paired")
        if len(study.labels) == 2 and paired:
            a, b = zip(*paired)
            report.setdefault("comparison", {})["threshold_ms"] = stats.compare_means(a, b, boots, rng).to_dict()

    agreement = stats.agreement([a.image for a in scored], [a.answer == "real" for a in scored])
    report["agreement"] = agreement.to_dict() if agreement else None
    report["most_judged_real"] = _most_judged_real(study, scored)
    if study.protocol.timed:
        report["timing"] = _timing([a for a in answers if a.judge in counted])
    return report


def _judge_summary(study: Study, judge: str, answers: list[Answer]) -> dict[str, Any]:
    trials = [a for a in answers if a.kind == "trial"]
    checks = [a for a in answers if a.kind == "attention"]
    passed = sum(a.correct for a in checks)
    return {
        "judge": judge,
        "answered": len(trials),
        "of": study.trials,
        "accuracy": float(np.mean([a.correct for a in trials])) if trials else None,
        "attention": f"{passed}/{len(checks)}",
        "careless": bool(checks) and passed / len(checks) < ATTENTION_PASS,
        "median_reaction_ms": float(np.median([a.reaction_ms for a in trials])) if trials else None,
    }


def _thresholds(study: Study, scored: list[Answer], boots: int, rng: np.random.Generator) -> dict[str, Any]:
    """Each judge's modal exposure per fake source, once their staircase for it is complete: a
    staircase cut short is still descending from 500 ms, and its mode would say so."""
    length = study.trials // len(study.labels)  # scored images on each track (make_plan)
    by_source: dict[str, Any] = {}
    per_judge: dict[str, list[float | None]] = {}
    for track, label in enumerate(study.labels):
        values = {}
        for judge in sorted({a.judge for a in scored}):
            exposures = [a.requested_ms for a in scored if a.judge == judge and a.track == track]
            if len(exposures) == length:
                values[judge] = stats.modal_exposure(exposures)
        for judge, value in values.items():
            per_judge.setdefault(judge, [None] * len(study.labels))[track] = value
        by_source[label] = {
            "threshold_ms": stats.mean_over_judges(list(values.values()), boots, rng).to_dict() if values else None,
            "judges": len(values),
        }
    paired = [v for v in per_judge.values() if None not in v]
    return {"by_source": by_source, "per_judge": per_judge, "paired": paired}


def _most_judged_real(study: Study, scored: list[Answer]) -> list[dict[str, Any]]:
    counts: dict[str, list[int]] = {}
    for a in scored:
        if a.truth == "fake":
            counts.setdefault(a.image, [0, 0])
            counts[a.image][0] += a.answer == "real"
            counts[a.image][1] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1][0] / kv[1][1], -kv[1][1], kv[0]))
    return [{"image": image, "source": study.images[image].source, "judged_real": real, "answers": n}
            for image, (real, n) in ranked[:TOP_IMAGES]]


def _timing(answers: list[Answer]) -> dict[str, Any] | None:
    """How far the measured on-screen time was from the requested one (ms, measured − requested)."""
    gaps = np.array([a.measured_ms - a.requested_ms for a in answers
                     if a.measured_ms is not None and a.requested_ms is not None])
    if len(gaps) == 0:
        return None
    p5, median, p95 = np.percentile(gaps, [5, 50, 95])
    return {"answers": len(gaps), "median_gap_ms": float(median), "p5_gap_ms": float(p5), "p95_gap_ms": float(p95),
            "within_one_frame": float(np.mean(np.abs(gaps) <= 17.0))}


# ---------------------------------------------------------------------------------- text


def _pct(interval: dict | None) -> str:
    if interval is None:
        return "n/a"
    return f"{100 * interval['value']:5.1f}%  [{100 * interval['low']:.1f}, {100 * interval['high']:.1f}]"


def format_summary(report: dict[str, Any]) -> str:
    """The report as a few lines of text."""
    protocol = report["protocol"]["name"] + (f" at {report['protocol']['exposure_ms']} ms"
                                             if report["protocol"]["exposure_ms"] else "")
    j = report["judges"]
    lines = [f"{report['study']}: {protocol}; {j['total']} judges, {len(j['careless'])} careless (left out); "
             f"{report['answers']['total']} answers"]
    if "error_rates" not in report:
        lines.append("no scored answers yet from a judge who passed the attention checks")
    else:
        name = "HYPE-∞ error rates" if report["protocol"]["name"] == "hype-inf" else "error rates at the exposures shown"
        lines.append(f"{name} ({100 * report['confidence']:.0f}% interval over judges and images):")
        rates = report["error_rates"]
        for label, rate in rates["by_source"].items():
            lines.append(f"  {label}: fake judged real  {_pct(rate['fake_judged_real'])}")
            lines.append(f"  {label}: overall           {_pct(rate['overall'])}")
        lines.append(f"  real judged fake        {_pct(rates['real_judged_fake'])}")
    for label, value in report.get("hype_time", {}).get("by_source", {}).items():
        t = value["threshold_ms"]
        shown = f"{t['value']:.0f} ms  [{t['low']:.0f}, {t['high']:.0f}]" if t else "n/a (no finished staircase yet)"
        lines.append(f"HYPE-time (mean modal exposure), {label}: {shown} over {value['judges']} judges")
    for what, comparison in report.get("comparison", {}).items():
        d = comparison["difference"]
        scale, unit = (100, " points") if what == "fake_judged_real" else (1, " ms")
        a, b = (f["label"] for f in report["fakes"])
        lines.append(f"{a} − {b}, {what.replace('_', ' ')}: {scale * d['value']:+.1f}{unit} "
                     f"[{scale * d['low']:+.1f}, {scale * d['high']:+.1f}], p = {comparison['p_value']:.3f}: "
                     + ("significant" if comparison["significant"] else "not significant"))
    if report.get("agreement"):
        a = report["agreement"]
        alpha = "n/a" if a["krippendorff_alpha"] is None else f"{a['krippendorff_alpha']:.2f}"
        lines.append(f"agreement between judges: Krippendorff's alpha {alpha}, "
                     f"pairwise {100 * a['pairwise_agreement']:.0f}% over {a['images']} images")
    if report.get("timing"):
        t = report["timing"]
        lines.append(f"measured − requested exposure: median {t['median_gap_ms']:+.1f} ms "
                     f"(5-95%: {t['p5_gap_ms']:+.1f} to {t['p95_gap_ms']:+.1f}); "
                     f"{100 * t['within_one_frame']:.0f}% within one 60 Hz frame")
    if "written" in report:
        lines.append("written: " + ", ".join(report["written"]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- html


def _figure_png(fig: Any) -> str:
    from gankit.report.plots import png_bytes

    return base64.b64encode(png_bytes(fig)).decode()


def _plots(study: Study, report: dict[str, Any], answers: list[Answer]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures: dict[str, str] = {}
    rates = report.get("error_rates")
    if rates:
        rows = [(f"{label}: fake judged real", r["fake_judged_real"]) for label, r in rates["by_source"].items()]
        rows += [(f"{label}: overall", r["overall"]) for label, r in rates["by_source"].items()]
        rows.append(("real judged fake", rates["real_judged_fake"]))
        rows = [(name, r) for name, r in rows if r is not None]
        fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 0.9))
        y = np.arange(len(rows))[::-1]
        values = np.array([100 * r["value"] for _, r in rows])
        errors = np.array([[100 * (r["value"] - r["low"]), 100 * (r["high"] - r["value"])] for _, r in rows]).T
        ax.barh(y, values, xerr=errors, color="#9bb7d4", ecolor="black", capsize=3)
        ax.set_yticks(y, [name for name, _ in rows], fontsize=8)
        ax.axvline(50, color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(0, 100)
        ax.set_xlabel("error rate, % (95% interval over judges and images)")
        figures["Error rates"] = _figure_png(fig)

    judges = [s for s in report["per_judge"] if s["accuracy"] is not None]
    if judges:
        fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(judges) + 0.9))
        y = np.arange(len(judges))[::-1]
        ax.scatter([100 * s["accuracy"] for s in judges], y, c=["#d1495b" if s["careless"] else "#1d4e89" for s in judges])
        ax.set_yticks(y, [s["judge"] + (" (careless)" if s["careless"] else "") for s in judges], fontsize=8)
        ax.axvline(50, color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(0, 100)
        ax.set_xlabel("accuracy on scored images, % (50% = chance)")
        figures["Accuracy of each judge"] = _figure_png(fig)

    if study.protocol.name == "hype-time":
        counted = sorted(s["judge"] for s in judges if not s["careless"])
        fig, ax = plt.subplots(figsize=(6.5, 3.2))
        for judge in counted:
            for track, label in enumerate(study.labels):
                exposures = [a.requested_ms for a in answers if a.judge == judge and a.kind == "trial" and a.track == track]
                ax.plot(range(1, len(exposures) + 1), exposures, linewidth=1, alpha=0.7,
                        label=f"{judge}" + (f" · {label}" if len(study.labels) > 1 else ""))
        for label, value in report["hype_time"]["by_source"].items():
            if value["threshold_ms"]:
                ax.axhline(value["threshold_ms"]["value"], color="black", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.set_yticks([100, 150, 200, 300, 500, 700, 1000], ["100", "150", "200", "300", "500", "700", "1000"])
        ax.minorticks_off()
        ax.set_xlabel("staircase trial")
        ax.set_ylabel("exposure, ms")
        if 0 < len(counted) * len(study.labels) <= 12:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        figures["HYPE-time staircases (dashed: the mean of the judges' modal exposures)"] = _figure_png(fig)

    if report.get("timing"):
        counted = {s["judge"] for s in report["per_judge"] if not s["careless"]}
        gaps = [a.measured_ms - a.requested_ms for a in answers
                if a.judge in counted and a.measured_ms is not None and a.requested_ms is not None]
        fig, ax = plt.subplots(figsize=(6.5, 2.6))
        ax.hist(gaps, bins=30, color="#9bb7d4", edgecolor="#4a6a8a")
        ax.set_xlabel("measured − requested on-screen time, ms")
        ax.set_ylabel("answers")
        figures["Timing: measured on-screen time vs requested"] = _figure_png(fig)
    return figures


def _thumbnail(study: Study, image_id: str) -> str:
    return base64.b64encode((study.path / "images" / f"{image_id}.png").read_bytes()).decode()


def _maybe(value: float | None, scale: float, unit: str) -> str:
    return "" if value is None else f"{scale * value:.0f}{unit}"


def _html(study: Study, report: dict[str, Any], answers: list[Answer]) -> str:
    summary = html.escape(format_summary(report))
    parts = [f"<h1>Human evaluation: {html.escape(study.path.name)}</h1>",
             f"<p>Real: {html.escape(study.real.label)}; fake: "
             f"{html.escape(', '.join(f['label'] for f in report['fakes']))}. Protocol: "
             f"{html.escape(report['protocol']['name'])}.</p>", f"<pre>{summary}</pre>"]
    for title, png in _plots(study, report, answers).items():
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>")
    if report.get("most_judged_real"):
        cells = "".join(
            f"<figure><img class='px' alt='{m['image']}' src='data:image/png;base64,{_thumbnail(study, m['image'])}'>"
            f"<figcaption>{html.escape(m['source'])}<br>{m['judged_real']}/{m['answers']} said real</figcaption></figure>"
            for m in report["most_judged_real"])
        parts.append(f"<h2>Fake images most often judged real</h2><div class='row'>{cells}</div>")
    head = "".join(f"<th>{k}</th>" for k in ("judge", "answered", "accuracy", "attention checks", "median reaction", "counted"))
    body = "".join(
        f"<tr><td>{s['judge']}</td><td>{s['answered']}/{s['of']}</td><td>{_maybe(s['accuracy'], 100, '%')}</td>"
        f"<td>{s['attention']}</td><td>{_maybe(s['median_reaction_ms'], 1, ' ms')}</td>"
        f"<td>{'no (careless)' if s['careless'] else 'yes'}</td></tr>"
        for s in report["per_judge"])
    parts.append(f"<h2>Judges</h2><table><tr>{head}</tr>{body}</table>")
    parts.append("<p class='note'>Method: Zhou et al., <i>HYPE: A Benchmark for Human eYe Perceptual Evaluation of "
                 "Generative Models</i>, NeurIPS 2019. Intervals: percentile bootstrap, "
                 f"{report['bootstrap']} replicates, resampling judges and images (error rates) or judges "
                 "(HYPE-time).</p>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>gankit human evaluation</title><style>"
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}img{max-width:100%}"
        "pre{background:#f4f4f4;padding:0.8em;white-space:pre-wrap}.row{display:flex;flex-wrap:wrap;gap:0.6em}"
        ".row figure{margin:0;text-align:center;font-size:small}img.px{width:96px;height:96px;image-rendering:pixelated}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        ".note{color:#555;font-size:small}"
        "</style></head><body>" + "\n".join(parts) + "</body></html>"
    )
