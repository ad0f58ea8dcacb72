"""The best checkpoint by one metric (`log.best`): kept on disk whatever `log.keep_checkpoints` says.

An evaluation that improves on the best value so far asks for a checkpoint at that step, so the
best model is always one that can be loaded; `checkpoints/best.json` names it. The best value is
recovered from the run's logged metrics on resume.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from gankit.files import atomic_write_text
from gankit.metrics.registry import lower_is_better
from gankit.train.checkpoint import checkpoint_dir


class BestCheckpoint:
    def __init__(self, run_dir: Path, metric: str | None, history: list[dict]) -> None:
        self.path = checkpoint_dir(run_dir) / "best.json"
        self.metric = metric
        self.lower = metric is not None and lower_is_better(metric)
        self.value: float | None = None
        self.step: int | None = None
        for row in history:
            if metric in row:
                self.offer(row["step"], row)

    def offer(self, step: int, metrics: dict[str, float]) -> bool:
        """Take an evaluation's metrics; True when they hold a new best value of the metric."""
        value = metrics.get(self.metric) if self.metric else None
        if value is None or not math.isfinite(value):  # a diverged evaluation is never the best
            return False
        if self.value is not None and (value >= self.value if self.lower else value <= self.value):
            return False
        self.value, self.step = value, step
        return True

    def protected(self) -> set[int]:
        return {self.step} if self.step is not None else set()

    def record(self) -> None:
        """Write best.json (after the checkpoint it names has been saved)."""
        if self.step is not None:
            atomic_write_text(self.path, json.dumps({"metric": self.metric, "value": self.value, "step": self.step}) + "\n")
