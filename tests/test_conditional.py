"""Class-conditional GANs: labels into G (one-hot after the code), the projection D, the labels'
way through the trainer, sampling one class, per-class grids, `label_accuracy`, and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gankit.config import build_config, load_preset
from gankit.data.images import ImageSource
from gankit.errors import UserError
from gankit.metrics.classes import label_accuracy
from gankit.metrics.classifier import load_classifier
from gankit.nets.conditional import ProjectionDiscriminator
from gankit.nets.latent import evaluation_labels, with_labels
from gankit.nets.mlp import MLPDiscriminator
from gankit.objectives.penalties import GradientPenalty
from gankit.report.probes import SampleGridProbe
from gankit.run import build_trainer, generate
from gankit.train import checkpoint
from gankit.train.distributed import Distributed
from tests.conftest import digits_args
from tests.contexts import d_context
from tests.imagedata import write_idx_set

CONDITIONAL = "model.conditional={classes: 10}"


def _refusal(preset: str, *overrides: str) -> str:
    with pytest.raises(UserError) as info:
        build_config(load_preset(preset), list(overrides))
    assert "\n" not in str(info.value)
    return str(info.value)


# ------------------------------------------------------------------------------------ the nets


def test_g_s_input_is_the_code_followed_by_the_label_s_one_hot():
    z = torch.randn(3, 4)
    fed = with_labels(z, torch.tensor([2, 0, 2]), classes=3)
    assert fed.shape == (3, 7)
    assert torch.equal(fed[:, :4], z)
    assert torch.equal(fed[:, 4:], torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 0, 1]]))
    assert with_labels(z, None, classes=0) is z


def test_samples_to_look_at_are_of_every_class_in_turn_or_of_one():
    assert evaluation_labels(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert evaluation_labels(4, 3, label=2).tolist() == [2, 2, 2, 2]
    assert evaluation_labels(4, 0) is None
    with pytest.raises(ValueError, match="not one of this G's classes"):
        evaluation_labels(4, 3, label=3)


def test_the_projection_d_adds_the_label_s_embedding_times_d_s_features():
    torch.manual_seed(0)
    inner = MLPDiscriminator((5,), build_config(load_preset("toy-ring8")).model.d)
    d = ProjectionDiscriminator(inner, classes=4)
    x, labels = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 0, 1])
    f = inner.head_input(x)
    expected = inner(x) + (d.embed.weight[labels] * f).sum(dim=1)
    assert torch.allclose(d(x, labels), expected, atol=1e-6)
    assert torch.allclose(d(x), inner(x))  # without labels: the label-free part alone
    other = (labels + 1) % 4
    change = ((d.embed.weight[other] - d.embed.weight[labels]) * f).sum(dim=1)
    assert torch.allclose(d(x, other) - d(x, labels), change, atol=1e-6)
    assert change.abs().min() > 0  # the label moves every verdict


def test_the_gradient_penalty_judges_its_interpolates_with_their_labels():
    seen = []

    class Recording(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Linear(2, 1)

        def forward(self, x, labels=None):
            seen.append(labels)
            return self.w(x).squeeze(-1)

    labels = torch.tensor([1, 0, 1, 1])
    ctx = d_context(Recording(), torch.zeros(4, 2), torch.ones(4, 2))
    ctx.labels = labels
    GradientPenalty(10.0).d_terms(ctx)
    assert len(seen) == 1 and torch.equal(seen[0], labels)


# ------------------------------------------------------------------------------ the trainer


class _RecordingG(nn.Module):
    """G of the digits, which keeps each input it is fed."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.net = nn.Linear(inputs, 64)
        self.fed: list[torch.Tensor] = []

    def forward(self, z):
        self.fed.append(z.detach())
        return torch.tanh(self.net(z)).view(-1, 1, 8, 8)


class _RecordingD(nn.Module):
    """D of the digits, which keeps the labels of each batch it judges."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(64, 1)
        self.labels: list[torch.Tensor] = []

    def forward(self, x, labels):
        self.labels.append(labels)
        return self.net(x.flatten(1)).squeeze(-1)


def test_a_d_update_makes_each_fake_for_the_label_of_the_real_image_beside_it():
    cfg = build_config(load_preset("dcgan-fashion"), ["data.name=digits", "model.z_dim=8", CONDITIONAL,
                                                      "train.batch_size=16"])
    g, d = _RecordingG(8 + 10), _RecordingD()
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"), nets=(g, d))
    trainer.update_d()
    real_labels, fake_labels = d.labels
    assert torch.equal(real_labels, fake_labels)
    assert torch.equal(g.fed[0][:, 8:].argmax(dim=1), real_labels)
    assert real_labels.unique().numel() > 1
    trainer.train_step()  # the D update, then G's own: fresh labels, which D judges G's samples by
    g_labels = d.labels[-1]
    assert torch.equal(g.fed[-1][:, 8:].argmax(dim=1), g_labels)
    assert not torch.equal(g_labels, d.labels[-2])


def test_a_conditional_g_learns_to_draw_the_class_it_is_asked_for():
    """300 steps of mlp-digits with labels: the shipped digits classifier finds most samples in the
    class they were drawn for (chance: 10%); an unconditional G's, scored the same way, are not."""
    classifier = load_classifier("digits")

    def accuracy(seed: int, *extra: str) -> float:
        cfg = build_config(load_preset("mlp-digits"), [f"seed={seed}", *extra])
        trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
        for _ in range(cfg.train.steps):
            trainer.train_step()
        samples = trainer.source.to_uint8(generate(trainer.g, 1000, cfg.model, seed=123))
        return label_accuracy(samples, evaluation_labels(1000, 10), classifier)

    conditional = [accuracy(seed, CONDITIONAL) for seed in (0, 1)]
    assert min(conditional) > 0.6, conditional
    assert accuracy(0) < 0.25


def test_label_accuracy_is_high_for_real_digits_and_their_labels_and_chance_for_shuffled_ones():
    from gankit.data.images import load_digits

    images, labels = load_digits()
    classifier = load_classifier("digits")
    assert label_accuracy(images, labels, classifier) > 0.9
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]
    assert label_accuracy(images, shuffled, classifier) < 0.2


# ---------------------------------------------------------------------- the runs and the CLI


def test_a_conditional_run_trains_resumes_exactly_and_samples_one_class(tmp_path, cli):
    settings = [CONDITIONAL, "log.metrics=[label_accuracy]", "log.metrics_samples=50"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli("train", "--preset", "dcgan-fashion", "--out", straight, *digits_args(*settings))[0] == 0
    assert cli("train", "--preset", "dcgan-fashion", "--out", split, *digits_args(*settings, "train.steps=3"))[0] == 0
    code, _, err = cli("train", "--resume", split, "--set", "train.steps=6")
    assert code == 0, err
    a, b = checkpoint.load(straight), checkpoint.load(split)
    assert any(k.startswith("d.embed.") for k in a.tensors)
    assert [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])] == []
    assert '"label_accuracy"' in (straight / "metrics.jsonl").read_text()

    code, out, err = cli("sample", straight, "-n", 6, "--class", 3, "--out", tmp_path / "three.npy")
    assert code == 0, err
    assert "of class 3" in out
    three = np.load(tmp_path / "three.npy")
    other = cli("sample", straight, "-n", 6, "--class", 4, "--out", tmp_path / "four.npy")
    assert other[0] == 0
    assert not np.allclose(three, np.load(tmp_path / "four.npy"))  # same codes, another class

    for wrong in (10, -1):
        code, _, err = cli("sample", straight, "-n", 6, "--class", wrong, "--out", tmp_path / "wrong.npy")
        assert code == 2 and "classes are 0-9" in err
    code, _, err = cli("eval", straight, "--metrics", "label_accuracy", "-n", 40, "--out", tmp_path / "e.json")
    assert code == 0, err

    # G's grid, like the real one, has a column per class: 10 images of 8 pixels and their borders
    grids = [Image.open(p) for p in sorted((straight / "samples").glob("*.png"))]
    assert {grid.size[0] for grid in grids} == {(2 + 10 * 10) * (256 // 102)}
    assert "column k shows class k (0 to 9)" in (straight / "report.html").read_text()


def test_label_accuracy_is_for_a_conditional_run_judged_by_its_own_data(tmp_path, cli):
    plain = tmp_path / "plain"
    assert cli("train", "--preset", "dcgan-fashion", "--out", plain, *digits_args("train.steps=2"))[0] == 0
    code, _, err = cli("eval", plain, "--metrics", "label_accuracy", "-n", 20, "--out", tmp_path / "e.json")
    assert code == 2 and "is not such a run" in err
    run = tmp_path / "conditional"
    assert cli("train", "--preset", "dcgan-fashion", "--out", run, *digits_args(CONDITIONAL, "train.steps=2"))[0] == 0
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")
    code, _, err = cli("eval", run, "--metrics", "label_accuracy", "-n", 20, "--against", folder,
                       "--out", tmp_path / "e.json")
    assert code == 2 and "would judge them by folder's" in err


def test_the_report_s_grids_have_a_column_per_class(tmp_path):
    images = torch.arange(30, dtype=torch.uint8).repeat_interleave(64).view(30, 1, 8, 8) * 8
    labels = torch.arange(30) % 3  # image i is of class i mod 3, and its brightness is 8·i
    source = ImageSource(images, labels, (-1.0, 1.0))
    probe = SampleGridProbe(source, tmp_path, seed=0, classes=3)
    assert probe.samples == 3 * SampleGridProbe.rows and probe.columns == 3
    real = np.asarray(Image.open(tmp_path / "real.png"))
    scale = max(1, 256 // (3 * 10))
    for column in range(3):  # each column's images are of one class: brightness encodes it
        left = (2 + column * 10) * scale
        for row in range(SampleGridProbe.rows):
            top = (2 + row * 10) * scale
            value = int(real[top, left, 0])
            assert (value // 8) % 3 == column


def test_an_unconditional_run_refuses_a_class_to_sample(trained_run, cli, tmp_path):
    code, _, err = cli("sample", trained_run, "-n", 4, "--class", 1, "--out", tmp_path / "s.npy")
    assert code == 2 and "not class-conditional" in err


@pytest.mark.parametrize("preset", ["cgan-mnist", "cgan-fashion"])
def test_a_conditional_preset_trains_from_the_cli(tmp_path, cli, monkeypatch, preset):
    for name in ("mnist", "fashion-mnist"):
        write_idx_set(tmp_path / "data" / name)
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "data"))
    small = ["train.steps=2", "train.batch_size=8", "model.g.width=8", "model.d.width=8"]
    code, _, err = cli("train", "--preset", preset, "--out", tmp_path / "run", *[a for s in small for a in ("--set", s)])
    assert code == 0, err
    assert checkpoint.list_steps(tmp_path / "run") == [2]


# -------------------------------------------------------------------------------- refusals


def test_what_cannot_condition_on_labels_is_refused_in_one_line(tmp_path, cli):
    assert "needs labelled images" in _refusal("toy-ring8", CONDITIONAL)
    assert "model.pack does not combine with model.conditional" in _refusal("dcgan-fashion", CONDITIONAL, "model.pack=2")
    assert "techniques.semi_supervised does not combine" in _refusal("ssl-mnist-100", CONDITIONAL)
    assert "label_accuracy" in _refusal("dcgan-fashion", "log.metrics=[label_accuracy]")
    assert "model.conditional.classes" in _refusal("dcgan-fashion", "model.conditional={classes: 1}")
    assert "G would not learn its classes" in _refusal("dcgan-fashion", CONDITIONAL, "techniques.feature_matching={}")
    assert "layer: features" in _refusal(
        "dcgan-fashion", CONDITIONAL, "techniques.feature_matching={replace_g_loss: false, layer: trunk.0}")
    assert "label's one-hot" in _refusal("mlp-digits", CONDITIONAL, "model.g.input_noise=0.1")
    assert "has no labels" in _refusal("dcgan-fashion", CONDITIONAL, "data={name: celeba}")

    for classes, message in ((5, "has label 5: its labels must be 0-4"), (12, "no image of class 10, 11:"),
                             (10**9, "no image of class 10, 11, 12, 13, 14 and 999999985 more")):
        wrong = digits_args(f"model.conditional={{classes: {classes}}}")
        code, _, err = cli("train", "--preset", "dcgan-fashion", "--out", tmp_path / "wrong", *wrong)
        assert code == 2 and message in err, err
        assert not (tmp_path / "wrong").exists()
    source = ImageSource(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), None, (-1.0, 1.0))  # a benchmark's own data
    with pytest.raises(UserError, match="needs a data set with labels"):
        build_trainer(build_config(load_preset("dcgan-fashion"), ["data.name=digits", CONDITIONAL]),
                      Distributed(), torch.device("cpu"), source)
