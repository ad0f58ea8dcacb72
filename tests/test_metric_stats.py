"""FID, IS, KID and PRDC from feature vectors, against the reference packages on the same inputs.

pytorch-fid (sqrtm-based FID), torch-fidelity (FID from statistics, IS, KID) and prdc are the
references; each gets exactly the features (float64) or statistics gankit gets.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import scipy.linalg
import torch
from prdc import compute_prdc
from pytorch_fid import fid_score
from safetensors.torch import save as save_safetensors
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from gankit.errors import UserError
from gankit.metrics import prdc as prdc_module
from gankit.metrics.fid import FeatureStats, frechet_distance
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kernel_inception_distance
from gankit.metrics.prdc import dc_metric, pr_metric, prdc

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def correlated(n: int, dim: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """Gaussian features with a full (non-diagonal) covariance."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=g, dtype=torch.float64) / dim**0.5
    return scale * torch.randn(n, dim, generator=g, dtype=torch.float64) @ mixing + shift


def pytorch_fid(a: torch.Tensor, b: torch.Tensor, monkeypatch) -> float:
    """pytorch-fid's sqrtm FID; its `disp=False` is gone in scipy 1.18, so sqrtm is wrapped."""

    def sqrtm(matrix, disp=True):
        root = scipy.linalg.sqrtm(matrix)
        return root if disp else (root, 0.0)

    monkeypatch.setattr(fid_score, "linalg", types.SimpleNamespace(sqrtm=sqrtm))
    stats = [(x.numpy().mean(axis=0), np.cov(x.numpy(), rowvar=False)) for x in (a, b)]
    return float(fid_score.calculate_frechet_distance(*stats[0], *stats[1]))


def relative(x: float, ref: float) -> float:
    return abs(x - ref) / abs(ref)


# --- FID ---------------------------------------------------------------------------------------


def test_feature_stats_match_numpy():
    x = correlated(200, 16, seed=0)
    stats = FeatureStats.from_features(x.float(), "toy")
    assert stats.mu.dtype == stats.sigma.dtype == torch.float64
    assert stats.count == 200 and stats.feature_space == "toy"
    np.testing.assert_allclose(stats.mu.numpy(), x.float().double().numpy().mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(
        stats.sigma.numpy(), np.cov(x.float().double().numpy(), rowvar=False), atol=1e-12
    )


def test_fid_matches_pytorch_fid_and_torch_fidelity(monkeypatch):
    real = correlated(500, 64, seed=1)
    fake = correlated(500, 64, seed=2, shift=0.3, scale=1.4)
    ours = frechet_distance(FeatureStats.from_features(real, "x"), FeatureStats.from_features(fake, "x"))
    ref_sqrtm = pytorch_fid(real, fake, monkeypatch)
    ref_eig = fid_statistics_to_metric(
        fid_features_to_statistics(real), fid_features_to_statistics(fake), verbose=False
    )["frechet_inception_distance"]
    assert ours > 1
    assert relative(ours, ref_sqrtm) < 1e-4
    assert relative(ours, ref_eig) < 1e-4


def test_fid_with_fewer_samples_than_dims_is_real_and_agrees_with_eigvals():
    real, fake = correlated(20, 64, seed=3), correlated(30, 64, seed=4, shift=0.2)
    ours = frechet_distance(FeatureStats.from_features(real, "x"), FeatureStats.from_features(fake, "x"))
    ref = fid_statistics_to_metric(
        fid_features_to_statistics(real), fid_features_to_statistics(fake), verbose=False
    )["frechet_inception_distance"]
    assert np.isfinite(ours) and ours > 0
    assert relative(ours, ref) < 1e-4  # torch-fidelity keeps the real part of complex roots


def test_fid_of_identical_sets_is_zero():
    for n in (500, 20):  # full-rank and singular covariances
        stats = FeatureStats.from_features(correlated(n, 64, seed=5), "x")
        assert abs(frechet_distance(stats, stats)) < 1e-8 * float(stats.sigma.trace())


def test_fid_refuses_different_feature_spaces_and_dims():
    a = FeatureStats.from_features(correlated(50, 8, seed=6), "inception")
    with pytest.raises(UserError, match="feature spaces"):
        frechet_distance(a, FeatureStats.from_features(correlated(50, 8, seed=7), "mnist-classifier"))
    with pytest.raises(UserError, match="dimension"):
        frechet_distance(a, FeatureStats.from_features(correlated(50, 9, seed=7), "inception"))


def test_feature_stats_reject_bad_features():
    with pytest.raises(UserError, match="2-D"):
        FeatureStats.from_features(torch.zeros(10), "x")
    with pytest.raises(UserError, match="at least 2"):
        FeatureStats.from_features(torch.zeros(1, 4), "x")
    with pytest.raises(UserError, match="NaN"):
        FeatureStats.from_features(torch.tensor([[0.0, 1.0], [float("nan"), 2.0]]), "x")


def test_feature_stats_save_load_round_trip(tmp_path):
    stats = FeatureStats.from_features(correlated(40, 8, seed=8), "inception-v3/pool3")
    path = tmp_path / "ref.safetensors"
    stats.save(path)
    loaded = FeatureStats.load(path)
    assert [p.name for p in tmp_path.iterdir()] == ["ref.safetensors"]  # no temporary left behind
    assert torch.equal(loaded.mu, stats.mu) and torch.equal(loaded.sigma, stats.sigma)
    assert (loaded.count, loaded.feature_space) == (40, "inception-v3/pool3")


def test_feature_stats_load_reports_bad_files(tmp_path):
    good = tmp_path / "good.safetensors"
    FeatureStats.from_features(correlated(40, 8, seed=9), "x").save(good)
    blob = good.read_bytes()
    cases = {
        "weights.safetensors": save_safetensors({"w": torch.zeros(3)}),  # not statistics
        "truncated.safetensors": blob[: len(blob) // 2],
        "garbage.safetensors": b"not a safetensors file at all",
        "empty.safetensors": b"",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name in [*cases, "missing.safetensors"]:
        with pytest.raises(UserError, match=name) as info:
            FeatureStats.load(tmp_path / name)
        assert "\n" not in str(info.value)


# --- Inception Score ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1000, 1003])  # 1003: unequal splits, boundaries i*N//splits
def test_inception_score_matches_torch_fidelity(n):
    logits = 3 * torch.randn(n, 10, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    ref = isc_features_to_metric(logits, splits=10, shuffle=False)
    mean, std = inception_score(logits, splits=10)
    assert relative(mean, ref["inception_score_mean"]) < 1e-10
    assert relative(std, ref["inception_score_std"]) < 1e-8


def test_inception_score_matches_torch_fidelity_shuffled_order():
    """torch-fidelity shuffles with RandomState(2020) first; the same order gives the same score."""
    logits = 3 * torch.randn(1000, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref = isc_features_to_metric(logits)
    order = np.random.RandomState(2020).permutation(len(logits))
    mean, std = inception_score(logits[order])
    assert relative(mean, ref["inception_score_mean"]) < 1e-10
    assert relative(std, ref["inception_score_std"]) < 1e-8


def test_inception_score_limits():
    mean, std = inception_score(torch.zeros(500, 7))
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    labels = torch.arange(1000) % 10  # every split uses all ten classes equally
    confident = 100.0 * torch.nn.functional.one_hot(labels, 10).double()
    mean, std = inception_score(confident)
    assert mean == pytest.approx(10.0, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_underflowing_class_is_not_nan():
    logits = torch.zeros(100, 3)
    logits[:, 2] = -1e4  # p(class 2) underflows to exactly 0 everywhere
    mean, _ = inception_score(logits, splits=2)
    assert mean == pytest.approx(1.0)


# --- KID ---------------------------------------------------------------------------------------


def torch_fidelity_kid(real, fake, **kwargs) -> tuple[float, float]:
    out = kid_features_to_metric(real, fake, verbose=False, **kwargs)
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


def test_kid_matches_torch_fidelity_same_subsets():
    real, fake = correlated(300, 32, seed=10), correlated(250, 32, seed=11, shift=0.1, scale=1.2)
    ref = torch_fidelity_kid(real, fake, kid_subsets=20, kid_subset_size=100, rng_seed=7)
    mean, std = kernel_inception_distance(real, fake, subsets=20, subset_size=100, seed=7)
    assert ref[0] > 0.01
    assert relative(mean, ref[0]) < 1e-10 and relative(std, ref[1]) < 1e-8


def test_kid_kernel_options_match_torch_fidelity():
    real, fake = correlated(120, 16, seed=12), correlated(110, 16, seed=13, scale=1.5)
    ref = torch_fidelity_kid(
        real, fake, kid_subsets=5, kid_subset_size=50, rng_seed=3,
        kid_kernel_poly_degree=2, kid_kernel_poly_gamma=0.5, kid_kernel_poly_coef0=0.0,
    )  # fmt: skip
    ours = kernel_inception_distance(
        real, fake, subsets=5, subset_size=50, degree=2, gamma=0.5, coef0=0.0, seed=3
    )
    assert relative(ours[0], ref[0]) < 1e-10 and relative(ours[1], ref[1]) < 1e-8


def test_kid_batches_of_subsets_do_not_change_the_result(monkeypatch):
    real, fake = correlated(200, 8, seed=14), correlated(200, 8, seed=15, shift=0.2)
    whole = kernel_inception_distance(real, fake, subsets=9, subset_size=60)
    monkeypatch.setattr("gankit.metrics.kid._BATCH_ELEMENTS", 1)  # one subset per batch
    assert kernel_inception_distance(real, fake, subsets=9, subset_size=60) == pytest.approx(whole, rel=1e-12)


def test_kid_subset_size_is_capped_at_the_smaller_set():
    real, fake = correlated(80, 8, seed=16), correlated(60, 8, seed=17, shift=0.5)
    ours = kernel_inception_distance(real, fake, subsets=4, subset_size=1000, seed=1)
    ref = torch_fidelity_kid(real, fake, kid_subsets=4, kid_subset_size=60, rng_seed=1)
    assert ours == pytest.approx(ref, rel=1e-10)
    _, std = kernel_inception_distance(fake, fake + 1, subsets=3, subset_size=1000)
    assert std == pytest.approx(0.0, abs=1e-12)  # every subset is all of both sets


def test_kid_rejects_mismatched_dims():
    with pytest.raises(UserError, match="dimension: 8 vs 9"):
        kernel_inception_distance(torch.randn(50, 8), torch.randn(50, 9))


# --- Precision, recall, density, coverage ------------------------------------------------------


@pytest.mark.parametrize("k", [3, 5])
def test_prdc_matches_reference_package(k, capsys):
    real, fake = correlated(300, 16, seed=18), correlated(280, 16, seed=19, shift=0.1, scale=1.1)
    ref = compute_prdc(real.numpy(), fake.numpy(), nearest_k=k)
    ours = prdc(real, fake, k)
    for name in ("precision", "recall", "density", "coverage"):
        assert getattr(ours, name) == pytest.approx(float(ref[name]), abs=1e-6), name
    assert 0 < ours.precision < 1 and 0 < ours.recall < 1 and 0 < ours.coverage < 1
    # the registered metrics take precision and recall at k = 3, density and coverage at k = 5
    registered = pr_metric if k == 3 else dc_metric
    names = ("precision", "recall") if k == 3 else ("density", "coverage")
    inputs = types.SimpleNamespace(real_features=lambda: real, fake_features=fake)
    assert registered(inputs) == {name: getattr(ours, name) for name in names}


def test_prdc_row_blocks_do_not_change_the_result(monkeypatch):
    real, fake = correlated(90, 4, seed=20), correlated(70, 4, seed=21, shift=0.4)
    whole = prdc(real, fake, 3)
    monkeypatch.setattr(prdc_module, "_BLOCK_ELEMENTS", 200)  # 2-3 rows per block
    assert prdc(real, fake, 3) == whole


def test_prdc_radius_excludes_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    # nearest other point: 1, 1, 2, 4
    assert prdc_module.knn_radii(points.double(), 1).tolist() == [1.0, 1.0, 2.0, 4.0]


def test_prdc_on_a_line_with_a_point_on_each_ball_edge():
    """Balls are open (a point at exactly the k-NN distance is outside), as in the reference
    package; continuous random data never lands on an edge, this does. Real radii (k=1): 1, 1, 2, 3."""
    real, fake = torch.tensor([[0.0], [1.0], [3.0], [6.0]]), torch.tensor([[2.0], [4.0], [7.0], [9.0]])
    ours = prdc(real, fake, 1)
    # precision: 2 (in 3's ball), 4 (in 3's and 6's) and 7 (in 6's) of the four; 9 is 3 from 6.
    # recall: fake radii 2, 2, 2, 2; real 0 is 2 from fake 2 (the edge), 1, 3 and 6 are inside one.
    # density: 1 + 2 + 1 + 0 ball memberships / (k·4); coverage: the reals whose nearest fake is
    # inside their own ball, 3 (1 away) and 6 (1 away); fake 2 lies 2 from 0 and on 1's edge.
    assert (ours.precision, ours.recall, ours.density, ours.coverage) == (0.75, 0.75, 1.0, 0.5)
    ref = compute_prdc(real.numpy(), fake.numpy(), nearest_k=1)
    assert (ref["precision"], ref["recall"], ref["density"], ref["coverage"]) == (0.75, 0.75, 1.0, 0.5)


def test_prdc_rejects_bad_input():
    with pytest.raises(UserError, match="dimension"):
        prdc(torch.randn(20, 3), torch.randn(20, 4), 3)
    with pytest.raises(UserError, match="k must"):
        prdc(torch.randn(20, 3), torch.randn(5, 3), 5)


# --- Devices -----------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_metrics_run_on_the_features_device(device):
    real, fake = correlated(120, 8, seed=22), correlated(100, 8, seed=23, shift=0.3)
    cpu = (
        frechet_distance(FeatureStats.from_features(real, "x"), FeatureStats.from_features(fake, "x")),
        inception_score(fake, splits=4),
        kernel_inception_distance(real, fake, subsets=3, subset_size=50),
        prdc(real, fake, 3),
    )
    real, fake = real.to(device), fake.to(device)
    stats = FeatureStats.from_features(real, "x")
    assert stats.mu.device.type == device
    on_device = (
        frechet_distance(stats, FeatureStats.from_features(fake, "x")),
        inception_score(fake, splits=4),
        kernel_inception_distance(real, fake, subsets=3, subset_size=50),
        prdc(real, fake, 3),
    )
    assert on_device[0] == pytest.approx(cpu[0], rel=1e-9)
    assert on_device[1] == pytest.approx(cpu[1], rel=1e-9)
    assert on_device[2] == pytest.approx(cpu[2], rel=1e-9)
    assert on_device[3] == cpu[3]
