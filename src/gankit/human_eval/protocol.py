"""What each judge sees: the order of the images (the plan) and how long each one stays on screen.

Three protocols:
  fixed      every image for the same requested time (`--exposure-ms`), then a noise mask: the rapid
             categorization of Denton et al. (2015) and Salimans et al. (2016).
  hype-inf   HYPE-∞ (Zhou et al. 2019): no time limit; the image stays until the judge answers.
  hype-time  HYPE-time: an adaptive 3-down/1-up staircase over 17 exposure times from 100 ms to
             1000 ms, each image followed by a noise mask. Three correct answers in a row shorten the
             exposure by one step, one error lengthens it by one step; the rule converges on the time at
             which the judge is right 79.4% of the time (Levitt 1971).

Why the plan is drawn once and stored: the server can be killed at any moment and must resume every
judge exactly where they were, never showing an image twice. The exposure of the next trial is a pure
function of the judge's stored answers (`exposure_for`), so a restarted server recomputes the same
staircase from the database alone.

With two fake sources (comparing two runs or checkpoints), each judge runs one staircase per source
("track"): track t interleaves the fakes of source t with its share of the real images, so each source
gets its own threshold from the same judges.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, Sequence

PROTOCOLS = ("hype-time", "hype-inf", "fixed")
ProtocolName = Literal["hype-time", "hype-inf", "fixed"]

# HYPE-time's exposure grid: 17 times from 100 to 1000 ms. The paper gives the range and the count;
# gankit spaces them geometrically (each step ×10^(1/16) ≈ 1.155), the usual choice for a time scale.
EXPOSURES_MS: tuple[int, ...] = tuple(round(100 * 10 ** (i / 16)) for i in range(17))
START_MS = 500  # HYPE-time's staircase starts at 500 ms; here the grid's nearest step (487 ms)
START_LEVEL = min(range(len(EXPOSURES_MS)), key=lambda i: abs(EXPOSURES_MS[i] - START_MS))
DOWN_AFTER = 3  # correct answers in a row that shorten the exposure (3-down/1-up)
FIXATION_MS = 400  # a fixation cross before each image, so the judge is looking when it appears
MASK_MS = 250  # the noise mask after a time-limited image: it ends the image's after-image on the retina

TrialKind = Literal["practice", "trial", "attention"]


@dataclass(frozen=True)
class Protocol:
    """The protocol of a study; `exposure_ms` only for `fixed`."""

    name: ProtocolName
    exposure_ms: int | None = None

    @property
    def timed(self) -> bool:
        """Whether images are hidden after a time (and followed by a mask)."""
        return self.name != "hype-inf"

    def to_dict(self) -> dict:
        return {"name": self.name, "exposure_ms": self.exposure_ms}


@dataclass(frozen=True)
class PlannedTrial:
    position: int
    image: str
    kind: TrialKind
    track: int


def make_plan(
    real: Sequence[str],
    fakes: Sequence[Sequence[str]],
    attention: Sequence[str],
    practice: Sequence[str],
    trials: int,
    rng: random.Random,
) -> list[PlannedTrial]:
    """One judge's sequence: the practice images, then `trials` scored images (half real, half fake,
    the fakes split evenly over the fake sources) shuffled, with the attention checks at random places.

    Images are drawn without replacement from the pools, so no judge sees an image twice.
    """
    tracks = len(fakes)
    per_fake = trials // 2 // tracks
    chosen_real = rng.sample(list(real), trials // 2)
    scored: list[tuple[str, int]] = [(image, i % tracks) for i, image in enumerate(chosen_real)]
    for track, pool in enumerate(fakes):
        scored += [(image, track) for image in rng.sample(list(pool), per_fake)]
    rng.shuffle(scored)
    sequence: list[tuple[str, TrialKind, int]] = [(image, "trial", track) for image, track in scored]
    for image in attention:
        sequence.insert(rng.randint(0, len(sequence)), (image, "attention", rng.randrange(tracks)))
    shuffled_practice = rng.sample(list(practice), len(practice))
    sequence = [(image, "practice", 0) for image in shuffled_practice] + sequence
    return [PlannedTrial(i, image, kind, track) for i, (image, kind, track) in enumerate(sequence)]


def staircase_levels(outcomes: Sequence[bool], start: int = START_LEVEL) -> list[int]:
    """The 3-down/1-up staircase: the level (index into EXPOSURES_MS) shown at each trial given the
    outcomes (correct or not) of the trials before it, plus the level of the next trial."""
    levels, level, streak = [start], start, 0
    for correct in outcomes:
        if correct:
            streak += 1
            if streak == DOWN_AFTER:
                level, streak = max(0, level - 1), 0
        else:
            level, streak = min(len(EXPOSURES_MS) - 1, level + 1), 0
        levels.append(level)
    return levels


def exposure_for(protocol: Protocol, trial: PlannedTrial, earlier: Sequence[tuple[int, bool]]) -> int | None:
    """Requested exposure (ms) of `trial`, None for unlimited. `earlier` holds (track, correct) of the
    judge's scored trials already answered, in order; attention checks and practice never move the
    staircase (a careless judge should not be made faster by an obvious image)."""
    if protocol.name == "hype-inf":
        return None
    if protocol.name == "fixed":
        return protocol.exposure_ms
    if trial.kind == "practice":
        return EXPOSURES_MS[START_LEVEL]
    outcomes = [correct for track, correct in earlier if track == trial.track]
    return EXPOSURES_MS[staircase_levels(outcomes)[-1]]
