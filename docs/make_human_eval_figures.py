"""Make the figures and numbers of docs/human-eval.md.

    python docs/make_human_eval_figures.py RUN_DIR STEP_A STEP_B
    e.g. python docs/make_human_eval_figures.py runs/eval-presets/dcgan-fashion 2000 3000

RUN_DIR is a gankit run trained on Fashion-MNIST (runs are not kept in git; `gankit train --preset
dcgan-fashion --out RUN_DIR` makes one) with checkpoints at STEP_A and STEP_B.

1. Screenshots of the judges' page: a real study (Fashion-MNIST against RUN_DIR@STEP_A) served by
   `gankit human-eval serve` and driven by Debian's chromium through Playwright (the dev extra).
2. Reports on simulated judges, whose true error rates and thresholds are known, so the doc can show
   the report next to the truth: a HYPE-∞ study comparing the two checkpoints (12 judges, one of them
   careless) and a HYPE-time study (10 judges with known psychometric thresholds, one 150-image
   staircase each).

Writes docs/images/human-eval-*.png and prints every number the doc quotes. Simulated judges answer
through the study's own HTTP API (Starlette's TestClient), so their answers take the same path as a
person's, minus the browser.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path
from typing import NoReturn

import numpy as np

from gankit.errors import UserError
from gankit.human_eval.protocol import EXPOSURES_MS, START_LEVEL, TRACKED_ACCURACY, staircase_step
from gankit.human_eval.report import format_summary, write_report
from gankit.human_eval.stats import modal_exposure
from gankit.human_eval.server import create_app
from gankit.human_eval.store import Store
from gankit.human_eval.study import StudyRequest, open_study
from gankit.run import is_run

IMAGES = Path(__file__).parent / "images"
CHROMIUM = "/usr/bin/chromium"


def _sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 1 / (1 + np.exp(-x))


def _client(app):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient(app)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def page_screenshots(fake: str, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    log = open(work / "serve.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gankit", "human-eval", "serve", "--study", str(work / "page"), "--real", "fashion-mnist",
         "--fake", fake, "--protocol", "hype-time", "--trials", "20", "--practice", "2", "--attention", "2",
         "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/study", timeout=1)
                break
            except OSError:
                assert server.poll() is None, (work / "serve.log").read_text()
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
            page = browser.new_page(viewport={"width": 900, "height": 680})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#intro:not([hidden])")
            page.screenshot(path=str(IMAGES / "human-eval-instructions.png"))
            page.keyboard.press("Enter")
            page.wait_for_function("getComputedStyle(document.getElementById('stimulus')).visibility === 'visible'")
            page.screenshot(path=str(IMAGES / "human-eval-image.png"))
            page.wait_for_function("!document.getElementById('answer-real').disabled")
            page.keyboard.press("f")
            page.wait_for_function("document.getElementById('feedback').textContent.trim().length > 0")
            page.screenshot(path=str(IMAGES / "human-eval-feedback.png"))
            page.wait_for_function("!document.getElementById('answer-real').disabled")
            page.keyboard.press("j")
            page.wait_for_selector("#break:not([hidden])")
            page.keyboard.press(" ")
            # The four masks last about 120 ms: stop the page's animation frames on the first one, so
            # the screenshot catches it.
            page.wait_for_function("getComputedStyle(document.getElementById('mask')).visibility === 'visible'"
                                   " && (window.requestAnimationFrame = () => 0, true)", polling=5)
            page.screenshot(path=str(IMAGES / "human-eval-mask.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait()
        log.close()


def simulated_comparison(fakes: list[str], work: Path, rng: np.random.Generator) -> None:
    """HYPE-∞ with two fake sources: judge j says "real" to an image with probability
    sigmoid(realism − skill_j) for a fake, 1 − sigmoid(realism − skill_j) for a real one; image realism
    is drawn once per image around a mean of its source."""
    means = {"real": -1.5, 0: -0.6, 1: -1.4}  # mean realism: reals, first fake source, second
    skill_sd, realism_sd = 0.5, 0.8
    study = open_study(work / "comparison", StudyRequest(real="fashion-mnist", fakes=fakes, protocol="hype-inf",
                                                         images=50, practice=4, attention=4))
    realism = {i: rng.normal(means["real" if info.role == "real" else info.track], realism_sd)
               for i, info in study.images.items() if info.role in ("real", "fake")}
    store = Store(study.database, study.id)
    client = _client(create_app(study, store))
    for j in range(12):
        careless = j == 11  # presses "real" for everything
        skill = rng.normal(0, skill_sd)
        judge = client.post("/api/judges").json()["judge"]
        while not (trial := client.get(f"/api/judges/{judge}/next").json())["finished"]:
            info = study.images[trial["image"]]
            if careless:
                said = "real"
            elif info.role in ("attention", "practice") and info.truth == "fake":
                said = "fake"
            elif info.role == "practice":
                said = "real"
            else:
                wrong = rng.random() < _sigmoid(realism[trial["image"]] - skill)
                said = info.truth if not wrong else ("real" if info.truth == "fake" else "fake")
            client.post(f"/api/judges/{judge}/answers", json={
                "position": trial["position"], "image": trial["image"], "answer": said, "requested_ms": None,
                "measured_ms": float(rng.uniform(600, 2500)), "reaction_ms": float(rng.uniform(600, 2500))})
    store.close()
    truth = {}
    draws = np.random.default_rng(1).normal(0, 1, (2, 2_000_000))
    for key, mean in means.items():
        truth[key] = float(_sigmoid(mean + realism_sd * draws[0] - skill_sd * draws[1]).mean())
    print("truth (population of judges and images): real judged fake {:.1%}, fakes judged real {:.1%} and {:.1%}, "
          "difference {:+.1f} points".format(truth["real"], truth[0], truth[1], 100 * (truth[0] - truth[1])))
    report = write_report(study.path, seed=0)
    print(format_summary(report))
    _report_screenshot(study.path / "report.html", IMAGES / "human-eval-report.png")


def _right(t: float, alpha: float) -> float:
    """A simulated judge's chance of being right at exposure t ms."""
    return 0.5 + 0.5 * (1 - np.exp(-((t / alpha) ** 2)))


def simulated_staircase(fake: str, work: Path, rng: np.random.Generator) -> None:
    """HYPE-time: judge j is right with probability 0.5 + 0.5·(1 − exp(−(t/α_j)²)) at exposure t, so
    the exposure where they are right TRACKED_ACCURACY (63%) of the time, where HYPE's staircase
    settles, is α_j·(−ln(1 − 2·(0.63 − 0.5)))^½."""
    study = open_study(work / "staircase", StudyRequest(real="fashion-mnist", fakes=[fake], protocol="hype-time",
                                                        practice=2, attention=2))
    alphas = rng.lognormal(np.log(500), 0.25, 10)
    store = Store(study.database, study.id)
    client = _client(create_app(study, store))
    for alpha in alphas:
        judge = client.post("/api/judges").json()["judge"]
        while not (trial := client.get(f"/api/judges/{judge}/next").json())["finished"]:
            info = study.images[trial["image"]]
            t = trial["exposure_ms"]
            right = info.role == "attention" or rng.random() < _right(t, alpha)
            said = info.truth if right else ("real" if info.truth == "fake" else "fake")
            client.post(f"/api/judges/{judge}/answers", json={
                "position": trial["position"], "image": trial["image"], "answer": said, "requested_ms": t,
                "measured_ms": float(t), "reaction_ms": float(t + rng.uniform(300, 900))})
    store.close()
    population = np.random.default_rng(2).lognormal(np.log(500), 0.25, 2_000_000)
    factor = (-np.log(1 - 2 * (TRACKED_ACCURACY - 0.5))) ** 0.5
    print(f"truth: {100 * TRACKED_ACCURACY:.1f}%-right exposure, mean over the population "
          f"{np.mean(population * factor):.0f} ms, over these 10 judges {np.mean(alphas * factor):.0f} ms "
          f"(range {EXPOSURES_MS[0]}-{EXPOSURES_MS[-1]} ms)")
    blocks = _mean_modal_exposure(np.random.default_rng(3).lognormal(np.log(500), 0.25, 4000), 150)
    print(f"expected HYPE-time score of the population with 150-image staircases: {blocks:.0f} ms")
    report = write_report(study.path, seed=0)
    print(format_summary(report))
    _report_screenshot(study.path / "report.html", IMAGES / "human-eval-staircase-report.png")


def _mean_modal_exposure(alphas: np.ndarray, trials: int) -> float:
    """The mean over simulated judges of the modal exposure of a `trials`-image staircase."""
    rng = np.random.default_rng(4)
    modes = []
    for alpha in alphas:
        level, streak, shown = START_LEVEL, 0, []
        for _ in range(trials):
            shown.append(EXPOSURES_MS[level])
            level, streak = staircase_step(level, streak, bool(rng.random() < _right(shown[-1], alpha)))
        modes.append(modal_exposure(shown))
    return float(np.mean(modes))


def _report_screenshot(html: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(html.as_uri())
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2, as gankit's own CLI does for bad input."""
    print(f"make_human_eval_figures.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, metavar="RUN_DIR", help="a gankit run trained on Fashion-MNIST")
    parser.add_argument("steps", type=int, nargs=2, metavar="STEP", help="two of its checkpoint steps")
    args = parser.parse_args()
    if not is_run(args.run):
        _fail(f"{args.run} is not a gankit run folder; train one with `gankit train --preset dcgan-fashion "
              f"--out {args.run}` or pass another")
    fakes = [f"{args.run}@{step}" for step in args.steps]
    IMAGES.mkdir(exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(tempfile.mkdtemp(prefix="gankit-human-eval-"))
    try:
        rng = np.random.default_rng(0)
        print("== simulated HYPE-∞ comparison ==")  # first: it loads both checkpoints, so a missing one fails early
        simulated_comparison(fakes, work, rng)
        page_screenshots(fakes[0], work)
        print("== simulated HYPE-time ==")
        simulated_staircase(fakes[0], work, rng)
    except UserError as exc:
        _fail(str(exc))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
