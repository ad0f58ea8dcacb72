"""Small fixtures of the human-eval tests: image folders they write themselves, and judges simulated
through the server's own API."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image


def write_folder(folder: Path, n: int, kind: str, size: int = 16, seed: int = 0) -> Path:
    """`n` grey PNGs: smooth gradients ("real") or blocky noise ("fake"), so the two look different."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 255, size)
    for i in range(n):
        if kind == "real":
            angle = rng.uniform(0, np.pi)
            pixels = np.outer(np.cos(angle) * ramp, np.ones(size)) + np.outer(np.ones(size), np.sin(angle) * ramp)
            pixels = 255 * (pixels - pixels.min()) / max(1e-9, np.ptp(pixels))
        else:
            pixels = np.kron(rng.random((size // 4, size // 4)), np.ones((4, 4))) * 255
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{kind}-{i:03d}.png")
    return folder


def make_client(app):
    """Starlette's TestClient (its httpx deprecation note silenced: the dev extra pins plain httpx)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient(app)


def play_judge(client, study, answer_for: Callable[[str], str], limit: int | None = None) -> str:
    """Create a judge and answer their trials through the HTTP API (up to `limit` answers);
    `answer_for(image_id)` says what the judge answers. Returns the judge id."""
    judge = client.post("/api/judges").json()["judge"]
    answer_trials(client, judge, answer_for, limit)
    return judge


def answer_trials(client, judge: str, answer_for: Callable[[str], str], limit: int | None = None) -> int:
    given = 0
    while limit is None or given < limit:
        trial = client.get(f"/api/judges/{judge}/next").json()
        if trial["finished"]:
            break
        exposure = trial["exposure_ms"]
        reply = client.post(f"/api/judges/{judge}/answers", json={
            "position": trial["position"], "image": trial["image"], "answer": answer_for(trial["image"]),
            "requested_ms": exposure, "measured_ms": exposure if exposure is not None else 900.0,
            "reaction_ms": 600.0,
        })
        assert reply.status_code == 200, reply.text
        given += 1
    return given
