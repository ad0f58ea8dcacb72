"""Speed of FID end to end — gankit against pytorch-fid and torch-fidelity, in one process.

What it measures: for each implementation, the seconds to extract the 2048-d Inception pool
features of N generated and N real images (3×32×32 uint8, like CIFAR-10) and compute the FID
between them, and from that images per second (2N / total seconds). Each runs its own code:

- gankit: `features.extract` with `InceptionFeatures`, `FeatureStats.from_features` and
  `frechet_distance` on the device (float64; two symmetric eigendecompositions);
- pytorch-fid: `InceptionV3([3])` on float [0, 1] batches, looped as its `get_activations` loops
  (less the image files: each batch's features go to the host and into a float64 array), then
  `np.mean` / `np.cov` and its `calculate_frechet_distance` (scipy's `sqrtm`, wrapped because
  scipy 1.18 drops the `disp` argument pytorch-fid passes);
- torch-fidelity: `FeatureExtractorInceptionV3` on uint8 batches, looped as its
  `get_featuresdict_from_dataset` loops, then `metric_fid.fid_features_to_statistics` and
  `fid_statistics_to_metric` (numpy eigenvalues of Σ1·Σ2).

All three get the same network weights: random ones, since the real file is a download. A freshly
initialised Inception maps every image to almost the same vector, so the batch-norm statistics are
first calibrated on a few of the images; the speed does not depend on the weights' values. The
three state dicts share torchvision's key names, so the same dict loads strictly into each
(torch-fidelity's from a temporary file, as it reads weights). The images are synthetic smooth
colour patterns, resident on the device so that no data loading is timed; every implementation
gets the same batch size and threads and one untimed warm-up forward.

FID values: gankit and pytorch-fid preprocess alike, so their FIDs agree closely (the features
differ only in float rounding, gankit running channels-last). torch-fidelity preprocesses
differently (TF1's bilinear resize of the uint8 image, then (x − 128)/128 rather than 2x/255 − 1);
with the real weights that moves FID by about 1%, but the random network amplifies small input
changes (the 0.4% difference in input scale alone moves its features by about half their largest
value), so here torch-fidelity's features and FID differ far more: its row measures speed, not
agreement. With N < 2048 the covariances are singular and the peers' `sqrtm` and `eigvals` of Σ1·Σ2
return noise, so FIDs differ by more than the features do.

Targets (issue text): gankit at least 1.5× the faster peer on a GPU, at least 1× on a CPU.

On a CPU shared with other processes, set OMP_WAIT_POLICY=PASSIVE: OpenMP threads otherwise spin at
every barrier while their partner waits for a time slice, and operations made of many short
parallel regions crawl (a 2048×2048 float64 `eigh` on 2 threads took 55 s instead of 5).

    python benchmarks/metrics_speed.py                          # N = 10000; writes RESULTS.md
    OMP_WAIT_POLICY=PASSIVE python benchmarks/metrics_speed.py --n 200 --threads 2   # prints only
    OMP_WAIT_POLICY=PASSIVE python benchmarks/metrics_speed.py --n 200 --threads 2 --write  # and records it
"""

from __future__ import annotations

import argparse
import tempfile
import time
import types
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_fid.fid_score as pytorch_fid_score
import pytorch_fid.inception as pytorch_fid_inception
import scipy.linalg
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits
from torch import Tensor, nn
from torch_fidelity import metric_fid
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from gankit.metrics.features import extract
from gankit.metrics.fid import FeatureStats, frechet_distance
from gankit.metrics.inception import INPUT_SIZE, InceptionFeatures
from gankit.run import pick_device
from machine import device_name, sync
from results_md import this_command, write_block

FULL_N = 10_000
RESOLUTION = 32
CALIBRATION_IMAGES = 16
SPACE = "inception-v3-random"


@dataclass
class Result:
    name: str
    features_s: float
    fid_s: float
    fid: float
    generated_features: Tensor  # for the agreement column

    @property
    def total_s(self) -> float:
        return self.features_s + self.fid_s


# --- the shared inputs -------------------------------------------------------------------------


def smooth_images(n: int, coarse: int, seed: int) -> Tensor:
    """n uint8 images 3×32×32: random coarse×coarse colour grids, bilinearly enlarged."""
    generator = torch.Generator().manual_seed(seed)
    grid = torch.randint(0, 256, (n, 3, coarse, coarse), generator=generator).float()
    return F.interpolate(grid, size=RESOLUTION, mode="bilinear", align_corners=False).round().byte()


def calibrated_weights(images: Tensor) -> dict[str, Tensor]:
    """A random FID-Inception state dict whose batch-norm statistics are those of `images`.

    pytorch-fid's bare network is built with its download replaced by random weights, and
    calibrated in train mode (gankit's `InceptionFeatures` never leaves eval mode).
    """
    download = pytorch_fid_inception.load_state_dict_from_url
    pytorch_fid_inception.load_state_dict_from_url = lambda *a, **k: InceptionFeatures().state_dict()
    try:
        net = pytorch_fid_inception.fid_inception_v3()
    finally:
        pytorch_fid_inception.load_state_dict_from_url = download
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the calibration batch
    x = F.interpolate(images.float() / 255, size=INPUT_SIZE, mode="bilinear", align_corners=False)
    net.train()
    with torch.no_grad():
        net(2 * x - 1)
    return net.state_dict()


def timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    sync(device)
    start = time.perf_counter()
    value = fn()
    sync(device)
    return value, time.perf_counter() - start


# --- the three implementations --------------------------------------------------------------------


def run_gankit(
    state: dict[str, Tensor], generated: Tensor, real: Tensor, batch: int, warmup: Tensor, device: torch.device
) -> Result:
    net = InceptionFeatures()
    net.load_state_dict(state)
    net.to(device)
    net(warmup)

    def features() -> tuple[Tensor, Tensor]:
        return extract(net, generated, batch)[0], extract(net, real, batch)[0]

    def fid(feats: tuple[Tensor, Tensor]) -> float:
        a, b = (FeatureStats.from_features(f.to(device), SPACE) for f in feats)
        return frechet_distance(a, b)

    feats, features_s = timed(features, device)
    value, fid_s = timed(lambda: fid(feats), device)
    return Result("gankit", features_s, fid_s, value, feats[0])


def _sqrtm(matrix: np.ndarray, disp: bool = True):
    """scipy's sqrtm with the `(root, error)` return of `disp=False` that pytorch-fid unpacks."""
    root = scipy.linalg.sqrtm(matrix)
    return root if disp else (root, 0.0)


def run_pytorch_fid(
    state: dict[str, Tensor], generated: Tensor, real: Tensor, batch: int, warmup: Tensor, device: torch.device
) -> Result:
    download = pytorch_fid_inception.load_state_dict_from_url
    pytorch_fid_inception.load_state_dict_from_url = lambda *a, **k: state
    try:
        model = pytorch_fid_inception.InceptionV3([3]).to(device).eval()
    finally:
        pytorch_fid_inception.load_state_dict_from_url = download
    with torch.no_grad():
        model(warmup.float() / 255)

    def activations(images: Tensor) -> np.ndarray:
        pred_arr = np.empty((len(images), 2048))
        start = 0
        for chunk in images.split(batch):
            with torch.no_grad():
                pred = model(chunk.to(device).float() / 255)[0]  # what ToTensor gives it
            pred = pred.squeeze(3).squeeze(2).cpu().numpy()
            pred_arr[start : start + len(pred)] = pred
            start += len(pred)
        return pred_arr

    def fid(acts: tuple[np.ndarray, np.ndarray]) -> float:
        stats = [(np.mean(a, axis=0), np.cov(a, rowvar=False)) for a in acts]
        original = pytorch_fid_score.linalg
        pytorch_fid_score.linalg = types.SimpleNamespace(sqrtm=_sqrtm)
        try:
            return float(pytorch_fid_score.calculate_frechet_distance(*stats[0], *stats[1]))
        except ValueError:  # "Imaginary component": sqrtm of a singular product (N < 2048)
            return float("nan")
        finally:
            pytorch_fid_score.linalg = original

    acts, features_s = timed(lambda: (activations(generated), activations(real)), device)
    value, fid_s = timed(lambda: fid(acts), device)
    return Result("pytorch-fid", features_s, fid_s, value, torch.from_numpy(acts[0]).float())


def run_torch_fidelity(
    state: dict[str, Tensor], generated: Tensor, real: Tensor, batch: int, warmup: Tensor, device: torch.device
) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weights.pth"
        torch.save(state, path)
        extractor = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)
        )
    extractor.to(device)
    with torch.no_grad():
        extractor(warmup)

    def features(images: Tensor) -> Tensor:
        out = []
        with torch.no_grad():
            for chunk in images.split(batch):
                featuresdict = extractor.convert_features_tuple_to_dict(extractor(chunk.to(device)))
                out.append(featuresdict["2048"].cpu())
        return torch.cat(out)

    def fid(feats: tuple[Tensor, Tensor]) -> float:
        stats = [metric_fid.fid_features_to_statistics(f) for f in feats]
        return metric_fid.fid_statistics_to_metric(*stats, verbose=False)[metric_fid.KEY_METRIC_FID]

    feats, features_s = timed(lambda: (features(generated), features(real)), device)
    value, fid_s = timed(lambda: fid(feats), device)
    return Result("torch-fidelity", features_s, fid_s, value, feats[0])


# --- the report -----------------------------------------------------------------------------------


def tf32_note(device: torch.device) -> str:
    """Whether cuDNN convolutions ran in TF32 (torch's default): it moves every FID a little."""
    if device.type != "cuda":
        return ""
    state = "on" if torch.backends.cudnn.allow_tf32 else "off"
    return f" cuDNN TF32 for convolutions: {state} (torch's default), in all three alike."


def relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def table(results: list[Result]) -> str:
    ours = results[0]
    rows = [
        "| implementation | features s | FID s | total s | images/s | gankit speed-up | FID | "
        "FID rel. diff. vs gankit | max feature diff. / max feature, vs gankit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        images_per_s = 2 * len(r.generated_features) / r.total_s
        scale = ours.generated_features.abs().max()
        feature_diff = (r.generated_features - ours.generated_features).abs().max() / scale
        rows.append(
            f"| {r.name} | {r.features_s:.2f} | {r.fid_s:.2f} | {r.total_s:.2f} | {images_per_s:,.1f} | "
            f"{r.total_s / ours.total_s:.2f}× | {r.fid:.6g} | {relative(r.fid, ours.fid):.1e} | {feature_diff:.1e} |"
        )
    return "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=FULL_N, help="generated images, and as many real ones")
    parser.add_argument("--batch", type=int, default=None, help="images per forward (default: 250 GPU, 100 CPU)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch and BLAS (default: torch's)")
    parser.add_argument("--write", action="store_true",
                        help="write the RESULTS.md block at this --n too (on a CPU, 10,000 images take hours)")
    args = parser.parse_args()
    device = pick_device(args.device)
    batch = args.batch or (250 if device.type == "cuda" else 100)
    if args.threads:
        torch.set_num_threads(args.threads)
    limits = threadpool_limits(args.threads) if args.threads else nullcontext()

    with limits:
        generated = smooth_images(args.n, coarse=4, seed=1)
        real = smooth_images(args.n, coarse=8, seed=2)
        calibration = torch.cat([generated[: CALIBRATION_IMAGES // 2], real[: CALIBRATION_IMAGES // 2]])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            state = calibrated_weights(calibration)
        generated, real = generated.to(device), real.to(device)
        # A GPU warms up at the timed shape; on a CPU a full batch would cost a minute per
        # implementation, and a small one loads the kernels as well.
        warmup = real[:batch] if device.type == "cuda" else real[:8]
        results = []
        for run in (run_gankit, run_pytorch_fid, run_torch_fidelity):
            results.append(run(state, generated, real, batch, warmup, device))
            r = results[-1]
            print(f"{r.name}: {r.features_s:.2f} s features + {r.fid_s:.2f} s FID; FID {r.fid:.6g}", flush=True)

    text = table(results)
    best_peer = min(results[1:], key=lambda r: r.total_s)
    target = 1.5 if device.type == "cuda" else 1.0
    speedup = best_peer.total_s / results[0].total_s
    verdict = (
        f"gankit is {speedup:.2f}× the faster peer ({best_peer.name}); target ≥ {target}× on "
        f"{'a GPU' if device.type == 'cuda' else 'a CPU'}: {'met' if speedup >= target else 'NOT met'}."
    )
    print()
    print(text, end="")
    print(verdict)
    if args.n == FULL_N or args.write:
        command = this_command()
        body = (
            f"## FID speed, {args.n:,} generated vs {args.n:,} real images (`benchmarks/metrics_speed.py`) — "
            f"{device_name(device)}\n\n"
            f"Made by `{command}` on {time.strftime('%Y-%m-%d')}; torch {torch.__version__}; batch {batch}. "
            "Each implementation extracts the 2048-d Inception features of both sets (3×32×32 uint8 "
            "images, resident on the device) and computes the FID, with its own code and the same "
            "random-weight, batch-norm-calibrated Inception. gankit and pytorch-fid preprocess alike "
            "(their features differ in float rounding only). torch-fidelity resizes with TF1's "
            "bilinear on uint8 and scales by (x − 128)/128: about 1% in FID with the real weights, far "
            "more with random ones, which amplify small input changes, so its row measures speed, not "
            "agreement. Speed-up = that implementation's total seconds / gankit's."
            f"{tf32_note(device)}\n\n{text}\n{verdict}\n"
        )
        write_block(f"metrics-speed-{device.type}", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
