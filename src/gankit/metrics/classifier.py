"""Offline evaluators: small CNN classifiers that gankit trains itself, as a feature space for
FID, IS, KID and precision/recall on machines without the Inception-v3 weights.

Why: Inception-v3 is trained on ImageNet photographs and needs a download; on MNIST-like data a
domain classifier is both available offline and a more meaningful feature space. Numbers measured
in it are comparable only with numbers measured in the same space, so every extractor carries a
`name` ("mnist-classifier", ...) that reported metrics must carry with them.

The interface matches the Inception extractor: `ClassifierFeatures(images_uint8)` returns
`(features float32 N×dim, logits N×num_classes)`. It takes raw uint8 pixels and normalises them
itself, so a caller can never feed it the wrong value range. Images of another size are resized to
the classifier's resolution with bilinear `F.interpolate` on floats (align_corners=False,
antialiased when shrinking, no re-quantisation to uint8 — the pytorch-fid convention). Channels are
never guessed: a 3-channel image given to a grayscale classifier is an error (Stacked MNIST is
classified one channel at a time by its caller).

Weights are safetensors files whose metadata holds the architecture (`ClassifierSpec`), so a file
is self-describing; a sidecar `{dataset}.json` beside it records how it was trained, its test
accuracy and the SHA-256 of the weights, which is checked on load when the sidecar is present.
Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn

from gankit.errors import UserError
from gankit.files import atomic_write_bytes

WEIGHTS_DIR = Path(__file__).parent / "weights"
DATASETS = ("mnist", "fashion-mnist", "digits")
_SPEC_KEY = "gankit.classifier"


@dataclass(frozen=True)
class ClassifierSpec:
    """Everything needed to rebuild a classifier net, stored in its weights file's metadata.

    `widths` are the conv stages (conv3×3 + BN + ReLU + 2×2 max-pool, rounding up, each); `mean`/`std` are the
    training set's pixel statistics on [0, 1], applied inside the extractor.
    """

    dataset: str
    resolution: int
    channels: int = 1
    num_classes: int = 10
    widths: tuple[int, ...] = (32, 64, 128)
    feature_dim: int = 128
    dropout: float = 0.3
    mean: float = 0.0
    std: float = 1.0

    @property
    def name(self) -> str:
        return f"{self.dataset}-classifier"


class ClassifierNet(nn.Module):
    """conv stages → flatten → `feature_dim` ReLU features (the metric space) → class logits."""

    def __init__(self, spec: ClassifierSpec) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = spec.channels
        for width in spec.widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True)]  # 7 → 4 keeps the edge pixels
            channels = width
        self.body = nn.Sequential(*layers)
        side = spec.resolution
        for _ in spec.widths:
            side = -(-side // 2)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, spec.feature_dim),
                                   nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(spec.dropout)
        self.head = nn.Linear(spec.feature_dim, spec.num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised float images → (features, logits)."""
        features = self.embed(self.body(x))
        return features, self.head(self.dropout(features))


class ClassifierFeatures(nn.Module):
    """A trained classifier as a frozen feature extractor on raw uint8 images.

    Always in eval mode (`train()` is a no-op: batch-norm statistics and dropout must never change
    an evaluator) and without autograd.
    """

    def __init__(self, spec: ClassifierSpec, net: ClassifierNet, sha256: str = "") -> None:
        super().__init__()
        self.spec = spec
        self.name = spec.name
        self.sha256 = sha256  # of the weights file: two extractors with one name differ iff this does
        self.dim = spec.feature_dim
        self.num_classes = spec.num_classes
        self.resolution = spec.resolution
        self.channels = spec.channels
        self.net = net
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> ClassifierFeatures:
        return self

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """uint8 N×C×H×W → (features float32 N×dim, logits float32 N×num_classes)."""
        x = prepare(images.to(next(self.net.parameters()).device), self.spec)
        features, logits = self.net(x)
        return features.float(), logits.float()


def prepare(images: Tensor, spec: ClassifierSpec) -> Tensor:
    """Check raw uint8 images against `spec`, resize them to its resolution and normalise them."""
    if images.dtype != torch.uint8:
        raise UserError(f"the {spec.name} takes uint8 pixels (0-255), got {images.dtype}")
    if images.ndim != 4:
        raise UserError(f"the {spec.name} takes N×C×H×W images, got shape {list(images.shape)}")
    if images.shape[1] != spec.channels:
        raise UserError(f"the {spec.name} takes {spec.channels}-channel images, got {images.shape[1]} channels "
                        "(classify multi-channel images such as Stacked MNIST one channel at a time)")
    x = images.float()
    height, width = x.shape[-2:]
    if (height, width) != (spec.resolution, spec.resolution):
        shrink = height > spec.resolution or width > spec.resolution
        x = F.interpolate(x, size=(spec.resolution, spec.resolution), mode="bilinear",
                          align_corners=False, antialias=shrink)
    return (x / 255.0 - spec.mean) / spec.std


def save_classifier(path: Path, spec: ClassifierSpec, net: ClassifierNet) -> str:
    """Write `net` and its spec as one safetensors file, atomically; returns the file's SHA-256."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    blob = save_safetensors(tensors, metadata={_SPEC_KEY: json.dumps(asdict(spec))})
    atomic_write_bytes(path, blob)
    return hashlib.sha256(blob).hexdigest()


def load_classifier(dataset: str, path: Path | None = None) -> ClassifierFeatures:
    """The classifier of `dataset` ("mnist", "fashion-mnist", "digits") as a feature extractor:
    the weights shipped with gankit, or those in `path` (which must be a classifier of `dataset`)."""
    if dataset not in DATASETS:
        raise UserError(f"no offline classifier for {dataset!r}; known: {', '.join(DATASETS)}")
    path = Path(path) if path is not None else WEIGHTS_DIR / f"{dataset}.safetensors"
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {dataset} classifier weights ({exc.strerror or exc})") from None
    sha256 = hashlib.sha256(blob).hexdigest()
    _check_sidecar(path, sha256)
    spec, tensors = _parse(path, blob)
    if spec.dataset != dataset:
        raise UserError(f"{path} holds the {spec.dataset} classifier, not the {dataset} one")
    net = ClassifierNet(spec)
    try:
        net.load_state_dict(tensors)
    except RuntimeError as exc:
        raise UserError(f"{path}: the weights do not fit the {spec.name} ({exc})") from None
    return ClassifierFeatures(spec, net, sha256)


def _parse(path: Path, blob: bytes) -> tuple[ClassifierSpec, dict[str, Tensor]]:
    """The spec (from the safetensors header's metadata) and the tensors of a weights file."""
    try:
        tensors = load_safetensors(blob)  # parses every tensor: catches truncation, not just a bad header
        header_len = int.from_bytes(blob[:8], "little")
        fields = json.loads(json.loads(blob[8 : 8 + header_len])["__metadata__"][_SPEC_KEY])
        fields["widths"] = tuple(fields["widths"])
        return ClassifierSpec(**fields), tensors
    except (SafetensorError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: not a gankit classifier weights file, or corrupt/truncated "
                        f"({exc.__class__.__name__}: {exc})") from None


def _check_sidecar(path: Path, sha256: str) -> None:
    """When a training record sits beside the weights, the weights must be the ones it describes."""
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return
    try:
        expected = json.loads(sidecar.read_text())["weights_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{sidecar}: unreadable training record of {path.name}") from None
    if sha256 != expected:
        raise UserError(f"{path}: corrupt or modified — its SHA-256 does not match {sidecar.name}")
