"""The statistics of human evaluation on simulated judges whose accuracy (and psychometric threshold)
is known: the estimates must recover the truth within their intervals, a clear difference between
two fake sources must be significant and no difference must (mostly) not be. The HYPE-time staircase
and its threshold statistic (the modal exposure) are checked against Zhou et al. (2019)'s rule."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gankit.human_eval import stats
from gankit.human_eval.protocol import (
    EXPOSURES_MS,
    START_LEVEL,
    TRACKED_ACCURACY,
    PlannedTrial,
    Protocol,
    exposure_for,
    make_plan,
    staircase_levels,
    staircase_step,
)

BOOTS = 1000


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


def _tracked_threshold(alpha, beta=2.0):
    """Exposure at which that judge is right TRACKED_ACCURACY (63%) of the time: where HYPE's
    staircase (3 right: −30 ms, 1 wrong: +10 ms) settles."""
    return alpha * (-np.log(1 - 2 * (TRACKED_ACCURACY - 0.5))) ** (1 / beta)


def _run_staircase(alpha: float, trials: int, rng: np.random.Generator) -> list[int]:
    """The exposures one simulated judge is shown, moved by the protocol's own staircase step."""
    level, streak, shown = START_LEVEL, 0, []
    for _ in range(trials):
        shown.append(EXPOSURES_MS[level])
        level, streak = staircase_step(level, streak, bool(rng.random() < _weibull_correct(shown[-1], alpha)))
    return shown


def test_staircase_follows_hype_rule_within_its_range():
    assert EXPOSURES_MS[0] == 100 and EXPOSURES_MS[-1] == 1000 and EXPOSURES_MS[START_LEVEL] == 500
    levels = staircase_levels([True, True, True, True, True, False, False, True, True, True])
    assert [EXPOSURES_MS[level] for level in levels] == [500, 500, 500, 470, 470, 470, 480, 490, 490, 490, 460]
    assert EXPOSURES_MS[staircase_levels([False] * 60)[-1]] == 1000
    assert EXPOSURES_MS[staircase_levels([True] * 60)[-1]] == 100  # 20 steps of 30 ms, stopped at 100
    assert TRACKED_ACCURACY == pytest.approx(0.630, abs=1e-3)  # 30·p³ = 10·(1 − p³)


def test_modal_exposure_is_the_most_shown_exposure():
    assert stats.modal_exposure([500, 470, 440, 450, 450, 460, 450, 460]) == 450
    assert stats.modal_exposure([500, 470, 470, 480, 480]) == 475  # a tie: the mean of the tied exposures


@pytest.mark.parametrize("alpha", [300, 500, 800])
def test_modal_exposure_of_a_long_staircase_is_the_judges_threshold(alpha):
    """The paper's statistic recovers a simulated judge's known threshold once the staircase has
    settled (long enough that the descent from 500 ms does not count)."""
    exposures = _run_staircase(alpha, 6000, np.random.default_rng(alpha))
    assert stats.modal_exposure(exposures) == pytest.approx(_tracked_threshold(alpha), abs=20)


def test_hype_time_interval_covers_the_mean_modal_exposure():
    """HYPE-time blocks of 150 images: the mean over judges of their modal exposures, with its interval
    over judges, covers the population's mean (computed here from 400 simulated judges)."""
    def alphas(rng, n):
        return rng.lognormal(np.log(500), 0.25, n)

    rng = np.random.default_rng(99)
    truth = np.mean([stats.modal_exposure(_run_staircase(a, 150, rng)) for a in alphas(rng, 400)])
    covered = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        modes = [stats.modal_exposure(_run_staircase(a, 150, rng)) for a in alphas(rng, 15)]
        covered += stats.mean_over_judges(modes, BOOTS, rng).contains(truth)
    assert covered >= 17


def test_modal_exposure_separates_a_better_model():
    """Fakes that need longer to spot (a better model) get a significantly higher threshold."""
    rng = np.random.default_rng(3)
    alphas = rng.lognormal(np.log(300), 0.2, 12)
    better = [stats.modal_exposure(_run_staircase(2.0 * a, 150, rng)) for a in alphas]
    worse = [stats.modal_exposure(_run_staircase(a, 150, rng)) for a in alphas]
    comparison = stats.compare_means(better, worse, BOOTS, rng)
    assert comparison.significant and comparison.difference.value > 0


def test_attention_checks_and_practice_do_not_move_the_staircase():
    protocol = Protocol("hype-time")
    practice = PlannedTrial(0, "p", "practice", 0)
    check = PlannedTrial(5, "a", "attention", 0)
    history = [(0, True)] * 3 + [(1, False)]
    assert exposure_for(protocol, practice, history) == 500
    assert exposure_for(protocol, check, history) == 470
    assert exposure_for(protocol, PlannedTrial(6, "b", "trial", 1), history) == 510
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
