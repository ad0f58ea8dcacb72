"""The Improved-GAN techniques (Salimans et al. 2016): each one's math against a hand computation,
its config switches and refusals, and a short training run that shows its documented effect."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from gankit.config import MinibatchConfig, ModelConfig, build_config, load_preset
from gankit.data.images import ImageSource
from gankit.errors import UserError
from gankit.nets import build_nets
from gankit.nets.discriminator import MinibatchDiscrimination
from gankit.nets.layers import VirtualBatchNorm2d, initialise_from_data
from gankit.objectives.losses import OBJECTIVES
from gankit.run import build_trainer
from gankit.techniques.base import DContext, GContext
from gankit.techniques.ema import GeneratorEMA
from gankit.techniques.feature_matching import FeatureMatching
from gankit.techniques.historical_averaging import HistoricalAveraging
from gankit.techniques.instance_noise import InstanceNoise
from gankit.techniques.label_smoothing import OneSidedLabelSmoothing
from gankit.techniques.semi_supervised import SemiSupervised, balanced_subset
from gankit.train import checkpoint
from gankit.train.batches import BatchStream, cycled_permutation
from gankit.train.distributed import Distributed
from tests.conftest import digits_args
from tests.contexts import d_context


def test_minibatch_discrimination_matches_the_papers_sums():
    layer = MinibatchDiscrimination(in_features=2, kernels=2, dims=1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 0.5]]))  # directions (1, 0) and (0, 1)
        layer.log_scale.copy_(torch.tensor([[0.0], [math.log(2.0)]]))  # M_i = (f_i0, 2 f_i1)
        layer.bias.copy_(torch.tensor([0.5, -1.0]))
    f = torch.tensor([[0.0, 0.0], [1.0, 0.5], [3.0, 0.0]])
    out = layer(f)
    assert torch.equal(out[:, :2], f)  # the features pass through, o(f) is appended
    # kernel 0 compares f_0 across the batch: |0-1|, |0-3|, |1-3|; each example's own term left out
    expected_0 = [math.exp(-1) + math.exp(-3), math.exp(-1) + math.exp(-2), math.exp(-3) + math.exp(-2)]
    # kernel 1 compares 2·f_1: 0, 1, 0
    expected_1 = [math.exp(-1) + 1, math.exp(-1) + math.exp(-1), 1 + math.exp(-1)]
    assert torch.allclose(out[:, 2], torch.tensor(expected_0) + 0.5)
    assert torch.allclose(out[:, 3], torch.tensor(expected_1) - 1.0)


def test_minibatch_discrimination_data_init_puts_nearest_neighbours_at_two_and_centres_o():
    """The paper's code's init: per kernel, the scale that makes the mean distance to the nearest
    other example 2, and the bias that makes o's mean 0, on the init batch."""
    layer = MinibatchDiscrimination(in_features=3, kernels=4, dims=2)
    f = torch.randn(50, 3, generator=torch.Generator().manual_seed(0)) * 7.0
    assert initialise_from_data(layer, lambda: f)
    with torch.no_grad():
        m = (f @ (layer.weight * (layer.log_scale.exp().flatten() / layer.weight.norm(dim=0)))).view(50, 4, 2)
        l1 = (m.unsqueeze(1) - m.unsqueeze(0)).abs().sum(dim=-1)  # N×N×B, by brute force
        nearest = (l1 + torch.eye(50).unsqueeze(-1) * 1e9).amin(dim=1).mean(dim=0)
        o = layer(f)[:, 3:]
    assert torch.allclose(nearest, torch.full((4,), 2.0), rtol=1e-4), nearest
    assert torch.allclose(o.mean(dim=0), torch.zeros(4), atol=1e-5)
    assert not layer.initialising  # once only: the next batch goes through unchanged
    assert torch.equal(layer(f), layer(f))


def _config(preset: str, *overrides: str):
    return build_config(load_preset(preset), list(overrides))


def test_minibatch_discrimination_is_a_d_layer_refused_in_g_and_with_the_gradient_penalty():
    cfg = _config("toy-grid25", "model.d.minibatch={kernels: 8, dims: 3}")
    assert cfg.model.d.minibatch == MinibatchConfig(kernels=8, dims=3)
    with pytest.raises(UserError, match="minibatch discrimination is a layer of D"):
        _config("toy-grid25", "model.g.minibatch={}")
    with pytest.raises(UserError, match="does not combine with objective.name=wgan-gp"):
        _config("toy-grid25", "model.d.minibatch={}", "objective.name=wgan-gp")


# ------------------------------------------------------------------------------------ the hooks' math


def _technique(trainer, name: str):
    """The trainer's technique called `name`."""
    return next(t for t in trainer.techniques.techniques if t.name == name)


class SquareFeatures(nn.Module):
    """D with f(x) = x² (two features) and a linear head: small enough to check by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.square = nn.Identity()
        self.head = nn.Linear(2, 1)

    def features(self, x):
        return self.square(x) ** 2

    def forward(self, x):
        return self.head(self.features(x)).squeeze(-1)


def test_historical_averaging_averages_ds_weights_after_clipping():
    """WGAN's clipping acts before the average is updated: each D weight added to the mean lies
    in [-clip, clip], however far outside it D's initial weights (the mean's first entry) start."""
    cfg = build_config(load_preset("toy-grid25"), [
        "objective.name=wgan", "objective.clip=0.01", "techniques.historical_averaging.weight=0.1",
        "train.batch_size=16", "model.g.hidden=[8]", "model.d.hidden=[8]",
    ])
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
    initial = [p.detach().clone() for p in trainer.d.parameters()]
    assert max(p.abs().max() for p in initial) > 0.1
    for _ in range(2):
        trainer.train_step()
    ha = _technique(trainer, "historical_averaging")
    added = ha.count["d"] - 1
    assert added == 2 * cfg.train.d_steps
    for first, mean in zip(initial, ha.average["d"]):
        assert ((mean * ha.count["d"] - first).abs() <= added * 0.01 + 1e-6).all()


def test_feature_matching_compares_both_batches_as_d_sees_them():
    """With instance noise, G matches the features of noisy real data with those of noisy fakes:
    the G step hands feature matching G's batch after D's input transform, as the D step does."""
    cfg = build_config(load_preset("toy-grid25"), [
        "techniques.feature_matching.layer=features", "techniques.instance_noise.std=100",
        "techniques.instance_noise.anneal_steps=1000", "train.batch_size=64", "model.g.hidden=[8]", "model.d.hidden=[8]",
    ])
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
    fm = _technique(trainer, "feature_matching")
    seen = []
    original = fm.g_terms
    fm.g_terms = lambda ctx: (seen.append(ctx.fake.detach()), original(ctx))[1]
    trainer.train_step()
    assert fm.real.std() > 50 and seen[0].std() > 50  # G's own samples and the grid lie within ±5


def test_a_g_step_by_feature_matching_runs_d_only_for_the_features():
    """D's passes in one step of k = 1: two in the D update (real, fake), then in the G update one
    for the objective's loss, or, when feature matching replaces it, one per batch whose features
    it compares (real, fake) and none for a loss nobody reads."""

    def passes(*extra: str) -> int:
        cfg = build_config(load_preset("toy-grid25"), ["model.g.hidden=[8]", "model.d.hidden=[8]", *extra])
        trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
        calls = []
        trainer.d.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
        trainer.train_step()
        return len(calls)

    assert passes() == 3
    assert passes("techniques.feature_matching.layer=trunk.0") == 4


def test_feature_matching_reads_the_named_layer_of_a_dcgan_d_not_the_activation_after_it():
    d = build_nets(ModelConfig.model_validate({"g": {"kind": "dcgan"}, "d": {"kind": "dcgan"}}), (1, 28, 28), 0)[1]
    x = torch.randn(8, 1, 28, 28)
    matched = FeatureMatching(d, "trunk.0", weight=1.0, replace_g_loss=True).features(d, x)
    direct = d.trunk[0](x).flatten(1)
    assert (direct < 0).any() and torch.equal(matched, direct)


@pytest.mark.parametrize("layer, expected",
                         [("", "at least 1 character"), ("head", "is D's output"), ("nope", "not a module of D")])
def test_feature_matching_needs_an_intermediate_layer_of_d(layer, expected):
    with pytest.raises(UserError, match=expected):
        cfg = build_config(load_preset("toy-grid25"), [f"techniques.feature_matching.layer={layer}"])
        build_trainer(cfg, Distributed(), torch.device("cpu"))


def test_feature_matching_is_the_squared_distance_of_feature_means():
    d = SquareFeatures()
    real, fake = torch.tensor([[1.0, 2.0], [3.0, 0.0]]), torch.tensor([[0.0, 1.0], [2.0, 1.0]], requires_grad=True)
    fm = FeatureMatching(d, "features", weight=2.0, replace_g_loss=True)
    assert fm.d_terms(d_context(d, real, fake.detach())) == {}
    loss = fm.g_terms(GContext(d, fake))["loss"]
    # E f(real) = (5, 2), E f(fake) = (2, 1): 2 · (3² + 1²)
    assert loss.item() == pytest.approx(20.0)
    loss.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0  # G gets the gradient
    # a named inner module: the Identity's output is x itself, E real = (2, 1), E fake = (1, 1)
    inner = FeatureMatching(d, "square", weight=1.0, replace_g_loss=True)
    inner.d_terms(d_context(d, real, fake.detach()))
    assert inner.g_terms(GContext(d, fake))["loss"].item() == pytest.approx(1.0)
    with pytest.raises(UserError, match="not a module of D; use features or one of: square$"):
        FeatureMatching(d, "trunk.3", 1.0, True)


def test_feature_matching_takes_both_means_from_the_d_that_g_trains_against():
    """The real batch's features are read at G's update, from D after its step, not from the D
    before it: here D's step triples its features between the two hooks."""

    class ScaledFeatures(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gain = nn.Parameter(torch.ones(()))

        def features(self, x):
            return self.gain * x

        def forward(self, x):
            return self.features(x).sum(dim=1)

    d = ScaledFeatures()
    real, fake = torch.tensor([[1.0, 0.0], [3.0, 2.0]]), torch.ones(2, 2)
    fm = FeatureMatching(d, "features", weight=1.0, replace_g_loss=True)
    fm.d_terms(d_context(d, real, fake))
    with torch.no_grad():
        d.gain.fill_(3.0)  # D's optimizer step
    # E f(real) = 3·(2, 1), E f(fake) = 3·(1, 1): 3² + 0²
    assert fm.g_terms(GContext(d, fake))["loss"].item() == pytest.approx(9.0)


def test_historical_averaging_penalises_the_distance_to_the_mean_of_past_parameters():
    g, d = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        d.weight.fill_(1.0)
        g.weight.fill_(2.0)
    ha = HistoricalAveraging(g, d, weight=0.5)
    for value in (3.0, 8.0):  # two D updates: the past values are 1, 3, 8
        with torch.no_grad():
            d.weight.fill_(value)
        ha.after_d_step(d, 0)
    with torch.no_grad():
        g.weight.fill_(4.0)
    ha.after_g_step(g, 0)  # one G update: G's past values are 2, 4, its own mean
    with torch.no_grad():
        d.weight.fill_(10.0)
        g.weight.fill_(6.0)
    penalty = ha.d_terms(d_context(d, None, None))["penalty"]
    assert penalty.item() == pytest.approx(0.5 * (10.0 - 4.0) ** 2)
    assert ha.g_terms(GContext(d, None))["penalty"].item() == pytest.approx(0.5 * (6.0 - 3.0) ** 2)
    # the state round-trips, so a resumed run keeps its averages
    again = HistoricalAveraging(g, d, weight=0.5)
    again.load_state_dict(ha.state_dict())
    assert again.d_terms(d_context(d, None, None))["penalty"].item() == pytest.approx(penalty.item())


@pytest.mark.parametrize("objective", ["minimax", "non-saturating"])
def test_label_smoothing_makes_the_real_targets_alpha(objective):
    real_out, fake_out = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-0.3, 1.2])
    smoothed = OBJECTIVES[objective].d_loss(real_out, fake_out) + OneSidedLabelSmoothing(0.9).d_terms(
        d_context(None, None, None, real_out))["smoothing"]
    expected = F.binary_cross_entropy_with_logits(real_out, torch.full((3,), 0.9)) + \
        F.binary_cross_entropy_with_logits(fake_out, torch.zeros(2))
    assert smoothed.item() == pytest.approx(expected.item(), rel=1e-6)


def test_label_smoothing_is_refused_without_a_log_loss():
    with pytest.raises(UserError, match="techniques.label_smoothing smooths the targets of D's log loss"):
        _config("toy-grid25", "techniques.label_smoothing={}", "objective.name=hinge")
    with pytest.raises(UserError, match=r"techniques.semi_supervised is a K\+1-class classifier"):
        _config("dcgan-fashion", "techniques.semi_supervised={}", "objective.name=wgan")


def test_semi_supervised_learning_is_refused_on_the_test_split_it_is_tested_on():
    with pytest.raises(UserError, match="data.split=test would train on those images"):
        _config("ssl-mnist-100", "data.split=test")
    assert _config("ssl-mnist-100").data.split == "train"


def test_semi_supervised_learning_refuses_minibatch_discrimination_in_its_classifier():
    with pytest.raises(UserError, match="its test error would too"):
        _config("ssl-mnist-100", "model.d.minibatch={kernels: 5, dims: 3}")
    assert _config("improved-gan-fashion").model.d.minibatch is not None  # fine without a classifier


def test_instance_noise_is_annealed_to_zero():
    noise = InstanceNoise(std=0.2, anneal_steps=100)
    assert [noise.std_at(s) for s in (0, 50, 100, 150)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    x = torch.zeros(20_000, 2)
    assert noise.d_input(x, 50).std().item() == pytest.approx(0.1, rel=0.03)
    assert torch.equal(noise.d_input(x, 100), x)


def test_virtual_batch_norm_combines_the_reference_with_each_example_alone():
    vbn = VirtualBatchNorm2d(2)
    reference = torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    vbn.collecting = True
    out_ref = vbn(reference)
    vbn.collecting = False
    # the reference batch is normalised by its own statistics, per channel
    assert torch.allclose(out_ref.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-5)
    x = torch.randn(3, 2, 3, 3, generator=torch.Generator().manual_seed(1)) * 3 + 1
    out = vbn(x)
    # by hand for example 0, channel 1: stats = 1/5 of its own + 4/5 of the reference's
    mean = x[0, 1].mean() / 5 + reference[:, 1].mean() * 4 / 5
    mean_sq = x[0, 1].square().mean() / 5 + reference[:, 1].square().mean() * 4 / 5
    expected = (x[0, 1] - mean) / torch.sqrt(mean_sq - mean**2 + vbn.eps)
    assert torch.allclose(out[0, 1], expected, atol=1e-5)
    # an example's output does not depend on the rest of its batch
    assert torch.allclose(vbn(x[:1]), out[:1], atol=1e-6)


def test_a_virtual_batch_norm_generator_samples_each_example_independently_of_its_batch():
    from gankit.nets.build import build_nets

    cfg = _config("dcgan-fashion", "data.name=digits", "model.g.width=8", "model.d.width=8",
                  "model.g.norm=virtual-batch", "model.g.reference_batch=16").model
    g, _ = build_nets(cfg, (1, 8, 8), seed=0)
    assert g.reference_z.abs().sum() > 0 and len(g.reference_z) == 16
    z = torch.randn(5, cfg.z_dim)
    together, alone = g(z), torch.cat([g(z[i : i + 1]) for i in range(5)])
    assert torch.allclose(together, alone, atol=1e-5)
    g_bn, _ = build_nets(_config("dcgan-fashion", "data.name=digits", "model.g.width=8", "model.d.width=8").model,
                         (1, 8, 8), seed=0)
    assert not torch.allclose(g_bn(z), torch.cat([g_bn(z[i : i + 2]) for i in range(0, 4, 2)] + [g_bn(z[4:])]), atol=1e-3)
    with pytest.raises(UserError, match="virtual batch normalization is for G"):
        _config("dcgan-fashion", "model.d.norm=virtual-batch")


# ------------------------------------------------------------------------------------ in a run


ALL_TECHNIQUES = (
    "techniques.feature_matching={}", "techniques.historical_averaging={weight: 0.01}",
    "techniques.label_smoothing={}", "techniques.instance_noise={std: 0.1, anneal_steps: 6}",
    "model.d.minibatch={kernels: 8, dims: 3}", "model.g.norm=virtual-batch", "model.g.reference_batch=8",
)


def test_every_technique_together_trains_and_resumes_exactly(tmp_path, cli):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli("train", "--preset", "dcgan-fashion", "--out", straight, *digits_args(*ALL_TECHNIQUES))[0] == 0
    assert cli("train", "--preset", "dcgan-fashion", "--out", split, *digits_args(*ALL_TECHNIQUES, "train.steps=3"))[0] == 0
    assert cli("train", "--resume", split, "--set", "train.steps=6")[0] == 0
    a, b = checkpoint.load(straight), checkpoint.load(split)
    assert any(k.startswith("technique.historical_averaging.") for k in a.tensors)
    assert [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])] == []
    rows = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"][-1]
    # feature matching replaced G's objective: its loss is logged, the objective's is not
    assert "g/feature_matching/loss" in train and "g/loss" not in train
    assert {"d/label_smoothing/smoothing", "d/historical_averaging/penalty", "g/historical_averaging/penalty"} <= train.keys()


# ------------------------------------------------------------------------------------ semi-supervised


class PixelLogits(nn.Module):
    """A K+1 D stand-in whose class logits are its input pixels (times a scale of 1): logits the
    test can write down."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def class_logits(self, x):
        return self.scale * x.flatten(1)


def test_the_supervised_term_is_the_weighted_cross_entropy_of_the_picked_labels():
    # three 1×1×3 images in [0, 1]: their pixels are D's 3 class logits
    images = torch.tensor([[0, 255, 0], [255, 0, 0], [0, 0, 255]], dtype=torch.uint8).view(3, 1, 1, 3)
    source = ImageSource(images, torch.tensor([1, 2, 2]), (0.0, 1.0))
    ssl = SemiSupervised(source, torch.tensor([0, 1, 2]), weight=2.0, test_images=images, test_labels=torch.tensor([1, 0, 0]))
    ctx = DContext(PixelLogits(), None, None, None, torch.rand, lambda pool: torch.tensor([2, 0, 1, 1]), lambda x: x, 0)
    e = math.e
    # picks 2, 0, 1, 1: logits (0,0,1) label 2, (0,1,0) label 1, (1,0,0) label 2 twice
    right, wrong = -math.log(e / (e + 2)), -math.log(1 / (e + 2))
    expected = 2.0 * (right + right + wrong + wrong) / 4
    assert ssl.d_terms(ctx)["supervised"].item() == pytest.approx(expected)
    # the labelled batch reaches D through the step's d_input, as the real batch does: one that
    # blanks the images leaves three equal logits, a cross-entropy of log 3 for every pick
    ctx.d_input = torch.zeros_like
    assert ssl.d_terms(ctx)["supervised"].item() == pytest.approx(2.0 * math.log(3))
    # test error: the most likely classes are 1, 0, 2 against labels 1, 0, 0
    assert ssl.eval_metrics(PixelLogits()) == {"test_error": pytest.approx(1 / 3)}


def test_the_labelled_subset_is_balanced_and_seeded():
    labels = torch.arange(10).repeat(30)
    picked = balanced_subset(labels, 40, seed=3)
    assert torch.bincount(labels[picked], minlength=10).tolist() == [4] * 10
    assert torch.equal(picked, balanced_subset(labels, 40, seed=3))
    assert not torch.equal(picked, balanced_subset(labels, 40, seed=4))
    with pytest.raises(UserError, match="must split evenly over the 10 classes"):
        balanced_subset(labels, 45, seed=0)
    with pytest.raises(UserError, match="fewer than the 31 labels"):
        balanced_subset(labels, 310, seed=0)


def test_labelled_batches_hold_every_label_once_before_any_twice():
    uniforms = torch.rand(10, generator=torch.Generator().manual_seed(0))
    one = cycled_permutation(uniforms, 10)
    assert sorted(one.tolist()) == list(range(10))  # the 100-of-100 batch of the paper: all, once
    assert not torch.equal(one, torch.arange(10))  # shuffled by the draws
    counts = torch.bincount(cycled_permutation(uniforms, 25), minlength=10)
    assert counts.min() == 2 and counts.max() == 3
    assert sorted(cycled_permutation(uniforms, 4).tolist()) == sorted(one[:4].tolist())  # no repeats
    assert torch.equal(cycled_permutation(uniforms, 10), one)  # the draws decide: resumable


def test_the_ranks_labelled_batches_together_are_the_single_process_batch():
    """Each rank takes its slice of one global draw: no label twice across ranks in a batch of L,
    and the union is what one process would pick, step after step."""
    stream = lambda rank, world: BatchStream(20, rank, world, 7, torch.device("cpu"), 2, "normal")  # noqa: E731
    single, ranks = stream(0, 1), [stream(0, 2), stream(1, 2)]
    for pool in (20, 20, 7, 50):  # the batch of 20: all of the pool, past it, part of it
        alone = single.pick(pool)
        shares = [r.pick(pool) for r in ranks]
        assert [len(s) for s in shares] == [10, 10]
        assert torch.equal(torch.cat(shares), alone)
        counts = torch.bincount(alone, minlength=pool)
        assert len(counts) == pool and counts.max() - counts.min() <= 1  # as even as the sizes allow


def test_the_k_plus_1_discriminator_puts_the_fake_class_logit_at_zero():
    from gankit.nets.build import build_nets

    cfg = _config("toy-grid25").model
    _, d = build_nets(cfg, (2,), seed=0, classes=4)
    x = torch.randn(6, 2)
    logits = d.class_logits(x)
    assert logits.shape == (6, 4)
    # D(x) = Z/(Z+1), Z = Σ exp(l_k): the log loss on the GAN logit is the paper's L_unsupervised
    z = logits.exp().sum(dim=1)
    assert torch.allclose(torch.sigmoid(d(x)), z / (z + 1), atol=1e-6)
    assert torch.allclose(OBJECTIVES["minimax"].d_loss(d(x), d(x)),
                          -(torch.log(z / (z + 1)).mean() + torch.log(1 / (z + 1)).mean()), atol=1e-5)


def test_the_weight_average_follows_the_live_net_by_its_decay():
    from gankit.techniques.ema import WeightAverage

    net = torch.nn.Linear(2, 1)
    start = net.weight.detach().clone()
    average = WeightAverage(net, decay=0.75)
    with torch.no_grad():
        net.weight.add_(4.0)
    average.update(net)  # 0.75·θ₀ + 0.25·(θ₀ + 4)
    assert torch.allclose(average.net.weight, start + 1.0)
    average.update(net)  # 0.75·(θ₀ + 1) + 0.25·(θ₀ + 4)
    assert torch.allclose(average.net.weight, start + 1.75)
    assert not average.net.weight.requires_grad and not average.net.training


def test_a_run_with_train_ema_samples_from_gs_weight_average():
    """The EMA of G is updated after each G step and is the generator a run samples from."""
    cfg = build_config(load_preset("toy-grid25"), [
        "train.ema=0.75", "train.batch_size=16", "model.g.hidden=[8]", "model.d.hidden=[8]",
    ])
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
    before = [p.detach().clone() for p in trainer.g.parameters()]
    trainer.train_step()
    sampled = trainer.techniques.sampling_generator(trainer.g)
    assert sampled is not trainer.g
    for average, start, now in zip(sampled.parameters(), before, trainer.g.parameters()):
        assert not torch.equal(start, now)
        assert torch.allclose(average, 0.75 * start + 0.25 * now)
    plain = build_trainer(build_config(load_preset("toy-grid25"), ["train.ema=null"]), Distributed(), torch.device("cpu"))
    assert plain.techniques.sampling_generator(plain.g) is plain.g


SSL_DIGITS = """
data: {name: digits}
model: {z_dim: 16, g: {hidden: [64], output: tanh}, d: {hidden: [128, 64]}}
objective: {name: non-saturating}
techniques: {semi_supervised: {labels: 50, average: 0.9}, feature_matching: {}}
train: {steps: 300, batch_size: 50}
log: {every: 100, eval_every: 300, checkpoint_every: 300}
"""


def test_a_semi_supervised_run_with_weight_norm_and_an_averaged_d_resumes_exactly(tmp_path, cli):
    """With instance noise too, which draws noise for the labelled batch as well."""
    config = tmp_path / "ssl.yaml"
    config.write_text(SSL_DIGITS.replace("d: {hidden: [128, 64]}", "d: {hidden: [32, 16], norm: weight, hidden_noise: 0.5}")
                      .replace("techniques: {", "techniques: {instance_noise: {std: 0.2, anneal_steps: 100}, ")
                      .replace("steps: 300", "steps: 6").replace("every: 100, eval_every: 300, checkpoint_every: 300",
                                                                 "every: 3, eval_every: 3, checkpoint_every: 3"))
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli("train", "--config", config, "--out", straight)[0] == 0
    assert cli("train", "--config", config, "--out", split, "--set", "train.steps=3")[0] == 0
    assert cli("train", "--resume", split, "--set", "train.steps=6")[0] == 0
    a, b = checkpoint.load(straight), checkpoint.load(split)
    averaged = [k for k in a.tensors if k.startswith("technique.semi_supervised.")]
    assert "technique.semi_supervised.trunk.0.scale" in averaged  # the fixed scales travel with the average
    assert [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])] == []
    assert not torch.equal(a.tensors["technique.semi_supervised.head.weight"], a.tensors["d.head.weight"])


def test_a_trainer_step_shows_d_the_labelled_batch_through_the_input_transforms():
    """Every batch D sees in a step goes through the techniques' `d_input`: the D update's real,
    generated and labelled batches, then G's batch; the third is made of the labelled images."""
    cfg = build_config(yaml.safe_load(SSL_DIGITS), ["techniques.instance_noise={std: 0.1, anneal_steps: 10}"])
    trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
    transform, seen = trainer.techniques.d_input, []
    trainer.techniques.d_input = lambda x, step: (seen.append(x.detach().flatten(1)), transform(x, step))[1]
    trainer.train_step()
    assert len(seen) == 4
    ssl = _technique(trainer, "semi_supervised")
    labelled = ssl.source.to_pixels(ssl.images).flatten(1)
    nearest = lambda x: torch.cdist(x, labelled, compute_mode="donot_use_mm_for_euclid_dist").amin(dim=1)  # noqa: E731
    assert nearest(seen[2]).max() == 0  # every row is a labelled image
    assert nearest(seen[0]).max() > 0.5  # the real batch is drawn from every training image


def test_semi_supervised_training_learns_the_classes_from_few_labels(tmp_path, cli):
    run, config = tmp_path / "ssl", tmp_path / "ssl.yaml"
    config.write_text(SSL_DIGITS)
    code, _, err = cli("train", "--config", config, "--out", run)
    assert code == 0, err
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    errors = {r["step"]: r["test_error"] for r in rows}
    averaged = {r["step"]: r["test_error_average"] for r in rows}
    # chance is 90% wrong; 50 labels (5 per digit) and 300 steps bring it far below, for D and
    # for the average of its weights (kept in the checkpoint)
    assert errors[0] > 0.7 and errors[300] < 0.3, errors
    assert averaged[0] == errors[0] and averaged[300] < 0.3 and averaged[300] != errors[300], averaged
    assert any(k.startswith("technique.semi_supervised.") for k in checkpoint.load(run).tensors)
    with pytest.raises(UserError, match="needs a data set with labels"):
        from gankit.data.images import ImageSource
        from gankit.techniques.semi_supervised import class_count

        class_count(ImageSource(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), None, (-1.0, 1.0)))


def test_every_technique_setting_is_registered_once():
    from gankit.config import TechniquesConfig
    from gankit.techniques.registry import TECHNIQUES

    settings = [r.setting for r in TECHNIQUES]
    assert sorted(settings) == sorted([f"techniques.{name}" for name in TechniquesConfig.model_fields] + ["train.ema"])
    assert settings[-1] == "train.ema"  # the EMA averages G as every other hook left it


def test_the_switched_on_techniques_are_built_in_registration_order():
    from gankit.techniques.registry import build_techniques

    cfg = build_config(load_preset("toy-ring8"), [
        "train.ema=0.9", "techniques.historical_averaging.weight=0.1", "techniques.instance_noise.std=0.1",
        "techniques.instance_noise.anneal_steps=100",
        "techniques.label_smoothing.real=0.9",
    ])
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    built = build_techniques(cfg, g, d, source=None)
    assert [type(t) for t in built] == [InstanceNoise, OneSidedLabelSmoothing, HistoricalAveraging, GeneratorEMA]
    assert built[0].std == 0.1 and built[1].real_target == 0.9 and built[3].kept.decay == 0.9
    assert build_techniques(build_config(load_preset("toy-ring8"), ["train.ema=null"]), g, d, source=None) == []
