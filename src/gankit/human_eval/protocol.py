"""What each judge sees: the order of the images (the plan) and how long each one stays on screen.

Three protocols:
  fixed      every image for the same requested time (`--exposure-ms`), then noise masks: the rapid
             categorization of Denton et al. (2015) and Salimans et al. (2016).
  hype-inf   HYPE-∞ (Zhou et al. 2019, sec. 2.2): no time limit; the image stays until the judge answers.
  hype-time  HYPE-time (sec. 2.1): an adaptive staircase over exposures from 100 ms to 1000 ms, starting
             at 500 ms, each image followed by noise masks, with feedback after every answer. The paper's
             "3-up/1-down" rule with its step sizes: three right answers in a row shorten the exposure by
             30 ms, one wrong answer lengthens it by 10 ms. A judge's threshold is the modal exposure of
             their staircase (stats.modal_exposure).

Where that staircase settles: it steps down (30 ms) with probability p³ and up (10 ms) with 1 − p³,
so it drifts to the exposure where 30·p³ = 10·(1 − p³), i.e. where the judge is right with
p = (1/4)^(1/3) ≈ 63% (TRACKED_ACCURACY; the drift balance of García-Pérez 1998, checked by simulation
in the tests). The paper says the rule "theoretically leads to a 75% accuracy threshold"; that figure
belongs to other rules (Kaernbach's weighted 1-up/1-down with a 3:1 step ratio), not to the one it
states, which gankit follows as stated.

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

# HYPE-time's staircase (Zhou et al. 2019, sec. 2.1): exposures in [100 ms, 1000 ms], every block starts
# at 500 ms, "raised at 10 ms increments and reduced at 30 ms decrements" under a 3-up/1-down rule.
EXPOSURES_MS: tuple[int, ...] = tuple(range(100, 1001, 10))  # the 10 ms grid both step sizes live on
START_LEVEL = EXPOSURES_MS.index(500)
DOWN_AFTER = 3  # right answers in a row that shorten the exposure
DOWN_LEVELS = 3  # by 30 ms
UP_LEVELS = 1  # one wrong answer lengthens it by 10 ms
TRACKED_ACCURACY = (UP_LEVELS / (UP_LEVELS + DOWN_LEVELS)) ** (1 / DOWN_AFTER)  # ≈ 0.63, see above

# Before each image a 3-2-1 countdown, 500 ms a number, keeps the judge's eyes on the middle of the
# frame; after a time-limited image, four noise masks of 30 ms each end its after-image (sec. 2.1).
COUNTDOWN_FROM = 3
COUNTDOWN_MS = 500
MASKS = 4
MASK_MS = 30

TrialKind = Literal["practice", "trial", "attention"]


@dataclass(frozen=True)
class Protocol:
    """The protocol of a study; `exposure_ms` only for `fixed`."""

    name: ProtocolName
    exposure_ms: int | None = None

    @property
    def timed(self) -> bool:
        """Whether images are hidden after a time (and followed by the masks)."""
        return self.name != "hype-inf"

    @property
    def feedback(self) -> bool:
        """Whether every answer is followed by right or wrong: HYPE-time "reveals to the evaluator
        whether they were correct" after each one; the other protocols only in practice."""
        return self.name == "hype-time"

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


def staircase_step(level: int, streak: int, correct: bool) -> tuple[int, int]:
    """One answer's move of the staircase: (level, right answers in a row) before it → after it.
    Levels index EXPOSURES_MS and stay on the grid."""
    if not correct:
        return min(len(EXPOSURES_MS) - 1, level + UP_LEVELS), 0
    if streak + 1 == DOWN_AFTER:
        return max(0, level - DOWN_LEVELS), 0
    return level, streak + 1


def staircase_levels(outcomes: Sequence[bool], start: int = START_LEVEL) -> list[int]:
    """The level shown at each trial given the outcomes (right or not) of the trials before it, plus
    the level of the next trial."""
    levels, level, streak = [start], start, 0
    for correct in outcomes:
        level, streak = staircase_step(level, streak, correct)
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
