"""The post-2017 stabilisers against hand computations: spectral normalisation, R1 / R2 (lazy too) and
the relativistic pairing loss; the combinations each refuses; exact resumption with all of them."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.config import build_config, load_preset
from gankit.errors import UserError
from gankit.nets import build_nets
from gankit.nets.packing import PackedDiscriminator
from gankit.nets.spectral import spectral_normalise
from gankit.objectives import OBJECTIVES
from gankit.objectives.penalties import GradientPenalty, ZeroCentredPenalty
from gankit.techniques.diffaugment import DiffAugment, color, cutout, translation
from gankit.train import checkpoint
from tests.conftest import digits_args, tiny_args
from tests.contexts import d_context
from tests.imagedata import write_idx_set


def _refusal(preset: str, *overrides: str) -> str:
    with pytest.raises(UserError) as info:
        build_config(load_preset(preset), list(overrides))
    assert "\n" not in str(info.value)
    return str(info.value)


# ------------------------------------------------------------------------------- spectral norm


@pytest.mark.parametrize("preset, shape", [("toy-ring8", (2,)), ("dcgan-fashion", (1, 28, 28)),
                                           ("wgan-gp-resnet-cifar10", (3, 32, 32))])
def test_spectral_norm_brings_every_weight_of_any_d_to_a_largest_singular_value_of_one(preset, shape):
    cfg = build_config(load_preset(preset), ["model.d.spectral_norm=true", "objective.name=hinge"])
    _, d = build_nets(cfg.model, shape, seed=0)
    with torch.no_grad():
        for _ in range(200):  # each training-mode pass is one power iteration
            d(torch.randn(4, *shape))
    d.eval()
    layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    sigmas = [torch.linalg.matrix_norm(m.weight.flatten(1), 2).item() for m in layers]
    assert sigmas == pytest.approx([1.0] * len(sigmas), abs=2e-3)
    raw = [torch.linalg.matrix_norm(m.parametrizations.weight.original.flatten(1), 2).item() for m in layers]
    assert any(abs(s - 1) > 0.1 for s in raw)  # the weights it divides were not already normalised


def test_spectral_norm_starts_from_the_seed_alone():
    cfg = build_config(load_preset("toy-ring8"), ["model.d.spectral_norm=true"])
    torch.manual_seed(1)
    _, a = build_nets(cfg.model, (2,), seed=3)
    torch.manual_seed(2)  # the global generator does not decide the power iteration's start
    _, b = build_nets(cfg.model, (2,), seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    _, c = build_nets(cfg.model, (2,), seed=4)
    u = "trunk.0.parametrizations.weight.0._u"
    assert u in a.state_dict() and not torch.equal(a.state_dict()[u], c.state_dict()[u])


def test_spectral_norm_refuses_weight_norm_and_weight_clipping():
    assert "both reparametrise every weight" in _refusal("toy-ring8", "model.d.spectral_norm=true", "model.d.norm=weight")
    assert "model.g.spectral_norm" in _refusal("toy-ring8", "model.g.spectral_norm=true", "model.g.norm=weight")
    assert "objective.name=wgan" in _refusal("toy-ring8", "model.d.spectral_norm=true", "objective.name=wgan")


# --------------------------------------------------------------------------------------- R1 / R2


class Linear1(nn.Module):
    """D(x) = w·x: its input gradient is w for every example, so ‖∇D‖² = ‖w‖²."""

    def __init__(self, w: list[float]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x @ self.w


def test_r1_and_r2_are_half_gamma_times_the_squared_gradient_norm_on_real_and_fake():
    d = Linear1([3.0, 4.0])
    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    for name in ("r1", "r2"):
        (term,) = ZeroCentredPenalty(name, gamma=2.0).d_terms(d_context(d, real, fake)).values()
        assert term.item() == pytest.approx(2.0 / 2 * 25)
        term.backward()  # the penalty trains D: d/dw (γ/2 ‖w‖²) = γ w
        assert d.w.grad.tolist() == pytest.approx([6.0, 8.0])
        d.w.grad = None


def test_r1_looks_at_real_data_only_and_r2_at_g_s_samples_only():
    class Quadratic(nn.Module):  # ∇ₓ Σx² = 2x: the penalty depends on the batch it is taken on
        def forward(self, x):
            return x.pow(2).sum(dim=1)

    real, fake = torch.full((3, 1), 1.0), torch.full((3, 1), 2.0)
    ctx = d_context(Quadratic(), real, fake)
    assert ZeroCentredPenalty("r1", 1.0).d_terms(ctx)["penalty"].item() == pytest.approx(0.5 * 4)
    assert ZeroCentredPenalty("r2", 1.0).d_terms(ctx)["penalty"].item() == pytest.approx(0.5 * 16)


def test_lazy_r1_applies_every_k_steps_weighted_k():
    d, real = Linear1([1.0, 0.0]), torch.randn(4, 2)
    lazy = ZeroCentredPenalty("r1", gamma=1.0, every=4)
    values = [lazy.d_terms(d_context(d, real, real, step=step)).get("penalty") for step in range(8)]
    assert [v is not None for v in values] == [True, False, False, False] * 2
    assert values[4].item() == pytest.approx(4 * 0.5)


def test_r1_and_r2_refuse_what_couples_a_batch_in_d():
    assert "does not combine with techniques.r1" in _refusal("toy-ring8", "techniques.r1={gamma: 1}", "model.d.norm=batch")
    assert "does not combine with techniques.r2" in _refusal(
        "toy-ring8", "techniques.r2={gamma: 1}", "model.d.minibatch={kernels: 4, dims: 2}")
    assert "every" in _refusal("toy-ring8", "techniques.r1={gamma: 1, every: 0}")


# -------------------------------------------------------------------------------------- RpGAN


def test_rpgan_pairs_each_real_with_a_fake_in_both_losses():
    rp = OBJECTIVES["rpgan"]
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert rp.d_loss(real, fake).item() == pytest.approx((softplus(0.5 - 2.0) + softplus(-3.0 + 1.0)) / 2)
    assert rp.g_loss(fake, real).item() == pytest.approx((softplus(2.0 - 0.5) + softplus(-1.0 + 3.0)) / 2)
    # the pairs matter: the same fakes against the reals in the other order give another loss
    assert rp.d_loss(real, fake.flip(0)).item() != pytest.approx(rp.d_loss(real, fake).item())
    # shifting every output by the same constant changes nothing: only differences count
    assert rp.d_loss(real + 7, fake + 7).item() == pytest.approx(rp.d_loss(real, fake).item())


def test_only_a_pairing_loss_judges_a_real_batch_for_g():
    judged = []
    real = lambda: judged.append(1) or torch.zeros(2)  # noqa: E731
    OBJECTIVES["non-saturating"].generator_loss(torch.ones(2), real)
    assert judged == []
    loss = OBJECTIVES["rpgan"].generator_loss(torch.ones(2), real)
    assert judged == [1] and loss.item() == pytest.approx(math.log1p(math.exp(-1.0)))


def test_rpgan_takes_r3gan_s_optimizer_and_refuses_log_loss_techniques():
    cfg = build_config(load_preset("toy-ring8"), ["objective.name=rpgan"])
    assert (cfg.optim.d.name, cfg.optim.d.betas, cfg.train.d_steps) == ("adam", (0.0, 0.99), 1)
    assert "techniques.label_smoothing" in _refusal("toy-ring8", "objective.name=rpgan", "techniques.label_smoothing={}")


# -------------------------------------------------------------------------------- DiffAugment


def test_translation_shifts_whole_pixels_with_zeros_coming_in():
    torch.manual_seed(0)
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = translation(x, ratio=0.25)  # up to one pixel each way
    seen = set()
    for image in out[:, 0]:
        found = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                 if torch.equal(image, torch.roll(x[0, 0], (dy, dx), (0, 1)) * _inside(dy, dx))]
        assert len(found) == 1
        seen.add(found[0])
    assert len(seen) == 9  # every shift in range is drawn


def _inside(dy: int, dx: int) -> torch.Tensor:
    """1 where a 4×4 image shifted by (dy, dx) still has its own pixels, 0 where zeros came in."""
    mask = torch.ones(4, 4)
    if dy:
        mask[0 if dy > 0 else -1, :] = 0
    if dx:
        mask[:, 0 if dx > 0 else -1] = 0
    return mask


def test_cutout_zeroes_a_square_of_the_given_share_of_the_side():
    torch.manual_seed(0)
    out = cutout(torch.ones(500, 3, 8, 8), ratio=0.5)
    zeros = (out == 0).all(dim=1)  # the same square in every channel
    assert ((out == 0).any(dim=1) == zeros).all()
    counts = zeros.sum(dim=(1, 2))
    assert counts.max() == 16 and counts.min() >= 4  # 4×4, or cut by the border (at most to 2×2)
    rows, cols = zeros.any(dim=2), zeros.any(dim=1)  # a square: a block of whole rows and columns
    assert torch.equal(counts, rows.sum(1) * cols.sum(1))


def test_color_keeps_an_image_s_structure_and_moves_its_brightness_saturation_and_contrast():
    torch.manual_seed(0)
    x = torch.rand(256, 3, 4, 4) * 2 - 1
    out = color(x)
    assert not torch.allclose(out, x)
    # brightness, saturation and contrast are affine per pixel: the pixel order of each image's
    # grey level (its channel mean) survives
    grey_in, grey_out = x.mean(1).flatten(1), out.mean(1).flatten(1)
    assert torch.equal(grey_in.argsort(dim=1), grey_out.argsort(dim=1))


def test_diffaugment_is_differentiable_and_draws_anew_for_each_batch():
    x = torch.zeros(8, 1, 8, 8, requires_grad=True)
    DiffAugment(["translation", "cutout"]).d_input(x + 0.5, step=0).sum().backward()
    assert set(x.grad.unique().tolist()) == {0.0, 1.0}  # 0 where cutout or a shift dropped a pixel
    x.grad = None
    DiffAugment(["color"]).d_input(x + 0.5, step=0).pow(2).sum().backward()
    assert (x.grad != 0).all()  # G's gradient reaches every pixel through the colour changes
    augment = DiffAugment(["color", "translation", "cutout"])
    same = torch.full((2, 1, 8, 8), 0.5)
    assert not torch.equal(augment.d_input(same, 0), augment.d_input(same, 0))


def test_diffaugment_needs_images_and_each_policy_once():
    assert "augments images" in _refusal("toy-ring8", "techniques.diffaugment={}")
    assert "each augmentation once" in _refusal("dcgan-fashion", "techniques.diffaugment={policy: [color, color]}")
    cfg = build_config(load_preset("dcgan-fashion"), ["techniques.diffaugment={}"])
    assert cfg.techniques.diffaugment.policy == ["color", "translation", "cutout"]


# ------------------------------------------------------------------------------------ PacGAN


def test_a_packed_d_sees_consecutive_examples_concatenated_and_gives_one_output_per_pack():
    inner = nn.Linear(4, 1, bias=False)  # two 2-D points per pack
    nn.init.constant_(inner.weight, 0.0)
    with torch.no_grad():
        inner.weight[0, 2] = 1.0  # the first coordinate of the pack's second point
    d = PackedDiscriminator(inner, pack=2)
    x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
    assert d(x).flatten().tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="does not split into packs of 2"):
        d(x[:3])


@pytest.mark.parametrize("preset, shape, first", [
    ("toy-ring8", (2,), "in_features"), ("dcgan-fashion", (1, 28, 28), "in_channels"),
])
def test_only_d_s_first_layer_widens_for_packs(preset, shape, first):
    cfg = build_config(load_preset(preset), ["model.pack=3", "train.batch_size=30"])
    g, d = build_nets(cfg.model, shape, seed=0)
    layer = next(m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    assert getattr(layer, first) == 3 * shape[0]
    assert d(torch.randn(6, *shape)).shape == (2,)
    assert sum(p.numel() for p in g.parameters()) == sum(p.numel() for p in build_nets(
        build_config(load_preset(preset), []).model, shape, seed=0)[0].parameters())


def test_the_penalties_take_the_gradient_norm_per_pack():
    """A packed D's input is the pack: GP's ‖∇‖ and R1's ‖∇‖² are over all its examples' pixels."""
    inner = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        inner.weight.copy_(torch.tensor([[1.0, 2.0, 2.0, 4.0]]))  # ‖w‖ = 5 per pack
    d = PackedDiscriminator(inner, pack=2)
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    gp = GradientPenalty(1.0).d_terms(d_context(d, real, fake))["penalty"]
    assert gp.item() == pytest.approx((5 - 1) ** 2)
    r1 = ZeroCentredPenalty("r1", 2.0).d_terms(d_context(d, real, fake))["penalty"]
    assert r1.item() == pytest.approx(25)


def test_packing_refuses_what_needs_d_s_verdict_on_each_example():
    assert "does not split into packs" in _refusal("toy-ring8", "model.pack=3", "train.batch_size=32")
    assert "techniques.semi_supervised does not combine with model.pack" in _refusal(
        "ssl-mnist-100", "model.pack=2")
    assert "gaussian-1d" in _refusal("goodfellow-1d", "model.pack=2")
    assert "layer: features" in _refusal("dcgan-fashion", "model.pack=2", "techniques.feature_matching={layer: trunk.0}")


# --------------------------------------------------------------------------------- all of them


R3GAN_TOY = ["objective.name=rpgan", "model.d.spectral_norm=true", "techniques.r1={gamma: 0.5, every: 4}",
             "techniques.r2={gamma: 0.5}", "model.pack=2"]
R3GAN_DIGITS = ["objective.name=rpgan", "model.d.norm=none", "model.d.spectral_norm=true",
                "techniques.r1={gamma: 0.1, every: 2}", "techniques.diffaugment={}"]


@pytest.mark.parametrize("preset, args, settings, half", [
    ("toy-ring8", tiny_args, R3GAN_TOY, 6),  # of 12 steps
    ("dcgan-fashion", digits_args, R3GAN_DIGITS, 3),  # of 6: with DiffAugment's draws
], ids=["toy-packed", "digits-augmented"])
def test_the_stabilisers_together_train_and_resume_exactly(tmp_path, cli, preset, args, settings, half):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert cli("train", "--preset", preset, "--out", straight, *args(*settings))[0] == 0
    assert cli("train", "--preset", preset, "--out", split, *args(*settings, f"train.steps={half}"))[0] == 0
    code, _, err = cli("train", "--resume", split, "--set", f"train.steps={2 * half}")
    assert code == 0, err
    a, b = checkpoint.load(straight), checkpoint.load(split)
    assert any("_u" in k for k in a.tensors)  # the power iteration's vectors are in the checkpoint
    assert [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])] == []
    assert '"d/r1/penalty"' in (straight / "metrics.jsonl").read_text()


@pytest.mark.parametrize("preset", ["sngan-fashion", "pacgan-stacked-mnist", "r3gan-stacked-mnist"])
def test_the_stabiliser_presets_train_from_the_cli(tmp_path, cli, monkeypatch, preset):
    for name in ("mnist", "fashion-mnist"):
        write_idx_set(tmp_path / "data" / name)
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "data"))
    small = ["train.steps=2", "train.batch_size=8", "model.g.width=8", "model.d.width=8"]
    if "stacked" in preset:
        small += ["data.size=64", "log.metrics_samples=200"]
    code, _, err = cli("train", "--preset", preset, "--out", tmp_path / "run", *[a for s in small for a in ("--set", s)])
    assert code == 0, err
    assert checkpoint.list_steps(tmp_path / "run") == [2]


def test_a_weight_average_copies_the_power_iteration_vectors_and_averages_the_weights():
    """Averaged, u and v would not be unit vectors, and the average (in eval mode) never iterates them."""
    from gankit.techniques.ema import WeightAverage

    live = spectral_normalise(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1)), seed=0)
    average = WeightAverage(live, decay=0.9)
    first = live[0].parametrizations.weight.original.clone()
    with torch.no_grad():
        live[0].parametrizations.weight.original.mul_(3)
        for _ in range(20):
            live(torch.randn(2, 3))  # power iterations move u and v
    average.update(live)
    kept, moved = dict(average.net.named_buffers()), dict(live.named_buffers())
    assert all(torch.equal(kept[n], moved[n]) for n in moved if n.endswith(("_u", "_v")))
    expected = 0.9 * first + 0.1 * live[0].parametrizations.weight.original
    assert torch.allclose(average.net[0].parametrizations.weight.original, expected)


def test_the_gradient_penalty_mixes_each_pack_with_one_weight():
    inner = nn.Linear(4, 1, bias=False)
    d = PackedDiscriminator(inner, pack=2)
    real, fake = torch.zeros(4, 2), torch.ones(4, 2)
    seen = []
    inner.register_forward_hook(lambda module, args, out: seen.append(args[0].detach()))
    GradientPenalty(1.0).d_terms(d_context(d, real, fake))
    mixed = seen[0]  # 2 packs of 2 points: every coordinate of a pack mixed by the same weight
    assert all(len(set(row.tolist())) == 1 for row in mixed)


def test_each_process_s_share_of_the_batch_must_split_into_packs():
    from gankit.train.batches import check_batch_split

    check_batch_split(8, 2, pack=2)
    with pytest.raises(UserError, match="gives each 3 examples, which do not split into packs of model.pack=2"):
        check_batch_split(6, 2, pack=2)


def test_the_trainer_pairs_g_s_samples_with_a_real_batch_and_tells_the_hooks_its_step(monkeypatch):
    from gankit.run import build_trainer
    from gankit.train.distributed import Distributed
    from gankit.train.trainer import Trainer

    judged, steps = [], []
    real_judge = Trainer._judge_real
    monkeypatch.setattr(Trainer, "_judge_real", lambda self: judged.append(self.step) or real_judge(self))
    terms = ZeroCentredPenalty.d_terms
    monkeypatch.setattr(ZeroCentredPenalty, "d_terms", lambda self, ctx: steps.append(ctx.step) or terms(self, ctx))
    for objective, pairs in (("rpgan", True), ("hinge", False)):
        judged.clear()
        cfg = build_config(load_preset("toy-ring8"), [*tiny_args(f"objective.name={objective}")[1::2],
                                                      "techniques.r1={gamma: 1, every: 2}"])
        trainer = build_trainer(cfg, Distributed(), torch.device("cpu"))
        for _ in range(3):
            trainer.train_step()
        assert judged == ([0, 1, 2] if pairs else [])  # one real batch per G update, for a pairing loss only
    assert steps == [0, 1, 2, 0, 1, 2]
