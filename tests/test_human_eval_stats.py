"""The statistics of human evaluation on simulated judges whose accuracy (and psychometric threshold)
is known: the estimates must recover the truth within their intervals, a clear difference between
two fake sources must be significant and no difference must (mostly) not be."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gankit.human_eval import stats
from gankit.human_eval.protocol import (
    EXPOSURES_MS,
    START_LEVEL,
    PlannedTrial,
    Protocol,
    exposure_for,
    make_plan,
    staircase_levels,
)

BOOTS = 1000
LEVEL_79 = 0.7937  # where 3-down/1-up converges: p³ = 1/2


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _fooled(rng, judges: int, images: int, difficulty: float, skill_sd: float = 0.5, image_sd: float = 1.0):
    """Judges × images answers: P(wrong) = sigmoid(image realism − judge skill), both drawn at random;
    returns (judge ids, image ids, wrong) with one row per answer."""
    skill = rng.normal(0, skill_sd, judges)
    realism = rng.normal(difficulty, image_sd, images)
    wrong = rng.random((judges, images)) < _sigmoid(realism[None, :] - skill[:, None])
    j, i = np.meshgrid(np.arange(judges), np.arange(images), indexing="ij")
    return j.ravel(), i.ravel(), wrong.ravel()


def _population_error(difficulty: float, skill_sd: float = 0.5, image_sd: float = 1.0) -> float:
    """The error rate over the whole population of judges and images (the estimand)."""
    rng = np.random.default_rng(12345)
    n = 2_000_000
    return float(_sigmoid(rng.normal(difficulty, image_sd, n) - rng.normal(0, skill_sd, n)).mean())


def test_error_rate_interval_covers_the_population_rate():
    truth = _population_error(-1.0)
    covered = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        interval = stats.error_rate(stats.AnswerTable.build(*_fooled(rng, 12, 50, -1.0)), BOOTS, rng)
        assert interval.low < interval.value < interval.high
        covered += interval.contains(truth)
    assert covered >= 18  # 95% intervals: 19 of 20 expected; the two-way bootstrap errs wide


def test_resampling_judges_and_images_is_wider_than_resampling_answers():
    rng = np.random.default_rng(0)
    table = stats.AnswerTable.build(*_fooled(rng, 10, 40, 0.0, skill_sd=1.5, image_sd=1.5))
    two_way = stats.error_rate(table, BOOTS, rng)
    n = table.seen.sum()
    naive = 1.96 * np.sqrt(table.rate * (1 - table.rate) / n)  # answers as independent coin flips
    assert two_way.high - two_way.low > 2 * naive * 1.5


def test_strata_keep_the_mix_of_real_and_fake():
    weights = stats.resample_weights(6, 50, np.random.default_rng(0), np.array([0, 0, 0, 0, 1, 1]))
    assert (weights[:, :4].sum(axis=1) == 4).all() and (weights[:, 4:].sum(axis=1) == 2).all()


def _two_sources(rng, difficulty_a: float, difficulty_b: float, judges: int = 15, images: int = 50):
    skill = rng.normal(0, 0.5, judges)
    tables = []
    for offset, difficulty in ((0, difficulty_a), (10_000, difficulty_b)):
        realism = rng.normal(difficulty, 1.0, images)
        wrong = rng.random((judges, images)) < _sigmoid(realism[None, :] - skill[:, None])
        j, i = np.meshgrid(np.arange(judges), np.arange(images) + offset, indexing="ij")
        tables.append(stats.AnswerTable.build(j.ravel(), i.ravel(), wrong.ravel(), judge_order=range(judges)))
    return tables


def test_a_clear_difference_between_sources_is_significant():
    rng = np.random.default_rng(1)
    a, b = _two_sources(rng, -0.5, -2.0)  # population fooled rates about 0.39 and 0.14
    comparison = stats.compare_rates(a, b, BOOTS, rng)
    assert comparison.significant and comparison.p_value < 0.01
    assert comparison.difference.contains(_population_error(-0.5) - _population_error(-2.0))


def test_no_difference_is_rarely_significant():
    rng = np.random.default_rng(2)
    significant = sum(stats.compare_rates(*_two_sources(rng, -1.0, -1.0), BOOTS, rng).significant for _ in range(20))
    assert significant <= 2


def _weibull_correct(t, alpha, beta=2.0):
    """A judge's psychometric function: chance (50%) at 0 ms, rising to 100% with exposure t."""
    return 0.5 + 0.5 * (1 - np.exp(-((t / alpha) ** beta)))


def _threshold_79(alpha, beta=2.0):
    """Exposure at which that judge is right 79.4% of the time: what a 3-down/1-up staircase tracks."""
    return alpha * (-np.log(1 - 2 * (LEVEL_79 - 0.5))) ** (1 / beta)


def _run_staircase(alpha: float, trials: int, rng: np.random.Generator) -> list[float]:
    protocol = Protocol("hype-time")
    history: list[tuple[int, bool]] = []
    shown = []
    for position in range(trials):
        exposure = exposure_for(protocol, PlannedTrial(position, f"i{position}", "trial", 0), history)
        shown.append(exposure)
        history.append((0, bool(rng.random() < _weibull_correct(exposure, alpha))))
    return shown


def test_staircase_threshold_recovers_the_psychometric_threshold():
    population = np.random.default_rng(99).lognormal(np.log(300), 0.25, 200_000)
    truth = float(_threshold_79(population).mean())  # about 290 ms
    covered = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        alphas = rng.lognormal(np.log(300), 0.25, 15)  # 15 judges, 60 staircase trials each
        thresholds = [stats.staircase_threshold(_run_staircase(a, 60, rng)) for a in alphas]
        covered += stats.mean_over_judges(thresholds, BOOTS, rng).contains(truth)
    assert covered >= 17


def test_staircase_threshold_separates_a_better_model():
    """Fakes that need longer to spot (a better model) get a significantly higher threshold."""
    rng = np.random.default_rng(3)
    alphas = rng.lognormal(np.log(200), 0.2, 12)
    better = [stats.staircase_threshold(_run_staircase(2.5 * a, 60, rng)) for a in alphas]
    worse = [stats.staircase_threshold(_run_staircase(a, 60, rng)) for a in alphas]
    comparison = stats.compare_means(better, worse, BOOTS, rng)
    assert comparison.significant and comparison.difference.value > 0


def test_staircase_is_three_down_one_up_within_the_grid():
    assert len(EXPOSURES_MS) == 17 and EXPOSURES_MS[0] == 100 and EXPOSURES_MS[-1] == 1000
    assert EXPOSURES_MS[START_LEVEL] == 487  # the grid's nearest step to HYPE's 500 ms start
    levels = staircase_levels([True, True, True, True, True, False, False])
    assert levels == [11, 11, 11, 10, 10, 10, 11, 12]
    assert staircase_levels([False] * 10)[-1] == 16 and staircase_levels([True] * 60)[-1] == 0


def test_attention_checks_and_practice_do_not_move_the_staircase():
    protocol = Protocol("hype-time")
    practice = PlannedTrial(0, "p", "practice", 0)
    check = PlannedTrial(5, "a", "attention", 0)
    history = [(0, True)] * 3 + [(1, False)]
    assert exposure_for(protocol, practice, history) == EXPOSURES_MS[START_LEVEL]
    assert exposure_for(protocol, check, history) == EXPOSURES_MS[START_LEVEL - 1]
    assert exposure_for(protocol, PlannedTrial(6, "b", "trial", 1), history) == EXPOSURES_MS[START_LEVEL + 1]
    assert exposure_for(Protocol("hype-inf"), check, history) is None
    assert exposure_for(Protocol("fixed", 250), check, history) == 250


def test_plan_is_balanced_shuffled_and_never_repeats_an_image():
    real = [f"r{i}" for i in range(30)]
    fakes = [[f"a{i}" for i in range(20)], [f"b{i}" for i in range(20)]]
    plan = make_plan(real, fakes, ["x0", "x1", "x2"], ["p0", "p1"], 24, random.Random(0))
    images = [t.image for t in plan]
    assert len(images) == len(set(images)) == 2 + 24 + 3
    assert [t.kind for t in plan[:2]] == ["practice", "practice"]
    scored = [t for t in plan if t.kind == "trial"]
    assert sum(t.image.startswith("r") for t in scored) == 12
    assert sum(t.image.startswith("a") for t in scored) == sum(t.image.startswith("b") for t in scored) == 6
    for track, prefix in ((0, "a"), (1, "b")):  # each staircase: its fakes and an equal share of reals
        on_track = [t.image[0] for t in scored if t.track == track]
        assert on_track.count("r") == 6 and on_track.count(prefix) == 6
    assert [t.image for t in plan] != [t.image for t in make_plan(real, fakes, ["x0", "x1", "x2"], ["p0", "p1"], 24,
                                                                 random.Random(1))]


def test_agreement_matches_a_hand_computed_alpha():
    # Two judges, four images: they agree on three. Pairable values n = 8, disagreeing pairs 2,
    # 3 "real" and 5 "fake" answers: alpha = 1 - (2/8) / (2·3·5 / (8·7)) = 1 - 0.25/0.5357 = 0.5333.
    images = ["a", "a", "b", "b", "c", "c", "d", "d"]
    said_real = [True, True, True, False, False, False, False, False]
    result = stats.agreement(images, said_real)
    assert result.alpha == pytest.approx(1 - 0.25 / (30 / 56))
    assert result.pairwise == pytest.approx(0.75) and result.images == 4


def test_agreement_of_independent_judges_is_near_zero_and_of_copies_is_one():
    rng = np.random.default_rng(0)
    images = np.repeat(np.arange(200), 5)
    assert abs(stats.agreement(images, rng.random(1000) < 0.5).alpha) < 0.05
    same = np.repeat(rng.random(200) < 0.5, 5)
    assert stats.agreement(images, same).alpha == pytest.approx(1.0)
    assert stats.agreement(["a", "b"], [True, False]) is None  # no image judged twice
