"""Where a run's numbers go: the progress bar (or plain lines off a terminal), `metrics.jsonl` and
TensorBoard. Only rank 0 writes; the other ranks get a logger that does nothing.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

_SHOWN = (("d/loss", "D"), ("g/loss", "G"), ("D(x)", "D(x)"), ("D(G(z))", "D(G(z))"))


class RunLogger:
    def __init__(self, run_dir: Path, total_steps: int, start_step: int, enabled: bool) -> None:
        self.enabled = enabled
        self.total = total_steps
        self.last_step = start_step
        self.last_time = time.perf_counter()
        if not enabled:
            return
        from torch.utils.tensorboard import SummaryWriter  # slow import: only on rank 0

        self.jsonl = open(Path(run_dir) / "metrics.jsonl", "a", buffering=1)
        self.tensorboard = SummaryWriter(str(Path(run_dir) / "events"), purge_step=start_step or None)
        self.bar = (
            tqdm(total=total_steps, initial=start_step, dynamic_ncols=True, unit="step")
            if sys.stderr.isatty()
            else None
        )

    def train_scalars(self, step: int, values: dict[str, float]) -> None:
        """Scalars averaged since the last call; also measures the time per step."""
        now = time.perf_counter()
        ms_per_step = 1000 * (now - self.last_time) / max(1, step - self.last_step)
        self.last_time, self.last_step = now, step
        if not self.enabled:
            return
        values = {**values, "ms_per_step": ms_per_step}
        self._record("train", step, values)
        shown = {label: f"{values[key]:.4g}" for key, label in _SHOWN if key in values}
        shown["ms/step"] = f"{ms_per_step:.2f}"
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(shown, refresh=True)
        else:
            eta = timedelta(seconds=round(ms_per_step * (self.total - step) / 1000))
            fields = " | ".join(f"{k} {v}" for k, v in shown.items())
            print(f"step {step}/{self.total} | {fields} | ETA {eta}", flush=True)

    def eval_scalars(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._record("eval", step, values)
        self.say(f"eval @ {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))

    def event(self, step: int, kind: str, message: str) -> None:
        """A diagnosis (collapse, divergence): logged, printed and kept for the report."""
        if not self.enabled:
            return
        self.jsonl.write(json.dumps({"kind": "event", "step": step, "event": kind, "message": message}) + "\n")
        self.tensorboard.add_text(f"events/{kind}", message, step)
        self.say(f"warning: {message}")

    def image(self, tag: str, step: int, path: Path) -> None:
        if not self.enabled:
            return
        import numpy as np
        from PIL import Image

        pixels = np.asarray(Image.open(path).convert("RGB"))
        self.tensorboard.add_image(tag, pixels, step, dataformats="HWC")

    def say(self, text: str) -> None:
        if not self.enabled:
            return
        (self.bar.write if self.bar is not None else print)(text)

    def _record(self, kind: str, step: int, values: dict[str, Any]) -> None:
        self.jsonl.write(json.dumps({"kind": kind, "step": step, **values}) + "\n")
        for key, value in values.items():
            self.tensorboard.add_scalar(f"{kind}/{key}", value, step)

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        self.tensorboard.close()
        self.jsonl.close()
