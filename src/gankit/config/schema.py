"""The run configuration's schema: every setting, its default, and the checks between settings.

Why a strict schema: a typo in a preset or an override must stop the run with the key named and the
nearest valid key suggested, never train silently with a default. Every model forbids extra keys,
and a setting that would be ignored (Adam's betas on SGD) is refused. Files saved by older gankit
versions are brought up to this schema by `gankit.config.migrate` before they are validated, so
no validator here needs to know about them. The schema is one module: the sections refer to each
other (the run checks data against nets, objectives against techniques).
"""

from __future__ import annotations

import copy
import hashlib
import json
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, model_validator

from gankit.metrics.registry import METRICS, MIXTURE_OUTPUTS, TECHNIQUE_OUTPUTS, metric_names

CONFIG_VERSION = 2  # of the config.yaml a run folder holds; `migrate` reads every earlier one
SEED_LIMIT = 2**31  # seeds are 0 ... 2³¹ − 1: the run adds small offsets, and every generator takes them
Seed = Annotated[int, Field(ge=0, lt=SEED_LIMIT)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _yaml_scalars(cls, data: Any) -> Any:
        """YAML reads `true` as a bool, which pydantic would take for the number 1, and `007` or
        `2024.10` as numbers, whose text (a folder's name) is lost: both are refused."""
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            kinds = _leaf_types(cls.model_fields[name].annotation) if name in cls.model_fields else set()
            flags = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, bool)]
            if flags and bool not in kinds and kinds & {int, float}:
                raise ValueError(f"{name} expects numbers, not {str(flags[0]).lower()}")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and Path in kinds:
                raise ValueError(f"{name}: YAML read the path as the number {value}; put the path in quotes")
        return data


def _leaf_types(annotation: Any) -> set[Any]:
    """The plain types an annotation admits, through Optional, unions, Annotated, lists and Literal."""
    if typing.get_origin(annotation) is Literal:
        return {type(value) for value in typing.get_args(annotation)}
    if typing.get_origin(annotation) is None:
        return {annotation}
    return set().union(*(_leaf_types(arg) for arg in typing.get_args(annotation)))


# ---------------------------------------------------------------------------------------- data


class Gaussian1DData(_Strict):
    """A single 1-D Gaussian, the target of the GAN paper's Figure 1."""

    name: Literal["gaussian-1d"]
    mean: float = 4.0
    std: float = Field(0.5, gt=0)


class RingData(_Strict):
    """`modes` Gaussians evenly spaced on a circle."""

    name: Literal["ring"]
    modes: int = Field(8, ge=2)
    radius: float = Field(1.0, gt=0)
    std: float = Field(0.01, gt=0)


class GridData(_Strict):
    """side × side Gaussians on a square grid centred at the origin."""

    name: Literal["grid"]
    side: int = Field(5, ge=2)
    spacing: float = Field(2.0, gt=0)
    std: float = Field(0.05, gt=0)


class SwissRollData(_Strict):
    """The 2-D Swiss roll (scikit-learn's `make_swiss_roll`, x and z coordinates), scaled."""

    name: Literal["swissroll"]
    noise: float = Field(0.25, ge=0)
    scale: float = Field(0.2, gt=0)


class _ImageData(_Strict):
    """What every image source shares: the size it is served at and the pixel range.

    `resolution` None keeps the source's own size (28 for MNIST); another value resizes every image
    (area/bilinear, antialiased) once at load. `range` is the interval pixels are mapped onto; it
    must match G's output (tanh for [-1, 1], sigmoid for [0, 1]).
    """

    resolution: int | None = Field(None, ge=4, le=1024)
    range: tuple[float, float] = (-1.0, 1.0)

    @model_validator(mode="after")
    def _known_range(self) -> "_ImageData":
        if tuple(self.range) not in PIXEL_RANGES:
            raise ValueError(f"range must be [-1, 1] or [0, 1], got {list(self.range)}")
        return self


PIXEL_RANGES = {(-1.0, 1.0): "tanh", (0.0, 1.0): "sigmoid"}  # range -> G output that matches it
UNLABELLED_DATA = ("folder", "celeba")  # image data sets without a class per image


class IDXData(_ImageData):
    """MNIST or Fashion-MNIST from the original IDX files (`*-ubyte.gz` or unzipped).

    Searched in `root` if given, else in $GANKIT_DATA (and its `mnist/`, `fashion-mnist/` and
    torchvision `MNIST/raw` subfolders), else, for Fashion-MNIST, Debian's
    /usr/share/datasets/fashion-mnist. `download: true` fetches missing files with torchvision.
    """

    name: Literal["mnist", "fashion-mnist"]
    root: Path | None = None
    split: Literal["train", "test"] = "train"
    download: bool = False


class StackedMNISTData(_ImageData):
    """Stacked MNIST: three independent MNIST digits as the RGB channels, 1,000 modes.

    Built from the MNIST `split` found as for `mnist` (`root`, $GANKIT_DATA, ...); `size` images
    drawn once with `seed`.
    """

    name: Literal["stacked-mnist"]
    root: Path | None = None
    split: Literal["train", "test"] = "train"
    size: int = Field(128_000, gt=0)
    seed: Seed = 0
    download: bool = False


class FolderData(_ImageData):
    """Every PNG, JPEG and WebP image under `path` (recursive), resized and centre-cropped."""

    name: Literal["folder"]
    path: Path
    resolution: int = Field(ge=4, le=1024)
    channels: Literal[1, 3] = 3
    skip_corrupt: bool = False


class TorchvisionData(_ImageData):
    """A torchvision data set under `root`; `download: true` fetches it (needs the internet)."""

    name: Literal["cifar10", "svhn", "celeba"]
    root: Path | None = Field(None, description="default: $GANKIT_DATA/<name>")
    download: bool = False


class DigitsData(_ImageData):
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images): embedded, for quick tests."""

    name: Literal["digits"]


DataConfig = Annotated[
    Union[
        Gaussian1DData, RingData, GridData, SwissRollData, IDXData, StackedMNISTData, FolderData,
        TorchvisionData, DigitsData,
    ],
    Field(discriminator="name"),
]

def data_models() -> dict[str, type[BaseModel]]:
    """Every `data.name` a config may give (in the order of `DataConfig`) and the model it selects."""
    return {tag: model for model in _models_in(DataConfig) for tag in _tags_of(model)[1]}


# ---------------------------------------------------------------------------------------- nets


OutputName = Literal["linear", "sigmoid", "tanh"]


MAXOUT_PIECES = 2  # the 2014 paper's D


class MLPConfig(_Strict):
    """A fully connected net; `maxout` uses `maxout_pieces` linear pieces per unit.

    `dropout` follows every hidden layer, `input_dropout` applies to the input (the 2014 paper's D
    keeps inputs with probability 0.8 and hidden units with 0.5). `input_noise` / `hidden_noise`
    add Gaussian noise in training, as the semi-supervised D of Salimans et al. 2016 (0.3 / 0.5). `init_range` and `output_bias`
    reproduce that paper's initialisation: small uniform weights (0.05 in G, 0.005 in D) and G's
    sigmoid biases set so that G starts at the mean image (pylearn2's init_sigmoid_bias_from_marginals).
    `norm: batch` puts batch norm before each hidden activation; `norm: weight` makes every hidden
    layer weight-normalized with a fixed scale set from data (and D's head weight-normalized with a
    learnt scale): the semi-supervised nets of Salimans et al. 2016 (G batch norm, D weight norm).
    """

    kind: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [128, 128])
    activation: Literal["relu", "leaky_relu", "tanh", "softplus", "maxout"] = "relu"
    maxout_pieces: int = Field(MAXOUT_PIECES, ge=2)
    norm: Literal["none", "batch", "weight"] = "none"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    input_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    input_noise: float = Field(0.0, ge=0.0, description="std of Gaussian noise on the input, in training")
    hidden_noise: float = Field(0.0, ge=0.0, description="std of Gaussian noise on each hidden layer, in training")
    output: OutputName = "linear"
    init_range: float | None = Field(
        None, gt=0, description="weights U(-r, r) and zero biases (pylearn2's irange); default PyTorch's"
    )
    output_bias: Literal["zero", "data-mean"] = Field(
        "zero", description="G only: data-mean starts G's output at the mean training example"
    )
    minibatch: MinibatchConfig | None = Field(None, description="D only: minibatch discrimination")
    spectral_norm: bool = Field(False, description="spectral normalisation of every linear and conv layer (SNGAN)")

    @model_validator(mode="after")
    def _norm_needs_linear_units(self) -> "MLPConfig":
        if self.norm != "none" and self.activation == "maxout":
            raise ValueError(f"norm={self.norm} does not apply to maxout units (use norm: none)")
        if self.norm == "weight" and self.init_range is not None:
            raise ValueError("init_range does not apply to norm=weight: its scales come from the data-dependent init")
        if self.activation != "maxout" and self.maxout_pieces != MAXOUT_PIECES:
            raise ValueError(f"maxout_pieces applies to activation=maxout only, not {self.activation}")
        return self


NormName = Literal["batch", "layer", "none", "virtual-batch"]
REFERENCE_BATCH = 64  # virtual batch norm's reference batch of z, unless set


class MinibatchConfig(_Strict):
    """Minibatch discrimination (Salimans et al. 2016, sec. 3.2) in D: a tensor T of A×B×C, with
    B = `kernels` and C = `dims` (the paper's MNIST model: 100 × 5)."""

    kernels: int = Field(100, gt=0)
    dims: int = Field(5, gt=0)


class DCGANConfig(_Strict):
    """Radford et al. 2016: transposed convs in G, strided convs in D, no hidden FC layers.

    `width` is G's last and D's first feature width; it doubles at each resolution halving. `norm`:
    batch norm (the paper), layer norm (the WGAN-GP critic) or none.
    """

    kind: Literal["dcgan"]
    width: int = Field(64, gt=0)
    norm: NormName = "batch"
    reference_batch: int | None = Field(
        None, ge=2, description=f"norm: virtual-batch only: size of the fixed reference batch of z; default {REFERENCE_BATCH}"
    )
    output: OutputName | None = Field(None, description="G's output; default tanh (D returns logits)")
    minibatch: MinibatchConfig | None = Field(None, description="D only: minibatch discrimination")
    spectral_norm: bool = Field(False, description="spectral normalisation of every linear and conv layer (SNGAN)")

    @model_validator(mode="after")
    def _reference_batch_needs_virtual_batch_norm(self) -> "DCGANConfig":
        """Refuse a reference batch that nothing would use. An explicit `REFERENCE_BATCH` is the
        default spelt out and is kept as None, so that both spellings hash alike."""
        if self.reference_batch is not None and self.norm != "virtual-batch":
            raise ValueError(f"reference_batch applies to norm=virtual-batch only, not norm={self.norm}")
        if self.reference_batch == REFERENCE_BATCH:
            self.reference_batch = None
        return self

    @property
    def reference_size(self) -> int:
        """Virtual batch norm's reference batch: `reference_batch`, else `REFERENCE_BATCH`."""
        return REFERENCE_BATCH if self.reference_batch is None else self.reference_batch


class ResNetConfig(_Strict):
    """The ResNet G and critic of Gulrajani et al. 2017 (its CIFAR-10 experiments): `width` 128."""

    kind: Literal["resnet"]
    width: int = Field(128, gt=0)
    norm: NormName | None = Field(None, description="default: batch norm in G, none in the critic")
    output: OutputName | None = Field(None, description="G's output; default tanh (D returns logits)")
    minibatch: MinibatchConfig | None = Field(None, description="D only: minibatch discrimination")
    spectral_norm: bool = Field(False, description="spectral normalisation of every linear and conv layer (SNGAN)")


def _net_kind(value: Any) -> str:
    """The union tag of a net config; `kind` may be left out for an MLP (the toy presets do)."""
    if isinstance(value, dict):
        return value.get("kind", "mlp")
    return getattr(value, "kind", "mlp")


NetConfig = Annotated[
    Union[
        Annotated[MLPConfig, Tag("mlp")],
        Annotated[DCGANConfig, Tag("dcgan")],
        Annotated[ResNetConfig, Tag("resnet")],
    ],
    Discriminator(_net_kind),
]


class ConditionalConfig(_Strict):
    """A class-conditional GAN over the data set's labels: G is fed each code followed by its
    label's one-hot (Mirza & Osindero 2014), and D is the projection discriminator of Miyato &
    Koyama 2018, D(x, y) = ψ(φ(x)) + e_yᵀφ(x), a learnt embedding e_y per class. `classes` must be
    the data set's number of classes (10 for MNIST and Fashion-MNIST)."""

    classes: int = Field(ge=2, description="the data set's classes (10 for mnist, fashion-mnist, digits, cifar10)")


class ModelConfig(_Strict):
    z_dim: int = Field(2, gt=0)
    z_dist: Literal["normal", "uniform", "uniform-symmetric"] = Field(
        "normal", description="N(0, I), U(0, 1) or U(-1, 1) per coordinate"
    )
    g: NetConfig = Field(default_factory=MLPConfig)
    d: NetConfig = Field(default_factory=MLPConfig)
    pack: int = Field(1, ge=1, description="PacGAN: D judges this many examples at a time, concatenated")
    conditional: ConditionalConfig | None = Field(None, description="class-conditional G and projection D")

    @model_validator(mode="after")
    def _d_returns_logits(self) -> "ModelConfig":
        if self.d.output not in (None, "linear"):
            raise ValueError("model.d.output must be linear: D returns logits, the losses apply the sigmoid")
        if getattr(self.d, "output_bias", "zero") != "zero":
            raise ValueError("model.d.output_bias applies to G only (it starts G at the mean example)")
        if self.g.minibatch is not None:
            raise ValueError("model.g.minibatch: minibatch discrimination is a layer of D; set model.d.minibatch")
        if getattr(self.d, "norm", None) == "virtual-batch":
            raise ValueError("model.d.norm=virtual-batch: virtual batch normalization is for G (as in the paper)")
        if getattr(self.g, "norm", None) == "virtual-batch" and self.g.kind != "dcgan":
            raise ValueError(f"model.g.norm=virtual-batch is built for the dcgan G, not {self.g.kind}")
        for player, net in (("g", self.g), ("d", self.d)):
            if net.spectral_norm and getattr(net, "norm", None) == "weight":
                raise ValueError(f"model.{player}.spectral_norm does not combine with model.{player}.norm=weight: "
                                 "both reparametrise every weight (pick one)")
        return self

    @property
    def label_classes(self) -> int:
        """K for a class-conditional GAN, 0 for an unconditional one."""
        return self.conditional.classes if self.conditional is not None else 0

    @property
    def g_output(self) -> str:
        """G's output activation; conv nets default to tanh."""
        return self.g.output or "tanh"


# ----------------------------------------------------------------------------------- objective

ObjectiveName = Literal["minimax", "non-saturating", "wgan", "wgan-gp", "hinge", "least-squares", "rpgan"]
LOG_LOSS_OBJECTIVES = ("minimax", "non-saturating")  # D trained on the log loss, −log D(x) − log(1 − D(G(z)))


class ObjectiveConfig(_Strict):
    """The loss pair; `clip` belongs to `wgan`, `gp_weight` to `wgan-gp`."""

    name: ObjectiveName = "non-saturating"
    clip: float | None = Field(None, gt=0)
    gp_weight: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _options_belong_to_objective(self) -> "ObjectiveConfig":
        if self.clip is not None and self.name != "wgan":
            raise ValueError(f"objective.clip applies only to objective.name=wgan, not {self.name}")
        if self.gp_weight is not None and self.name != "wgan-gp":
            raise ValueError(
                f"objective.gp_weight applies only to objective.name=wgan-gp, not {self.name}"
            )
        if self.name == "wgan" and self.clip is None:
            self.clip = 0.01
        if self.name == "wgan-gp" and self.gp_weight is None:
            self.gp_weight = 10.0
        return self


_DEFAULT_BETAS = (0.9, 0.999)


class OptimizerConfig(_Strict):
    name: Literal["adam", "sgd", "rmsprop"]
    lr: float = Field(gt=0)
    betas: tuple[float, float] = _DEFAULT_BETAS
    momentum: float = Field(0.0, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)

    @model_validator(mode="after")
    def _settings_apply(self) -> "OptimizerConfig":
        """A setting the chosen optimizer does not have would be silently ignored: refused."""
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must lie in [0, 1), got {list(self.betas)}")
        if self.name == "adam" and self.momentum != 0.0:
            raise ValueError("momentum applies to sgd and rmsprop, not adam (its momentum is betas[0])")
        if self.name != "adam" and tuple(self.betas) != _DEFAULT_BETAS:
            raise ValueError(f"betas apply to adam only, not {self.name} (use momentum)")
        return self


class OptimConfig(_Strict):
    """Both players' optimizers, and one learning-rate schedule for both.

    `decay_start`: the fraction of `train.steps` after which both learning rates fall linearly
    toward zero at the end of the run, as the Improved-GAN code does over its last third (Salimans
    et al. 2016) and WGAN-GP's code over the whole run; unset keeps them constant. The schedule follows
    `train.steps`: a run resumed with another budget follows the new budget's schedule from the step
    it reached.
    """

    g: OptimizerConfig
    d: OptimizerConfig
    decay_start: float | None = Field(None, ge=0.0, lt=1.0)


# ---------------------------------------------------------------------------------- techniques


class FeatureMatchingConfig(_Strict):
    """G matches the mean of D's features on real data (Salimans et al. 2016, sec. 3.1).

    `layer`: `features` (D's last hidden features, before minibatch discrimination) or the dotted
    name of a module inside D (`trunk.4`). `replace_g_loss`: the paper's form, where this is G's
    whole objective; false adds it to the objective's G loss with `weight`.
    """

    layer: str = Field("features", min_length=1)
    weight: float = Field(1.0, gt=0)
    replace_g_loss: bool = True


class HistoricalAveragingConfig(_Strict):
    """`weight` · ‖θ − mean of past θ‖² for both players (sec. 3.3); the paper gives no weight."""

    weight: float = Field(1.0, gt=0)


class LabelSmoothingConfig(_Strict):
    """One-sided label smoothing (sec. 3.4): real targets `real`, fake targets stay 0."""

    real: float = Field(0.9, gt=0, lt=1)


class InstanceNoiseConfig(_Strict):
    """Gaussian noise of `std` on every input of D, annealed linearly to 0 over `anneal_steps`
    (Sønderby et al. 2017; Arjovsky & Bottou 2017). The schedule is part of the training math, so
    it is given in steps rather than as a share of `train.steps`, which a resumed run may change."""

    std: float = Field(0.1, gt=0)
    anneal_steps: int = Field(gt=0)


class SemiSupervisedConfig(_Strict):
    """The K+1-class discriminator (Salimans et al. 2016, sec. 5): D's head gives K class logits,
    trained with cross-entropy on `labels` labelled images (balanced: labels / K per class, drawn
    with `seed`; `seed: null` draws them with the run's seed, so that the seeds of a sweep are also
    different labelled subsets, as the paper averages over subsets), the GAN loss on all images
    and G's samples. Its test error is logged at every evaluation, on the data set's test split
    (mnist, fashion-mnist) or else on the training images outside the labelled subset; with
    `average`, also that of a moving average of D's weights (`test_error_average`, what the paper's code reports)."""

    labels: int = Field(100, gt=0)
    seed: Seed | None = 0
    weight: float = Field(1.0, gt=0, description="weight of the supervised cross-entropy")
    average: float | None = Field(
        None, gt=0, lt=1, description="decay of a moving average of D's weights whose test error is logged too"
    )


class DiffAugmentConfig(_Strict):
    """DiffAugment (Zhao et al. 2020) on every image D sees, real and generated: `policy` in order
    (the paper's color, translation, cutout), `translation` the largest shift as a share of the
    side (1/8), `cutout` the side of the zeroed square as a share of the image's (1/2)."""

    policy: list[Literal["color", "translation", "cutout"]] = Field(
        default_factory=lambda: ["color", "translation", "cutout"], min_length=1)
    translation: float = Field(0.125, gt=0, lt=0.5)
    cutout: float = Field(0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _each_policy_once(self) -> "DiffAugmentConfig":
        if len(set(self.policy)) != len(self.policy):
            raise ValueError(f"policy lists each augmentation once, got {self.policy}")
        return self


class ZeroCentredPenaltyConfig(_Strict):
    """R1 (on real data) or R2 (on G's samples): γ/2 E‖∇ₓD(x)‖², the zero-centred gradient penalty of
    Mescheder et al. 2018 that makes GAN training locally convergent; R3GAN (Huang et al. 2024) uses
    both. `every` k > 1 is lazy regularisation (Karras et al. 2020, StyleGAN2): the penalty on one
    D update in k, weighted k, so that it costs a k-th and weighs the same."""

    gamma: float = Field(gt=0)
    every: int = Field(1, gt=0, description="apply it at every k-th step only, weighted k")


class TechniquesConfig(_Strict):
    feature_matching: FeatureMatchingConfig | None = None
    historical_averaging: HistoricalAveragingConfig | None = None
    label_smoothing: LabelSmoothingConfig | None = None
    instance_noise: InstanceNoiseConfig | None = None
    semi_supervised: SemiSupervisedConfig | None = None
    diffaugment: DiffAugmentConfig | None = Field(None, description="the same augmentations on real and fake images")
    r1: ZeroCentredPenaltyConfig | None = Field(None, description="R1: gradient penalty on real data")
    r2: ZeroCentredPenaltyConfig | None = Field(None, description="R2: gradient penalty on G's samples")


# ---------------------------------------------------------------------------------- training


class TrainConfig(_Strict):
    steps: int = Field(gt=0, description="generator updates")
    batch_size: int = Field(256, gt=0, description="global batch, split evenly over ranks")
    d_steps: int = Field(1, gt=0, description="k: discriminator updates per generator update")
    updates: Literal["alternating", "simultaneous"] = Field(
        "alternating",
        description="alternating: k D updates, then G against the updated D (Algorithm 1); "
        "simultaneous: one step of both players from the same batch, as the 2014 paper's released code",
    )
    ema: float | None = Field(None, gt=0.0, lt=1.0, description="decay of an EMA copy of G")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="bf16: autocast the forward passes to bfloat16; auto: bf16 on CUDA, fp32 elsewhere"
    )


    @model_validator(mode="after")
    def _simultaneous_means_one_d_step(self) -> "TrainConfig":
        if self.updates == "simultaneous" and self.d_steps != 1:
            raise ValueError(f"train.updates=simultaneous updates D once per step; train.d_steps must be 1, not {self.d_steps}")
        return self


MetricName = Literal[metric_names()]  # gankit.metrics.registry's, as `gankit eval --metrics` names them


class LogConfig(_Strict):
    every: int = Field(100, gt=0, description="steps between scalar logs")
    eval_every: int = Field(1000, gt=0, description="steps between metrics and sample plots")
    eval_samples: int = Field(2500, ge=2500, description="generated samples per evaluation")
    metrics: list[MetricName] = Field(
        default_factory=list, description="image metrics computed at every evaluation (gankit eval's names)"
    )
    metrics_samples: int = Field(5000, ge=10, description="generated and reference images for log.metrics")
    features: Literal["auto", "inception", "mnist", "fashion-mnist", "digits"] = Field(
        "auto", description="feature space of log.metrics (auto: Inception when its weights are found)"
    )
    best: str | None = Field(None, description="keep the checkpoint with the best value of this metric (e.g. fid)")
    checkpoint_every: int = Field(1000, gt=0)
    keep_checkpoints: int = Field(3, gt=0, description="latest checkpoints kept on disk")
    collapse_drop: float = Field(
        0.5, gt=0.0, lt=1.0, description="flag collapse when modes fall below this share of best"
    )

    @model_validator(mode="after")
    def _features_need_metrics(self) -> "LogConfig":
        if self.features != "auto" and not self.metrics:
            raise ValueError(f"log.features={self.features} is the feature space of log.metrics, and none are set")
        return self


class RunConfig(_Strict):
    description: str = ""
    seed: Seed = 0
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig)
    techniques: TechniquesConfig = Field(default_factory=TechniquesConfig)
    optim: OptimConfig
    train: TrainConfig
    log: LogConfig = Field(default_factory=LogConfig)
    # The ignored settings `migrate` reset in the saved file this config was read from, which the
    # fingerprints of that run's version-1 checkpoints hashed: {dotted key: value as saved}.
    _reset_by_migration: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _g_output_fits_pixels(self) -> "RunConfig":
        if isinstance(self.data, _ImageData):
            wanted = PIXEL_RANGES[tuple(self.data.range)]
            if self.model.g_output != wanted:
                raise ValueError(
                    f"model.g.output={self.model.g_output} does not fit data.range={list(self.data.range)}: "
                    f"use model.g.output={wanted} or change data.range"
                )
        return self

    @model_validator(mode="after")
    def _one_lipschitz_constraint(self) -> "RunConfig":
        if self.objective.name == "wgan" and self.model.d.spectral_norm:
            raise ValueError(
                "model.d.spectral_norm does not combine with objective.name=wgan: its weight clipping would clip "
                "the weights before normalisation, a second bound on D's Lipschitz constant (use hinge or wgan-gp)"
            )
        return self

    @model_validator(mode="after")
    def _penalty_sees_single_examples(self) -> "RunConfig":
        """WGAN-GP's penalty, R1 and R2 are on each example's own gradient: nothing in D may mix a batch."""
        penalties = [name for name, on in (
            ("objective.name=wgan-gp", self.objective.name == "wgan-gp"),
            ("techniques.r1", self.techniques.r1 is not None), ("techniques.r2", self.techniques.r2 is not None),
        ) if on]
        if not penalties:
            return self
        coupling = {
            "model.d.minibatch": ("minibatch discrimination", self.model.d.minibatch is not None),
            "model.d.norm=batch": ("batch norm", getattr(self.model.d, "norm", None) == "batch"),
        }
        for key, (what, present) in coupling.items():
            if present:
                raise ValueError(
                    f"{key} does not combine with {penalties[0]}: {what} couples the examples of a "
                    "batch, and the gradient penalty needs each example's own gradient (layer norm does not)"
                )
        return self

    @model_validator(mode="after")
    def _log_loss_techniques(self) -> "RunConfig":
        why = {
            "label_smoothing": "smooths the targets of D's log loss",
            "semi_supervised": "is a K+1-class classifier trained on the log loss",
        }
        for name, reason in why.items():
            if getattr(self.techniques, name) is not None and self.objective.name not in LOG_LOSS_OBJECTIVES:
                raise ValueError(
                    f"techniques.{name} {reason}; objective.name={self.objective.name} has none "
                    f"(use one of {', '.join(LOG_LOSS_OBJECTIVES)})"
                )
        return self

    @model_validator(mode="after")
    def _labelled_subset_seed(self) -> "RunConfig":
        """`techniques.semi_supervised.seed: null` is the run's seed, resolved here once, so that
        what trains (and the config's fingerprint) names the subset it draws."""
        if self.techniques.semi_supervised is not None and self.techniques.semi_supervised.seed is None:
            self.techniques.semi_supervised.seed = self.seed
        return self

    @model_validator(mode="after")
    def _semi_supervised_has_a_fair_test(self) -> "RunConfig":
        """The K+1 classifier needs labelled images, and its test error must judge each test image
        alone, on images it never trained on."""
        if self.techniques.semi_supervised is None:
            return self
        if not isinstance(self.data, _ImageData):
            raise ValueError(f"techniques.semi_supervised needs labelled images; data {self.data.name} is not images")
        if self.model.d.minibatch is not None:
            raise ValueError(
                "model.d.minibatch does not combine with techniques.semi_supervised: minibatch discrimination "
                "makes D's class for an image depend on the other images in its batch, so its test error would too"
            )
        if getattr(self.data, "split", "train") == "test":
            raise ValueError(
                "techniques.semi_supervised reports its test error on the test split; "
                "data.split=test would train on those images (use data.split=train)"
            )
        return self

    @model_validator(mode="after")
    def _packs_fit(self) -> "RunConfig":
        """PacGAN's D gives one output per pack: what needs D's verdict on each example refuses it."""
        pack = self.model.pack
        if pack == 1:
            return self
        if self.train.batch_size % pack:
            raise ValueError(f"train.batch_size={self.train.batch_size} does not split into packs of model.pack={pack}")
        refused = {
            "techniques.semi_supervised": (self.techniques.semi_supervised is not None, "classifies each image alone"),
            "techniques.feature_matching.layer": (
                self.techniques.feature_matching is not None and self.techniques.feature_matching.layer != "features",
                "names a layer of the unpacked D (use layer: features)"),
            "data.name=gaussian-1d": (isinstance(self.data, Gaussian1DData), "is reported by D's value at each point"),
        }
        for key, (present, why) in refused.items():
            if present:
                raise ValueError(f"{key} does not combine with model.pack={pack}: it {why}, and a packed D judges "
                                 f"{pack} examples at a time")
        return self

    @model_validator(mode="after")
    def _conditioning_has_labels(self) -> "RunConfig":
        """A class-conditional GAN needs labelled images, and a D that judges each image with its own label."""
        if self.model.conditional is None:
            return self
        if not isinstance(self.data, _ImageData):
            raise ValueError(f"model.conditional needs labelled images; data {self.data.name} is not images")
        if self.data.name in UNLABELLED_DATA:
            raise ValueError(f"model.conditional needs labelled images; data {self.data.name} has no labels")
        matching = self.techniques.feature_matching
        g_input = ("input_dropout", "input_noise")
        refused = {
            "model.pack": (self.model.pack > 1, "judges several images, of several classes, as one"),
            "techniques.semi_supervised": (self.techniques.semi_supervised is not None,
                                           "makes D a classifier of its own, which the projection D is not"),
            "techniques.feature_matching.replace_g_loss": (
                matching is not None and matching.replace_g_loss,
                "makes G's whole loss D's features without their labels, so G would not learn its classes "
                "(set replace_g_loss: false to add it to the objective's loss)"),
            "techniques.feature_matching.layer": (
                matching is not None and matching.layer != "features",
                "names a layer of the unconditional D (use layer: features)"),
            "model.g.input_dropout / input_noise": (
                any(getattr(self.model.g, key, 0) for key in g_input), "would drop or blur the label's one-hot G is fed"),
        }
        for key, (present, why) in refused.items():
            if present:
                raise ValueError(f"{key} does not combine with model.conditional: it {why}")
        return self

    @model_validator(mode="after")
    def _augmentations_need_images(self) -> "RunConfig":
        if self.techniques.diffaugment is not None and not isinstance(self.data, _ImageData):
            raise ValueError(f"techniques.diffaugment augments images; data {self.data.name} is not images")
        return self

    @model_validator(mode="after")
    def _metrics_fit_the_data(self) -> "RunConfig":
        if self.log.metrics and not isinstance(self.data, _ImageData):
            raise ValueError(f"log.metrics are image metrics; data {self.data.name} is not images")
        if "label_accuracy" in self.log.metrics and self.model.conditional is None:
            raise ValueError("log.metrics: label_accuracy checks a class-conditional G's samples against their "
                             "labels; this run has no model.conditional")
        return self

    @model_validator(mode="after")
    def _best_is_reported(self) -> "RunConfig":
        """A `log.best` that no evaluation reports would never keep a checkpoint, silently."""
        if self.log.best is None or self.log.best in self.reported_metrics():
            return self
        choices = ", ".join(self.reported_metrics()) or "none"
        raise ValueError(
            f"log.best={self.log.best} is not a metric this run reports ({choices}); "
            "image runs report the metrics of log.metrics"
        )

    def reported_metrics(self) -> list[str]:
        """The metric names this run's evaluations log, by kind of data and technique."""
        if isinstance(self.data, (RingData, GridData)):
            return list(MIXTURE_OUTPUTS)
        names = [name for metric in self.log.metrics for name in METRICS[metric].outputs]
        semi = self.techniques.semi_supervised
        if semi is not None:
            names += list(TECHNIQUE_OUTPUTS[: 2 if semi.average is not None else 1])
        return names

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def fingerprint(self, version: int = CONFIG_VERSION) -> str:
        """A hash of everything that changes the training math (not steps, logging or device), as
        a checkpoint of config `version` recorded it. Today's: every value, defaults included, so a
        default changed later cannot change what an existing run's fingerprint means (its
        config.yaml holds the value it trained with). Version 1, checkpoints saved before config
        versions: only the values that differ from their defaults, with the never-applied settings
        `migrate` reset put back as that gankit validated them."""
        if version >= 2:
            return _digest(_without_resumable(self.model_dump(mode="json")))
        math = _without_resumable(self.model_dump(mode="json", exclude_defaults=True))
        for key, value in self._reset_by_migration.items():
            *sections, name = key.split(".")
            node = math
            for section in sections:
                node = node.setdefault(section, {})
            node[name] = value
        return _digest(math)

    def fingerprints(self, version: int = CONFIG_VERSION) -> set[str]:
        """Every fingerprint a checkpoint of config `version` made with this config may have
        recorded: today's, and for version 2 those of the gankits that had fewer settings
        (`SETTINGS_ADDED_IN_VERSION_2`), which hashed the config without the ones added after them.
        A setting is left out only at the default that it was added with, which is the math of
        the gankit that did not have it, so a setting that changes the math is always hashed."""
        if version < 2:
            return {self.fingerprint(version)}
        values = _without_resumable(self.model_dump(mode="json"))
        found = {_digest(values)}
        for added in reversed(SETTINGS_ADDED_IN_VERSION_2):  # back through the gankits of version 2
            values = _without_defaults_of(values, added)
            found.add(_digest(values))
        return found


def _digest(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


# The settings version 2 of config.yaml gained after it was first released, one entry per gankit
# commit that added some, in order, each setting with the default that is the math of the gankits
# before it. A run those gankits saved hashed its config without them (`RunConfig.fingerprints`).
SETTINGS_ADDED_IN_VERSION_2: list[dict[str, Any]] = [
    {"model.g.spectral_norm": False, "model.d.spectral_norm": False,  # cf5fb96: the first stabilisers
     "techniques.r1": None, "techniques.r2": None},
    {"techniques.diffaugment": None},  # 1aab927
    {"model.pack": 1},  # c12a379
    {"model.conditional": None},  # class-conditional GANs
]


def _without_defaults_of(values: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """`values` (a config as nested dicts) without those of `settings` that hold their defaults."""
    values = copy.deepcopy(values)
    for key, default in settings.items():
        *sections, name = key.split(".")
        node = values
        for section in sections:
            node = node.get(section, {})
        if name in node and node[name] == default:
            del node[name]
    return values


RESUMABLE_CHANGES = ("train.steps", "train.device", "log.*", "description")


def resumable(key: str) -> bool:
    """Whether the dotted config `key` (a value or a whole section) may change when a run resumes."""
    return any(
        key == allowed or (allowed.endswith(".*") and (key == allowed[:-2] or key.startswith(allowed[:-1])))
        for allowed in RESUMABLE_CHANGES
    )


def _without_resumable(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`values` (a config as nested dicts) without the keys that may change on resume."""
    return {
        key: _without_resumable(value, f"{prefix}{key}.") if isinstance(value, dict) else value
        for key, value in values.items()
        if not resumable(prefix + key)
    }




def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _tags_of(model: type[BaseModel]) -> tuple[str, list[str]]:
    """The key that tells union members apart (`name` for data, `kind` for nets) and its values."""
    key = "name" if "name" in model.model_fields else "kind"
    return key, list(typing.get_args(model.model_fields[key].annotation))
