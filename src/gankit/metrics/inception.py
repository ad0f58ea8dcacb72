"""Inception-v3 as the FID and Inception Score reference implementations run it.

FID (Heusel et al. 2017) and the Inception Score (Salimans et al. 2016) are defined on one network:
TensorFlow's `inception-2015-12-05` graph. Numbers are comparable with published ones only in that
feature space, so this is that graph, not torchvision's Inception-v3. It differs from torchvision's
in four places (pytorch-fid's `FIDInceptionA/C/E_1/E_2` blocks patch the same ones):

- 1008 outputs, not 1000: the 2015 graph's classifier has 8 unused classes;
- the 3×3 average pools inside Mixed_5b-5d, 6b-6e and 7b leave padded zeros out of the average
  (TensorFlow's SAME pooling, `count_include_pad=False`);
- Mixed_7c pools its last branch with a 3×3 *max* pool, a quirk of that graph;
- no auxiliary classifier.

The layer names follow torchvision's, so the state dict is exactly the one pytorch-fid distributes
(`pt_inception-2015-12-05-6726825d.pth`) and that file loads as it is.

Preprocessing is pytorch-fid's: uint8 → float in [0, 1], bilinear resize to 299×299 with
`F.interpolate(align_corners=False)`, then scale to [-1, 1]. torch-fidelity (and the original TF
code) resize the uint8 image with TF1's bilinear instead; on the same images the two FIDs differ by
about 1%. gankit reproduces pytorch-fid, and its tests compare against pytorch-fid.

The network runs channels-last (NHWC): oneDNN's and cuDNN's fastest convolutions take that layout,
and on a CPU it alone makes the network about 1.4× faster. Only the activations change layout; the
parameters stay contiguous, so the state dict still saves as it is (safetensors needs contiguous
tensors). The other layout sums in another order, so features agree with pytorch-fid's to about
1e-5 relative rather than bit for bit (see tests/test_inception.py and benchmarks/metrics_speed.py).

Weights never download at run time (evaluation must work offline and reproducibly): they come from
an explicit path, `$GANKIT_INCEPTION_WEIGHTS`, or the torch hub cache, in that order. A `.pth` is read
with `torch.load(weights_only=True)`, which refuses to run code from the file; `.safetensors` also
works.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn
from torchvision.models.inception import (
    BasicConv2d,
    InceptionA,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
)

from gankit.errors import UserError, first_line
from gankit.metrics.inception_weights import find_weights

INPUT_SIZE = 299


def _avg_pool_without_padding(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool(x: Tensor) -> Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def _chain(x: Tensor, *layers: nn.Module) -> Tensor:
    for layer in layers:
        x = layer(x)
    return x


# The three mixed blocks below reuse torchvision's layers (and so its state-dict names) and replace
# only `forward`, whose pooling branch is where the TF graph differs.


class _MixedA(InceptionA):
    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                _chain(x, self.branch5x5_1, self.branch5x5_2),
                _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                self.branch_pool(_avg_pool_without_padding(x)),
            ],
            1,
        )


class _MixedC(InceptionC):
    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
                _chain(
                    x,
                    self.branch7x7dbl_1,
                    self.branch7x7dbl_2,
                    self.branch7x7dbl_3,
                    self.branch7x7dbl_4,
                    self.branch7x7dbl_5,
                ),
                self.branch_pool(_avg_pool_without_padding(x)),
            ],
            1,
        )


class _MixedE(InceptionE):
    """Mixed_7b pools its last branch by averaging without padding, Mixed_7c by max pooling."""

    def __init__(self, in_channels: int, pool: Callable[[Tensor], Tensor]) -> None:
        super().__init__(in_channels)
        self.pool = pool

    def forward(self, x: Tensor) -> Tensor:
        branch3x3 = self.branch3x3_1(x)
        branch3x3dbl = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(branch3x3),
                self.branch3x3_2b(branch3x3),
                self.branch3x3dbl_3a(branch3x3dbl),
                self.branch3x3dbl_3b(branch3x3dbl),
                self.branch_pool(self.pool(x)),
            ],
            1,
        )


class InceptionFeatures(nn.Module):
    """The FID Inception-v3: uint8 images → (2048-d pool features, 1008-way logits).

    `InceptionFeatures()` has untrained weights (for tests); `load_inception()` gives the real ones.
    Attribute names are those of the distributed state dict, hence the TF-style capitals.

    The logits are `pool @ fc.weight.T`, without fc's bias: what the original Inception Score code
    (openai/improved-gan, the `softmax/logits/MatMul` of the TF graph) and torch-fidelity's `isc`
    feed to the softmax. They are only used for the Inception Score.
    """

    name = "inception-v3-fid"
    dim = 2048
    num_classes = 1008
    resolution = INPUT_SIZE
    sha256 = ""  # of the weights file it was loaded from (keys the evaluator's feature cache)

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = _MixedA(192, pool_features=32)
        self.Mixed_5c = _MixedA(256, pool_features=64)
        self.Mixed_5d = _MixedA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = _MixedC(768, channels_7x7=128)
        self.Mixed_6c = _MixedC(768, channels_7x7=160)
        self.Mixed_6d = _MixedC(768, channels_7x7=160)
        self.Mixed_6e = _MixedC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = _MixedE(1280, pool=_avg_pool_without_padding)
        self.Mixed_7c = _MixedE(2048, pool=_max_pool)
        self.fc = nn.Linear(self.dim, self.num_classes)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> InceptionFeatures:
        """Stays in eval mode: batch statistics would move the feature space the metrics live in."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """uint8 images N×C×H×W (C = 1 or 3, any size) → (pool N×2048, logits N×1008), float32.

        Images move to the network's device. Memory grows with N at 299×299: pass batches.
        """
        x = _preprocess(images.to(self.fc.weight.device)).contiguous(memory_format=torch.channels_last)
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = _chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = _chain(
            x,
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        )
        pool = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return pool, pool @ self.fc.weight.T


def _preprocess(images: Tensor) -> Tensor:
    """pytorch-fid's input pipeline: [0, 1] floats, bilinear resize to 299×299, then [-1, 1]."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"expected uint8 images N×C×H×W with C = 1 or 3, got {images.dtype} {tuple(images.shape)}"
        )
    x = images.float() / 255
    # Grayscale becomes RGB first, as pytorch-fid's users convert it: resizing one channel or three
    # takes different kernels, whose results differ in the last bit.
    x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
    x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2 * x - 1


def load_inception(
    path: str | os.PathLike[str] | None = None, device: torch.device | str = "cpu"
) -> InceptionFeatures:
    """The FID Inception-v3 with the standard weights, from the first place that has them.

    The places: `path`, then `$GANKIT_INCEPTION_WEIGHTS`, then the torch hub cache where pytorch-fid
    keeps the file. Raises `UserError` if none has it or the file is not those weights.
    """
    file = find_weights(path)
    state = _read_state_dict(file)
    net = InceptionFeatures()
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:  # missing, unexpected or wrongly shaped tensors
        raise UserError(f"{file} does not hold the FID Inception-v3 weights: {first_line(exc)}") from exc
    net.sha256 = hashlib.sha256(file.read_bytes()).hexdigest()
    return net.to(device)


def _read_state_dict(file: Path) -> Mapping[str, Tensor]:
    try:
        if file.suffix == ".safetensors":
            state = load_file(file, device="cpu")
        else:
            state = torch.load(file, map_location="cpu", weights_only=True)
    # A bad file fails in torch.load and safetensors with many unrelated exception types, and
    # torch's own messages (e.g. advice to turn weights_only off) would mislead here.
    except Exception as exc:
        raise UserError(
            f"cannot read Inception weights from {file} ({type(exc).__name__}): truncated, corrupt, "
            f"or neither a torch.save state dict nor a .safetensors file"
        ) from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise UserError(f"{file} is not a state dict of tensors")
    return state
