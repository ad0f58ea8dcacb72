"""The Evaluator and `gankit eval`: metric plumbing, reference caching, best checkpoints, errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import Tensor, nn

from gankit.errors import UserError
from gankit.metrics.classes import class_coverage
from gankit.metrics.evaluator import Evaluator, Reference
from gankit.metrics.fid import FeatureStats, frechet_distance
from gankit.metrics.prdc import prdc
from gankit.metrics.stacked import stacked_mnist_modes
from gankit.train import checkpoint
from tests.conftest import set_args


class PooledPixels(nn.Module):
    """A stand-in feature space: 4×4 average-pooled pixels as features, a fixed linear map as logits."""

    name, dim, num_classes, resolution = "pooled-pixels", 16, 10, 1

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(16, 10)
        torch.nn.init.normal_(self.head.weight, generator=torch.Generator().manual_seed(0))
        self.calls = 0

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        self.calls += 1
        x = nn.functional.adaptive_avg_pool2d(images.float() / 255, 4).mean(dim=1).flatten(1)
        return x, self.head(x)


def _images(n: int, seed: int, bright: float = 0.0) -> Tensor:
    x = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 200 + bright
    return x.clamp(0, 255).to(torch.uint8)


def test_metrics_compare_generated_with_reference_features(tmp_path):
    reference = Reference("toy", "toy", _images(400, 0), heldout=_images(200, 1))
    evaluator = Evaluator(reference, ["fid", "is", "kid", "pr", "dc", "parzen"], PooledPixels(), cache_dir=tmp_path)
    same, shifted = evaluator(_images(300, 2)), evaluator(_images(300, 3, bright=40))
    assert set(same) == {"fid", "is", "is_std", "kid", "kid_std", "precision", "recall", "density", "coverage",
                         "parzen", "parzen_se", "parzen_sigma"}
    assert same["fid"] < shifted["fid"] and same["kid"] < shifted["kid"]
    assert same["recall"] > shifted["recall"]
    # FID is the Fréchet distance of the two feature sets, nothing else
    real = PooledPixels()(reference.images)[0]
    fake = PooledPixels()(_images(300, 3, bright=40))[0]
    expected = frechet_distance(FeatureStats.from_features(real, "p"), FeatureStats.from_features(fake, "p"))
    assert shifted["fid"] == pytest.approx(expected, rel=1e-9)
    # precision and recall (k = 3) and density and coverage (k = 5) of (real, fake), in that order
    pr, dc = prdc(real, fake, 3), prdc(real, fake, 5)
    assert (shifted["precision"], shifted["recall"]) == pytest.approx((pr.precision, pr.recall), rel=1e-9)
    assert (shifted["density"], shifted["coverage"]) == pytest.approx((dc.density, dc.coverage), rel=1e-9)
    assert pr.precision != pr.recall and (pr.density, pr.coverage) != (dc.density, dc.coverage)


def test_reference_features_are_cached_by_content_and_space(tmp_path):
    extractor = PooledPixels()
    reference = Reference("toy", "toy", _images(100, 0))
    Evaluator(reference, ["fid"], extractor, cache_dir=tmp_path)(_images(50, 1))
    assert extractor.calls == 2  # the reference, then the fakes (one batch each)
    Evaluator(reference, ["fid"], extractor, cache_dir=tmp_path)(_images(50, 1))
    assert extractor.calls == 3  # the reference came from the cache: only the fakes were run
    changed = Reference("toy", "toy", _images(100, 9))  # same name, other pixels: a new entry
    Evaluator(changed, ["fid"], extractor, cache_dir=tmp_path)(_images(50, 1))
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    # a corrupt cache entry is recomputed, not trusted
    for path in tmp_path.glob("*.safetensors"):
        path.write_bytes(b"garbage")
    assert Evaluator(reference, ["fid"], extractor, cache_dir=tmp_path)(_images(50, 1))["fid"] >= 0
    # ...and so is a readable one that does not fit the reference (rows cut, or NaN written in)
    from safetensors.torch import save_file

    expected = Evaluator(reference, ["fid"], extractor, cache_dir=tmp_path)(_images(50, 1))["fid"]
    for edited in (torch.zeros(50, 16), torch.full((100, 16), float("nan"))):
        for path in tmp_path.glob("*.safetensors"):
            save_file({"features": edited}, path)
        calls = extractor.calls
        assert Evaluator(reference, ["fid"], extractor, cache_dir=tmp_path)(_images(50, 1))["fid"] == expected
        assert extractor.calls == calls + 2  # the reference was computed again
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UserError, match="the feature cache folder .*a-file cannot be made"):
        Evaluator(reference, ["fid"], extractor, cache_dir=tmp_path / "a-file")(_images(50, 1))


@pytest.mark.parametrize(
    "metrics, reference, fake, message",
    [
        (["fidd"], Reference("toy", "toy", _images(10, 0)), None, "unknown metric 'fidd'"),
        (["parzen"], Reference("toy", "toy", _images(10, 0)), None, "needs a held-out test split"),
        (["modes"], Reference("toy", "toy", _images(10, 0)), None, "toy is neither"),
        (["fid"], Reference("toy", "toy", _images(10, 0)), torch.zeros(4, 3, 8, 8, dtype=torch.uint8), "do not match"),
    ],
)
def test_bad_requests_are_user_errors(tmp_path, metrics, reference, fake, message):
    with pytest.raises(UserError, match=message):
        Evaluator(reference, metrics, PooledPixels(), cache_dir=tmp_path)(fake if fake is not None else _images(4, 1))


class ChannelDigit(nn.Module):
    """A 'classifier' that reads the digit off the image's brightness (digit d ↔ pixel value 20·d)."""

    name, dim, num_classes, resolution = "brightness", 1, 10, 1

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        digit = (images.float().mean(dim=(1, 2, 3)) / 20).round().long().clamp(0, 9)
        return digit[:, None].float(), nn.functional.one_hot(digit, 10).float()


def test_stacked_modes_read_each_channel_as_a_digit():
    """Each channel is one digit of a three-digit mode: 123 and 321 are different modes."""
    digits = torch.tensor([[1, 2, 3], [1, 2, 3], [9, 0, 0], [4, 4, 4], [3, 2, 1], [0, 1, 0], [1, 0, 0]])
    images = (digits[:, :, None, None] * 20).expand(-1, -1, 5, 5).to(torch.uint8)
    result = stacked_mnist_modes(images, ChannelDigit())
    assert result["modes"] == 6
    counts = torch.zeros(1000)
    counts[[123, 900, 444, 321, 10, 100]] = torch.tensor([2.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    p = counts[counts > 0] / 7
    assert result["kl"] == pytest.approx(float((p * torch.log(p * 1000)).sum()))


def test_an_evaluator_of_stacked_mnist_counts_its_thousand_modes():
    digits = torch.tensor([[1, 2, 3], [1, 2, 3], [9, 0, 0], [4, 4, 4]])
    images = (digits[:, :, None, None] * 20).expand(-1, -1, 5, 5).to(torch.uint8)
    evaluator = Evaluator(Reference("stacked-mnist", "stacked-mnist", images, stacked=True), ["modes"], None, ChannelDigit())
    assert evaluator.modes_total == 1000 and evaluator(images)["modes"] == 3


def test_modes_are_refused_without_a_classifier_or_below_its_resolution():
    from gankit.metrics.evaluator import build_evaluator

    reference = Reference("digits", "digits", _images(10, 0))
    with pytest.raises(UserError, match="needs a classifier"):
        Evaluator(reference, ["modes"], None)
    small = Reference("fashion-mnist", "fashion-mnist", _images(10, 0))  # 8×8, the classifier's 28×28
    with pytest.raises(UserError, match="at least the fashion-mnist-classifier's 28×28; fashion-mnist is 8×8"):
        build_evaluator(small, ["modes"], "auto", torch.device("cpu"))
    fine = ChannelDigit()
    fine.resolution = 28  # an Evaluator built directly refuses it as well
    with pytest.raises(UserError, match="at least the brightness's 28×28; digits is 8×8"):
        Evaluator(reference, ["modes"], None, fine)


def test_class_coverage_counts_the_classes_holding_one_percent_of_the_samples():
    """200 one-channel images: 150 of class 1, 45 of class 2, 3 of class 3 (1.5%: covered), 2 of
    class 4 (1%: covered) and none of the other six."""
    per_class = torch.tensor([0, 150, 45, 3, 2, 0, 0, 0, 0, 0])
    digits = torch.repeat_interleave(torch.arange(10), per_class)
    images = (digits[:, None, None, None] * 20).expand(-1, 1, 5, 5).to(torch.uint8)
    result = class_coverage(images, ChannelDigit())
    assert result["modes"] == 4
    p = per_class[per_class > 0].double() / 200
    assert result["kl"] == pytest.approx(float((p * torch.log(p * 10)).sum()))
    assert class_coverage(images[:199], ChannelDigit())["modes"] == 3  # 1 of 199 is under 1%


# ------------------------------------------------------------------ end to end, in the digits classifier's space

DIGITS_RUN = set_args(
    "data.name=digits", "model.z_dim=8", "model.g.kind=dcgan", "model.g.width=8",
    "model.d.kind=dcgan", "model.d.width=8", "train.batch_size=16", "log.every=2",
)


def test_eval_of_a_run_prints_a_table_and_merges_its_json(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(tmp_path / "none.pth"))  # never the Inception
    run = tmp_path / "run"
    code, _, err = cli("train", "--preset", "dcgan-fashion", "--out", run, *DIGITS_RUN,
                       *set_args("train.steps=4", "log.eval_every=4", "log.checkpoint_every=4"))
    assert code == 0, err
    code, out, err = cli("eval", run, "--features", "digits", "--metrics", "fid,kid,pr", "-n", 300,
                         "--reference-n", 300, "--neighbours", tmp_path / "nn.png")
    assert code == 0, err
    assert "feature space: digits-classifier" in out and "fid" in out and "precision" in out
    written = run / "evals" / "step-00000004-digits-classifier.json"
    record = json.loads(written.read_text())
    assert record["generated"] == 300 and record["feature_space"] == "digits-classifier"
    assert record["metrics"]["fid"] > 0 and 0 <= record["metrics"]["recall"] <= 1
    assert (tmp_path / "nn.png").stat().st_size > 0 and record["metrics"]["nn_rms"] > 0
    # a second evaluation of other metrics keeps the first one's numbers
    assert cli("eval", run, "--features", "digits", "--metrics", "is", "-n", 300, "--reference-n", 300)[0] == 0
    merged = json.loads(written.read_text())["metrics"]
    assert merged["fid"] == record["metrics"]["fid"] and "is" in merged
    # ...but one with other settings would mix numbers that cannot be compared: refused, file kept
    before = written.read_bytes()
    for other, differs in ((["-n", 200], "generated 300 there, 200 now"), (["-n", 300, "--seed", 1], "seed 0 there, 1 now")):
        code, _, err = cli("eval", run, "--features", "digits", "--metrics", "fid", "--reference-n", 300, *other)
        assert code == 2 and "holds an evaluation made with other settings" in err and differs in err, err
    assert written.read_bytes() == before
    # a record written before the seed was recorded made with the default one, 0: merged into
    written.write_text(json.dumps({k: v for k, v in json.loads(before).items() if k != "seed"}))
    assert cli("eval", run, "--features", "digits", "--metrics", "kid", "-n", 300, "--reference-n", 300)[0] == 0
    assert {"fid", "is", "kid"} <= set(json.loads(written.read_text())["metrics"])
    # an --out that is not an evaluation is refused before anything is computed or written
    (tmp_path / "notes.json").write_text("my notes")
    (tmp_path / "keep.png").write_text("keep me")
    code, _, err = cli("eval", run, "--features", "digits", "--metrics", "fid", "-n", 300, "--reference-n", 300,
                       "--out", tmp_path / "notes.json", "--neighbours", tmp_path / "new.png")
    assert code == 2 and "is not a gankit evaluation" in err
    assert (tmp_path / "notes.json").read_text() == "my notes" and not (tmp_path / "new.png").exists()
    # JSON of the user's own is no evaluation either, and an existing picture is replaced only on request
    (tmp_path / "notes.json").write_text('{"mine": 1}')
    code, _, err = cli("eval", run, "--features", "digits", "--metrics", "fid", "-n", 300, "--reference-n", 300,
                       "--out", tmp_path / "notes.json")
    assert code == 2 and "is not a gankit evaluation" in err and (tmp_path / "notes.json").read_text() == '{"mine": 1}'
    code, _, err = cli("eval", run, "--features", "digits", "--metrics", "fid", "-n", 300, "--reference-n", 300,
                       "--neighbours", tmp_path / "keep.png")
    assert code == 2 and "keep.png already exists (pass --overwrite" in err and (tmp_path / "keep.png").read_text() == "keep me"
    assert cli("eval", run, "--features", "digits", "--metrics", "fid", "-n", 300, "--reference-n", 300,
               "--neighbours", tmp_path / "keep.png", "--overwrite")[0] == 0
    assert (tmp_path / "keep.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--metrics", "fid,nope"], "unknown metric 'nope'"),
        (["--features", "imagenet"], "unknown feature space 'imagenet'"),
        (["--against", "mnist", "--set", "data.root=/nonexistent"], "mnist train IDX files"),
        (["--set", "model.z_dim=3"], "takes data.KEY=VALUE"),
        (["--features", "inception"], "Inception weights file"),
        (["--metrics", ","], "--metrics ',' names no metric"),
        (["--reference-n", "-5"], "--reference-n must be at least 2 reference images, got -5"),
        (["-n", "5", "--metrics", "is", "--features", "digits"], "needs at least 10, got 5 (raise -n)"),
        (["--neighbours", "."], "--neighbours . is a folder"),
        (["--against", "grid"], "--against grid is not an image set"),
    ],
)
def test_bad_eval_requests_are_one_line_and_exit_2(tmp_path, cli, monkeypatch, extra, message):
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(tmp_path / "none.pth"))
    run = tmp_path / "run"
    assert cli("train", "--preset", "dcgan-fashion", "--out", run, *DIGITS_RUN, *set_args("train.steps=2"))[0] == 0
    code, _, err = cli("eval", run, "-n", 50, "--reference-n", 50, *extra)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_eval_of_an_image_folder_needs_a_reference(tmp_path, cli):
    (tmp_path / "images").mkdir()
    code, _, err = cli("eval", tmp_path / "images")
    assert code == 2 and "needs --against DATA" in err


def test_a_corrupt_image_in_the_evaluated_folder_is_one_line_with_advice_that_applies(tmp_path, cli):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "broken.png").write_bytes(b"not a png")
    code, _, err = cli("eval", tmp_path / "images", "--against", "digits", "--features", "digits")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "corrupt image" in err and "broken.png" in err and "skip_corrupt" not in err


def test_training_logs_metrics_and_keeps_the_best_checkpoint(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    code, _, err = cli("train", "--preset", "dcgan-fashion", "--out", run, *DIGITS_RUN, *set_args(
        "train.steps=8", "log.eval_every=2", "log.checkpoint_every=8", "log.keep_checkpoints=1",
        "log.metrics=[fid, kid]", "log.metrics_samples=100", "log.features=digits", "log.best=fid",
    ))
    assert code == 0, err
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    fids = {r["step"]: r["fid"] for r in rows if r["kind"] == "eval"}
    assert sorted(fids) == [0, 2, 4, 6, 8]
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    assert best["metric"] == "fid" and best["value"] == min(fids.values())
    assert fids[best["step"]] == best["value"]
    assert set(checkpoint.list_steps(run)) == {best["step"], 8}  # the newest, plus the best


def test_preset_mlp_digits_logs_the_digit_classes_its_samples_cover(tmp_path, cli):
    run = tmp_path / "run"
    code, out, err = cli("train", "--preset", "mlp-digits", "--out", run,
                         *set_args("train.steps=100", "log.eval_every=50", "log.metrics_samples=200"))
    assert code == 0, err
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = {r["step"]: r for r in rows if r["kind"] == "eval"}
    assert sorted(evals) == [0, 50, 100] and "eval @ 100: modes" in out
    # The logged values are the digits classifier's on the run's fixed-z samples (seed + 3). By
    # step 100 G has left its first collapse (3 classes, KL 1.53), where the MNIST and
    # Fashion-MNIST classifiers would count 1 and 2.
    from gankit.metrics.classifier import load_classifier
    from gankit.sample import load_run_generator

    g = load_run_generator(run)
    expected = class_coverage(g.source.to_uint8(g.generate(200, g.cfg.seed + 3)), load_classifier("digits"))
    assert evals[100]["modes"] == expected["modes"] and evals[100]["kl"] == pytest.approx(expected["kl"], rel=1e-5)


def test_best_must_be_a_reported_metric(tmp_path, cli):
    code, _, err = cli("train", "--preset", "dcgan-fashion", "--out", tmp_path / "r", *DIGITS_RUN,
                       *set_args("train.steps=2", "log.best=fid"))
    assert code == 2 and "log.best=fid is not a metric this run reports" in err


def test_eval_of_a_folder_of_real_images_scores_better_than_noise(tmp_path, cli, monkeypatch):
    from PIL import Image

    from gankit.data.images import load_digits

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    images, _ = load_digits()
    noise = torch.randint(0, 256, (300, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    for name, batch in (("real", images[-300:, 0]), ("noise", noise)):
        (tmp_path / name).mkdir()
        for i, image in enumerate(batch.numpy()):
            Image.fromarray(image).convert("RGB").save(tmp_path / name / f"{i:04d}.png")
    scores = {}
    for name in ("real", "noise"):
        out = tmp_path / f"{name}.json"
        code, _, err = cli("eval", tmp_path / name, "--against", "digits", "--features", "digits",
                           "--metrics", "fid,pr", "--reference-n", 1000, "--out", out)
        assert code == 0, err
        scores[name] = json.loads(out.read_text())["metrics"]
    assert scores["real"]["fid"] < 0.1 * scores["noise"]["fid"]
    assert scores["real"]["precision"] > 0.6 and scores["noise"]["precision"] < 0.4
    assert scores["real"]["recall"] > 0.6 and scores["noise"]["recall"] < 0.2


def test_modes_of_a_folder_count_the_digit_classes_it_holds(tmp_path, cli):
    """`gankit eval --metrics modes` on single-channel data: real digits of every class cover all
    10 classes; the same number of images drawn from two classes cover 2."""
    from PIL import Image

    from gankit.data.images import load_digits

    images, labels = load_digits()
    every, two = images[-300:, 0], images[(labels == 3) | (labels == 7)][:300, 0]
    modes = {}
    for name, batch in (("every", every), ("two", two)):
        (tmp_path / name).mkdir()
        for i, image in enumerate(batch.numpy()):
            Image.fromarray(image).save(tmp_path / name / f"{i:04d}.png")
        code, out, err = cli("eval", tmp_path / name, "--against", "digits", "--metrics", "modes",
                             "--out", tmp_path / f"{name}.json")
        assert code == 0, err
        assert "modes scored by the digits-classifier" in out
        modes[name] = json.loads((tmp_path / f"{name}.json").read_text())["metrics"]
    assert modes["every"]["modes"] == 10 and modes["two"]["modes"] == 2, modes
    assert modes["two"]["kl"] > modes["every"]["kl"] + 1


def test_a_fall_in_the_classes_covered_is_flagged_as_mode_collapse():
    from gankit.report.probes import CollapseAlarm, MetricsProbe

    def images(classes: list[int]) -> Tensor:
        digits = torch.tensor(classes).repeat(200 // len(classes))
        return (digits[:, None, None, None] * 20).expand(-1, 1, 5, 5).to(torch.uint8)

    class Pixels:
        """A source whose samples are already uint8 images."""

        @staticmethod
        def to_uint8(x: Tensor) -> Tensor:
            return x

    evaluator = Evaluator(Reference("digits", "digits", images(list(range(10)))), ["modes"], None, ChannelDigit())
    probe = MetricsProbe(evaluator, Pixels(), samples=200, alarm=CollapseAlarm(0.5, []))
    assert probe.evaluate(0, images(list(range(10))), None).events == []
    collapsed = probe.evaluate(1, images([3, 7]), None)
    assert collapsed.metrics["modes"] == 2
    assert [e[1] for e in collapsed.events] == ["mode collapse at step 1: modes captured fell from 10 to 2 of 10"]
    assert probe.evaluate(2, images([3, 7]), None).events == []  # once per fall


def test_nearest_neighbours_are_the_closest_rows_in_order():
    from gankit.metrics.neighbours import nearest, neighbour_rows

    pool = torch.tensor([[0.0], [10.0], [3.0], [7.0]])
    distance, index = nearest(torch.tensor([[4.0], [9.0]]), pool, 2)
    assert index.tolist() == [[2, 3], [1, 3]] and distance.tolist() == [[1.0, 3.0], [1.0, 2.0]]
    # A generated image copied from the training set is at distance 0: a memorisation figure of 0.
    real = _images(6, 0)
    rows, figures = neighbour_rows(real[[4, 1]], real, k=2)
    assert figures["nn_rms"] == 0.0
    assert rows.shape == (2, 3, *real.shape[1:]) and torch.equal(rows[:, 1], real[[4, 1]])  # itself, then the next
    brighter = (real[[4, 1]].int() + 51).clamp(max=255).to(torch.uint8)
    rms = neighbour_rows(brighter, real, k=2)[1]["nn_rms"]
    assert 0.0 < rms <= 0.2  # at most the 51/255 shift away, per pixel


def test_eval_of_a_run_on_points_is_refused_in_one_line(trained_run, cli):
    code, _, err = cli("eval", trained_run, "--against", "digits", "-n", 20, "--reference-n", 100)
    assert code == 2 and err.count("\n") == 1 and "trained on grid, which is not images" in err, err


def _digit_folder(folder, images) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    for i, image in enumerate(images.numpy()):
        Image.fromarray(image).save(folder / f"{i:04d}.png")


def test_eval_of_two_folders_takes_the_reference_shape_from_its_images(tmp_path, cli, monkeypatch):
    """The pytorch-fid convention, `gankit eval FOLDER_A --against FOLDER_B`: the same numbers as
    naming the folder's data settings in full, with the size and channels read off the images."""
    from gankit.data.images import load_digits

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    images, _ = load_digits()
    _digit_folder(tmp_path / "a", images[:200, 0])
    _digit_folder(tmp_path / "b", images[-300:, 0])
    common = ["--features", "digits", "--metrics", "fid,kid"]
    code, out, err = cli("eval", tmp_path / "a", "--against", tmp_path / "b", *common, "--out", tmp_path / "short.json")
    assert code == 0, err
    assert "200 generated vs 300 reference images (folder-all-8x8)" in out
    code, _, err = cli("eval", tmp_path / "a", "--against", "folder", *common, "--out", tmp_path / "long.json",
                       *set_args(f"data.path={tmp_path / 'b'}", "data.resolution=8", "data.channels=1"))
    assert code == 0, err
    short, long = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("short", "long"))
    assert short["metrics"] == long["metrics"] and short["reference"] == 300
    # `--against folder` with a path and no size also reads the size off the images
    code, _, err = cli("eval", tmp_path / "a", "--against", "folder", *common, *set_args(f"data.path={tmp_path / 'b'}"))
    assert code == 0 and err == "", err


def test_a_reference_folder_of_mixed_sizes_needs_the_size_given(tmp_path, cli, monkeypatch):
    from PIL import Image

    from gankit.data.images import load_digits

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    images, _ = load_digits()
    _digit_folder(tmp_path / "a", images[:50, 0])
    _digit_folder(tmp_path / "b", images[-50:, 0])
    Image.new("L", (12, 16), 0).save(tmp_path / "b" / "big.png")
    common = ["eval", tmp_path / "a", "--against", tmp_path / "b", "--features", "digits", "--metrics", "fid"]
    code, _, err = cli(*common)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "different sizes (short side 8 in 0000.png, 12 in big.png)" in err and "--set data.resolution=N" in err
    code, out, err = cli(*common, "--set", "data.resolution=8")
    assert code == 0 and "51 reference images" in out, err


@pytest.mark.parametrize("where", ["evaluated", "reference"])
def test_a_decompression_bomb_in_either_folder_of_eval_is_one_line(tmp_path, cli, where):
    from gankit.data.images import load_digits
    from tests.imagedata import write_png_header

    images, _ = load_digits()
    _digit_folder(tmp_path / "evaluated", images[:20, 0])
    _digit_folder(tmp_path / "reference", images[-20:, 0])
    write_png_header(tmp_path / where / "bomb.png", 100_000, 100_000)
    code, _, err = cli("eval", tmp_path / "evaluated", "--against", tmp_path / "reference", "--features", "digits",
                       "--metrics", "fid")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"corrupt image {tmp_path / where / 'bomb.png'}: too large to decode safely" in err


@pytest.mark.parametrize(
    "against, message",
    [
        ("nowhere/images", "--against nowhere/images is neither a data set (gaussian-1d, "),
        ("mnst", "unknown data.name 'mnst' (did you mean 'mnist'?)"),
    ],
)
def test_an_against_that_is_neither_a_data_set_nor_a_folder_is_one_line(tmp_path, cli, against, message):
    (tmp_path / "a").mkdir()
    code, _, err = cli("eval", tmp_path / "a", "--against", against)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_eval_help_says_against_takes_a_data_set_or_a_folder(cli):
    code, out, _ = cli("eval", "--help")
    assert code == 0
    assert "a data set name" in out and "or a folder of images" in out and "--against FOLDER_B" in " ".join(out.split())
