"""The statistics of a human evaluation, on plain arrays (no study, no database): error rates with
bootstrap intervals over judges and images, staircase thresholds (modal exposures), the significance
of a difference between two fake sources, and agreement between judges.

Why a two-way bootstrap: a study samples both judges and images, and both vary (Zhou et al. 2019 show
that human judges differ a lot). Resampling only answers would treat 20 judges × 100 images as 2,000
independent coin flips and give intervals far too narrow. Each bootstrap replicate here draws judges
with replacement and, independently, images with replacement (within each stratum, e.g. real and fake,
so the mix stays balanced), and recomputes the statistic on the weighted judges × images table.
Counting every (judge, image) cell once per (judge copy, image copy) makes the interval slightly
conservative, which is the safe side for a benchmark. Zhou et al. (2019) resample evaluators only
(30 with replacement, 10,000 times); there every evaluator saw other images drawn from 5,000 per
model, so resampling evaluators resampled images too. In a gankit study judges usually see the same
images, so the images have to be resampled on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate, its percentile bootstrap interval and the standard deviation of the bootstrap
    replicates (the "Std." column of Zhou et al.'s tables)."""

    value: float
    low: float
    high: float
    std: float

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, "std": self.std}


@dataclass(frozen=True)
class Comparison:
    """A − B, its interval, a two-sided bootstrap p-value, and whether the interval excludes 0."""

    difference: Interval
    p_value: float

    @property
    def significant(self) -> bool:
        return not self.difference.contains(0.0)

    def to_dict(self) -> dict:
        return {"difference": self.difference.to_dict(), "p_value": self.p_value, "significant": self.significant}


@dataclass
class AnswerTable:
    """Answers laid out as judges × images: `wrong[j, i]` and `seen[j, i]` count judge j's wrong and
    total answers on image i (0 or 1 each in a study, where no judge sees an image twice)."""

    judges: list[Hashable]
    images: list[Hashable]
    wrong: np.ndarray
    seen: np.ndarray
    strata: np.ndarray  # per image: its stratum index, resampled separately

    @classmethod
    def build(
        cls,
        judges: Sequence[Hashable],
        images: Sequence[Hashable],
        wrong: Sequence[bool],
        strata: Sequence[Hashable] | None = None,
        judge_order: Sequence[Hashable] | None = None,
    ) -> "AnswerTable":
        """From one row per answer. `judge_order` fixes the rows, so two tables (two fake sources)
        can share judge weights in a paired comparison."""
        rows = list(judge_order) if judge_order is not None else sorted(set(judges), key=str)
        columns = sorted(set(images), key=str)
        row_of = {j: k for k, j in enumerate(rows)}
        column_of = {i: k for k, i in enumerate(columns)}
        r = np.array([row_of[j] for j in judges], dtype=int)
        c = np.array([column_of[i] for i in images], dtype=int)
        table_wrong = np.zeros((len(rows), len(columns)))
        table_seen = np.zeros((len(rows), len(columns)))
        np.add.at(table_wrong, (r, c), np.asarray(wrong, dtype=float))
        np.add.at(table_seen, (r, c), 1.0)
        stratum_of_image = {i: s for i, s in zip(images, strata if strata is not None else [0] * len(images))}
        labels = sorted({stratum_of_image[i] for i in columns}, key=str)
        stratum = np.array([labels.index(stratum_of_image[i]) for i in columns], dtype=int)
        return cls(rows, columns, table_wrong, table_seen, stratum)

    @property
    def rate(self) -> float:
        return float(self.wrong.sum() / self.seen.sum())

    def rates(self, judge_w: np.ndarray, image_w: np.ndarray) -> np.ndarray:
        """The error rate under each row of bootstrap weights (replicates × judges, replicates × images)."""
        wrong = ((judge_w @ self.wrong) * image_w).sum(axis=1)
        seen = ((judge_w @ self.seen) * image_w).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return wrong / seen

    def image_weights(self, boots: int, rng: np.random.Generator) -> np.ndarray:
        return resample_weights(len(self.images), boots, rng, self.strata)


def resample_weights(n: int, boots: int, rng: np.random.Generator, groups: np.ndarray | None = None) -> np.ndarray:
    """boots × n multiplicities of a bootstrap resample (with replacement, within each group)."""
    weights = np.zeros((boots, n))
    groups = np.zeros(n, dtype=int) if groups is None else np.asarray(groups)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), size=boots)
    return weights


def _interval(value: float, samples: np.ndarray) -> Interval:
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return Interval(float(value), float(low), float(high), float(np.nanstd(samples)))


def _p_value(samples: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the difference is 0"."""
    samples = samples[np.isfinite(samples)]
    below, above = np.sum(samples <= 0), np.sum(samples >= 0)
    return float(min(1.0, 2 * (min(below, above) + 1) / (len(samples) + 1)))


def error_rate(table: AnswerTable, boots: int, rng: np.random.Generator) -> Interval:
    """The fraction of wrong answers, with its two-way (judges and images) bootstrap interval."""
    samples = table.rates(resample_weights(len(table.judges), boots, rng), table.image_weights(boots, rng))
    return _interval(table.rate, samples)


def compare_rates(a: AnswerTable, b: AnswerTable, boots: int, rng: np.random.Generator) -> Comparison:
    """Error rate of A minus that of B. The same judges judged both, so judges are resampled once for
    both (a paired design); the two image sets are resampled independently."""
    if a.judges != b.judges:
        raise ValueError("both tables need the same judge rows (build them with one judge_order)")
    judge_w = resample_weights(len(a.judges), boots, rng)
    samples = a.rates(judge_w, a.image_weights(boots, rng)) - b.rates(judge_w, b.image_weights(boots, rng))
    return Comparison(_interval(a.rate - b.rate, samples), _p_value(samples))


def modal_exposure(exposures: Sequence[float]) -> float:
    """One judge's HYPE-time threshold: the exposure their staircase showed most often ("the modal
    exposure measures their perceptual threshold", Zhou et al. 2019, fig. 3). A staircase lingers
    where it settles and passes each exposure of its descent only about once, so the mode finds the
    settling point. Ties (the paper does not say) are broken by the mean of the tied exposures."""
    values, counts = np.unique(np.asarray(exposures, dtype=float), return_counts=True)
    return float(values[counts == counts.max()].mean())


def mean_over_judges(values: Sequence[float], boots: int, rng: np.random.Generator) -> Interval:
    """The mean of per-judge values (the HYPE-time score: the mean of the judges' modal exposures),
    bootstrapped over judges, as the paper does."""
    values = np.asarray(values, dtype=float)
    samples = resample_weights(len(values), boots, rng) @ values / len(values)
    return _interval(values.mean(), samples)


def compare_means(a: Sequence[float], b: Sequence[float], boots: int, rng: np.random.Generator) -> Comparison:
    """Mean of A − B over judges who have both (paired), bootstrapped over judges."""
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    samples = resample_weights(len(differences), boots, rng) @ differences / len(differences)
    return Comparison(_interval(differences.mean(), samples), _p_value(samples))


@dataclass(frozen=True)
class Agreement:
    alpha: float | None  # Krippendorff's alpha (nominal); None when every answer is the same
    pairwise: float  # the fraction of pairs of judges who gave the same answer on an image
    images: int  # images judged by two judges or more

    def to_dict(self) -> dict:
        return {"krippendorff_alpha": self.alpha, "pairwise_agreement": self.pairwise, "images": self.images}


def agreement(images: Sequence[Hashable], said_real: Sequence[bool]) -> Agreement | None:
    """Agreement between judges on the same images: Krippendorff's alpha for nominal data (it allows
    each image its own number of judges) and the plain pairwise agreement it is built on.
    None when no image has two answers."""
    counts: dict[Hashable, list[int]] = {}
    for image, real in zip(images, said_real):
        counts.setdefault(image, [0, 0])[0 if real else 1] += 1
    table = np.array([c for c in counts.values() if sum(c) >= 2], dtype=float).reshape(-1, 2)
    if len(table) == 0:
        return None
    per_image = table.sum(axis=1)
    n = per_image.sum()
    observed = float((2 * table[:, 0] * table[:, 1] / (per_image - 1)).sum() / n)  # disagreeing pairs, weighted
    n_real, n_fake = table.sum(axis=0)
    expected = 2 * n_real * n_fake / (n * (n - 1))
    alpha = None if expected == 0 else float(1 - observed / expected)
    return Agreement(alpha, 1 - observed, len(table))
