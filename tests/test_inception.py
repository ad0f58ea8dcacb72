"""The FID Inception-v3 against pytorch-fid's network, and where its weights come from.

A freshly initialised Inception maps every image to almost the same vector, so parity on it proves
nothing. The shared random network is calibrated first (batch-norm statistics gathered from random
images), and a test checks that it then tells two image sets apart.

Nothing downloads: pytorch-fid's network is built with its weight download patched to return
random weights.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytorch_fid.inception as pytorch_fid
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor, nn

from gankit.errors import UserError
from gankit.metrics.inception import InceptionFeatures, load_inception
from gankit.metrics.inception_weights import WEIGHTS_ENV, WEIGHTS_FILE, WEIGHTS_URL


def calibrate(net: nn.Module, batch: Tensor) -> None:
    """Running batch-norm statistics = those of `batch`, so that activations keep their scale."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average
    net.train()
    with torch.no_grad():
        net(batch)
    net.eval()


def as_rgb_floats(images: Tensor) -> Tensor:
    """What pytorch-fid takes: RGB floats in [0, 1] (PIL's convert('RGB'), then ToTensor)."""
    return images.float().div(255).expand(-1, 3, -1, -1).contiguous()


def fid_input(images: Tensor) -> Tensor:
    """pytorch-fid's InceptionV3 preprocessing, for its bare network."""
    x = F.interpolate(as_rgb_floats(images), size=(299, 299), mode="bilinear", align_corners=False)
    return 2 * x - 1


def max_abs_diff(a: Tensor, b: Tensor) -> float:
    return (a - b).abs().max().item()


def assert_matches(ours: Tensor, theirs: Tensor) -> None:
    """Within 1e-5 at unit scale: the calibrated random features are O(10), where float32 steps
    are ~1e-6, so the bound is relative beyond magnitude 1."""
    assert ours.shape == theirs.shape and ours.dtype == torch.float32
    assert max_abs_diff(ours, theirs) <= 1e-5 * max(1.0, theirs.abs().max().item())


_gen = torch.Generator().manual_seed(0)
GRAY = torch.randint(0, 256, (4, 1, 28, 28), generator=_gen, dtype=torch.uint8)  # noise
# Blocky colour patches: a second set unlike the first.
RGB = F.interpolate(torch.randint(0, 256, (4, 3, 4, 4), generator=_gen).float(), size=32).byte()
CALIBRATION = torch.randint(0, 256, (8, 3, 32, 32), generator=_gen, dtype=torch.uint8)
SETS = {"gray": GRAY, "rgb": RGB}


@dataclass
class Nets:
    ours: InceptionFeatures
    theirs: nn.Module  # pytorch-fid's fid_inception_v3(): the bare network, with fc
    wrapper: nn.Module  # pytorch-fid's InceptionV3([3]): the 2048-d pool features, preprocessing included


@pytest.fixture(scope="module")
def nets() -> Nets:
    with torch.random.fork_rng(devices=[]), pytest.MonkeyPatch.context() as mp:
        torch.manual_seed(0)
        mp.setattr(pytorch_fid, "load_state_dict_from_url", lambda *a, **k: InceptionFeatures().state_dict())
        theirs = pytorch_fid.fid_inception_v3()  # loads our random weights strictly
        calibrate(theirs, fid_input(CALIBRATION))
        state = theirs.state_dict()
        mp.setattr(pytorch_fid, "load_state_dict_from_url", lambda *a, **k: state)
        wrapper = pytorch_fid.InceptionV3([3], resize_input=True, normalize_input=True).eval()
    ours = InceptionFeatures()
    ours.load_state_dict(state)
    return Nets(ours, theirs, wrapper)


@pytest.fixture(scope="module")
def outputs(nets: Nets) -> dict[str, dict[str, Tensor]]:
    """Each image set through our network and pytorch-fid's two: computed once, compared below."""
    result = {}
    with torch.no_grad():
        for name, images in SETS.items():
            pool, logits = nets.ours(images)
            result[name] = {
                "pool": pool,
                "logits": logits,
                "their_pool": nets.wrapper(as_rgb_floats(images))[0].flatten(1),
                # the IS logits: pytorch-fid's fc output less its bias (the original IS code's MatMul)
                "their_logits": nets.theirs(fid_input(images)) - nets.theirs.fc.bias,
            }
    return result


def test_state_dict_is_pytorch_fids(nets: Nets):
    theirs = nets.theirs.state_dict()
    ours = InceptionFeatures()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.items()}
    ours.load_state_dict(theirs)  # strict
    # A state dict saved before batch norm counted its batches loads too.
    ours.load_state_dict({k: v for k, v in theirs.items() if not k.endswith("num_batches_tracked")})


def test_calibrated_network_tells_image_sets_apart(outputs):
    gray, rgb = outputs["gray"]["pool"], outputs["rgb"]["pool"]
    # FID's mean term alone; an uncalibrated network gives ~1e-12 here.
    assert (gray.mean(0) - rgb.mean(0)).square().sum() > 1.0
    for pool in (gray, rgb):
        assert torch.pdist(pool).min() > 0.01 * pool.norm(dim=1).mean()


@pytest.mark.parametrize("name", SETS)
def test_pool_features_match_pytorch_fid(outputs, name):
    out = outputs[name]
    assert out["pool"].shape == (len(SETS[name]), InceptionFeatures.dim)
    assert_matches(out["pool"], out["their_pool"])


@pytest.mark.parametrize("name", SETS)
def test_logits_match_pytorch_fid_network(outputs, name):
    out = outputs[name]
    assert out["logits"].shape == (len(SETS[name]), InceptionFeatures.num_classes)
    assert_matches(out["logits"], out["their_logits"])


def test_stays_in_eval_mode_and_checks_its_input(nets: Nets):
    nets.ours.train()
    assert not any(module.training for module in nets.ours.modules())
    with pytest.raises(ValueError, match="uint8"):
        nets.ours(GRAY.float())
    with pytest.raises(ValueError, match="C = 1 or 3"):
        nets.ours(torch.zeros(1, 4, 8, 8, dtype=torch.uint8))


@pytest.fixture
def no_weights(monkeypatch, tmp_path: Path) -> Path:
    """No env var and an empty torch hub: returns where the hub cache file would be."""
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE


def test_missing_weights_say_where_they_were_sought_and_how_to_get_them(no_weights: Path):
    with pytest.raises(UserError) as info:
        load_inception()
    message = str(info.value)
    assert "\n" not in message
    assert WEIGHTS_ENV in message and WEIGHTS_URL in message and str(no_weights) in message


def test_a_named_file_that_does_not_exist_is_an_error(no_weights: Path, monkeypatch, tmp_path: Path):
    with pytest.raises(UserError, match="nowhere.pth"):
        load_inception(tmp_path / "nowhere.pth")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "absent.pth"))
    with pytest.raises(UserError, match=f"absent.pth.*{WEIGHTS_ENV}"):
        load_inception()


def _truncated_pth() -> bytes:
    buffer = io.BytesIO()
    torch.save({"fc.weight": torch.zeros(8, 8)}, buffer)
    return buffer.getvalue()[:200]


@pytest.mark.parametrize(
    "name, content",
    [
        ("x.pth", b"garbage bytes " * 8),
        ("x.pth", _truncated_pth()),
        ("x.safetensors", b"garbage bytes " * 8),
    ],
    ids=["garbage-pth", "truncated-pth", "garbage-safetensors"],
)
def test_a_corrupt_file_is_named(tmp_path: Path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UserError, match=re.escape(str(path))):
        load_inception(path)


def test_wrong_tensors_are_named(tmp_path: Path):
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(3)}, path)
    with pytest.raises(UserError, match=f"{re.escape(str(path))} does not hold the FID Inception"):
        load_inception(path)


def assert_same_weights(net: InceptionFeatures, state: dict[str, Tensor]) -> None:
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())


def test_weights_load_from_path_env_var_and_hub_cache_in_that_order(
    nets: Nets, no_weights: Path, monkeypatch, tmp_path: Path
):
    state = nets.ours.state_dict()
    safetensors_file, pth_file = tmp_path / "w.safetensors", tmp_path / "w.pth"
    save_file(state, safetensors_file)
    torch.save(state, pth_file)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not weights")

    no_weights.parent.mkdir(parents=True)
    no_weights.write_bytes(b"not weights")
    with pytest.raises(UserError, match=re.escape(str(no_weights))):
        load_inception()  # the hub cache is read when nothing else is named
    monkeypatch.setenv(WEIGHTS_ENV, str(pth_file))
    assert_same_weights(load_inception(), state)  # the env var comes before the hub cache
    monkeypatch.setenv(WEIGHTS_ENV, str(garbage))
    assert_same_weights(load_inception(safetensors_file), state)  # a path comes before the env var
