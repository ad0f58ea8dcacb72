"""Small layers shared by the nets."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


class Maxout(nn.Module):
    """Goodfellow et al. 2013: each unit is the max over `pieces` affine maps of its input."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.out_features = out_features
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x).view(*x.shape[:-1], self.out_features, self.pieces)
        return y.amax(dim=-1)


class GaussianNoise(nn.Module):
    """x + N(0, std²) in training, x in eval mode: a regulariser like dropout (drawn from the global
    generator, which checkpoints keep, as dropout's masks are)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training else x


def activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.2), "tanh": nn.Tanh(), "softplus": nn.Softplus()}[name]


class DataInitialised(nn.Module):
    """A layer with a normalised direction `weight` (drawn N(0, DIRECTION_STD²)) and scales set from
    data: `initialise_from_data` raises `initialising`, and the layer's next forward pass sets the
    scales from its input batch and lowers it again."""

    DIRECTION_STD: float
    initialising = False


class WeightNormLinear(DataInitialised):
    """A linear layer with weight normalization (Salimans & Kingma 2016): unit j computes
    g_j · (v_j · x) / ‖v_j‖ + b_j, so the size of its weights is the scale g_j alone.

    With `learn_scale` off, g stays where the data-dependent init put it: every unit keeps the
    same weight norm for the whole run, which caps how sharp D can get. That is the
    semi-supervised MNIST D of Salimans et al. 2016 (its released code: hidden layers with fixed
    scales, the output layer with a learnt one), the part that lets the K+1-class D learn from
    unlabelled data instead of overfitting the few labels.

    Data-dependent init (`initialise_from_data`): on one batch, g and b are set so that each
    unit's pre-activation has mean 0 and variance 1.
    """

    # v's entries start N(0, 0.1²), as in the paper's code. Only v's direction reaches the output,
    # but its length sets how far an Adam step turns it (about lr / (0.1·√fan_in) per step).
    DIRECTION_STD = 0.1

    def __init__(self, in_features: int, out_features: int, learn_scale: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))  # the direction v
        self.bias = nn.Parameter(torch.zeros(out_features))
        # A fixed scale is a buffer, not a frozen parameter: the Trainer switches requires_grad
        # on and off for all of D's parameters, which would unfreeze it.
        if learn_scale:
            self.scale = nn.Parameter(torch.ones(out_features))
        else:
            self.register_buffer("scale", torch.ones(out_features))
        nn.init.normal_(self.weight, 0.0, self.DIRECTION_STD)

    def forward(self, x: Tensor) -> Tensor:
        # Scaling the outputs, not the weight matrix: the same function, with the elementwise work
        # on a batch × units tensor instead of units × inputs: an ssl-mnist-100 step takes 18% less
        # CPU time (168 → 137 ms, one thread).
        out = nn.functional.linear(x, self.weight) * (self.scale / self.weight.norm(dim=1))
        if not self.initialising:
            return out + self.bias
        with torch.no_grad():
            mean, std = out.mean(dim=0), out.std(dim=0, unbiased=False).clamp_min(1e-6)
            self.scale.div_(std)
            self.bias.copy_(-mean / std)
            self.initialising = False
            return (out - mean) / std

    def extra_repr(self) -> str:
        out_features, in_features = self.weight.shape
        return f"in_features={in_features}, out_features={out_features}, learn_scale={isinstance(self.scale, nn.Parameter)}"


@torch.no_grad()
def initialise_from_data(net: nn.Module, draw_batch: Callable[[], Tensor], noise_seed: int = 0) -> bool:
    """Data-dependent init of every `DataInitialised` layer in `net`, each on the inputs the layers
    before it, already initialised, give it, from one forward pass of a batch from `draw_batch`;
    False, with nothing drawn or run, when the net has none.

    The pass runs in eval mode (no dropout, batch norm on its running statistics) except for the
    `GaussianNoise` layers, which stay on, as in the init pass of Salimans et al.'s code: the
    scales are then set for the noisy inputs each layer sees in training. In ssl-mnist-100's D, fixed
    scales set without the noise come out 1.3-1.6× larger per layer and the logits at init about 3×
    sharper, which leaves the noise (that D's main regulariser) permanently weaker against its
    signal. The noise is drawn from a CPU generator seeded with `noise_seed` (the nets are on the
    CPU here), so every rank and every resume get the same init."""
    layers = [m for m in net.modules() if isinstance(m, DataInitialised)]
    if not layers:
        return False
    for layer in layers:
        layer.initialising = True
    was_training = net.training
    net.eval()
    for noise in (m for m in net.modules() if isinstance(m, GaussianNoise)):
        noise.train()
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(noise_seed)
        net(draw_batch())
    net.train(was_training)
    return True


def init_weights(
    module: nn.Module, generator: torch.Generator, std: float | None = None, uniform: float | None = None
) -> None:
    """Seeded init from an explicit generator, so nets are identical on every rank and on resume.

    By default PyTorch's scale, U(±1/√fan_in) for weights and biases. With `std`: N(0, std) weights
    and zero biases, and N(1, std) norm scales — the DCGAN paper's init (0.02). With `uniform`:
    U(±uniform) weights and zero biases — pylearn2's `irange`, the 2014 GAN paper's init.
    """
    for layer in module.modules():
        weight, bias = getattr(layer, "weight", None), getattr(layer, "bias", None)
        if not isinstance(weight, nn.Parameter):
            continue
        if isinstance(layer, DataInitialised):  # only a direction: its scales come from the data
            with torch.no_grad():
                weight.normal_(0.0, layer.DIRECTION_STD, generator=generator)
            continue
        with torch.no_grad():
            if weight.ndim >= 2 and uniform is not None:
                weight.uniform_(-uniform, uniform, generator=generator)
                if bias is not None:
                    bias.zero_()
            elif weight.ndim >= 2:  # linear and conv layers
                if std is None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
                    bound = 1.0 / fan_in**0.5
                    weight.uniform_(-bound, bound, generator=generator)
                    if bias is not None:
                        bias.uniform_(-bound, bound, generator=generator)
                else:
                    weight.normal_(0.0, std, generator=generator)
                    if bias is not None:
                        bias.zero_()
            elif std is not None:  # a norm layer's per-channel scale
                weight.normal_(1.0, std, generator=generator)
                if bias is not None:
                    bias.zero_()


def output_activation(name: str | None) -> nn.Module:
    """G's last activation: tanh for pixels in [-1, 1], sigmoid for [0, 1], none for points."""
    return {"linear": nn.Identity(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), None: nn.Tanh()}[name]


def norm2d(kind: str, channels: int) -> nn.Module:
    """Batch norm, layer norm over (C, H, W) with a per-channel affine (WGAN-GP's critic), virtual
    batch norm, or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "virtual-batch":
        return VirtualBatchNorm2d(channels)
    return nn.Identity()


class VirtualBatchNorm2d(nn.Module):
    """Virtual batch normalization (Salimans et al. 2016, sec. 3.5).

    Batch norm makes each generated image depend on the others in its batch. VBN normalises every
    example with the statistics of a reference batch, fixed at the start of training, combined
    with the example itself: mean = (1/(N+1))·mean(x) + (N/(N+1))·mean(ref), likewise for the mean
    square (the means of x taken over its own positions, of the reference over its N examples and
    positions). An example's output never depends on the rest of its batch.

    The net runs the reference batch first with `collecting` on, which records its statistics and
    normalises the reference batch by them. The DCGAN G does this on every forward, so the
    statistics follow the current weights and gradients flow through them, as in the paper.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.collecting = False
        self.reference: tuple[Tensor, Tensor, int] | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.collecting:
            mean, mean_sq = x.mean(dim=(0, 2, 3), keepdim=True), x.square().mean(dim=(0, 2, 3), keepdim=True)
            self.reference = (mean, mean_sq, len(x))
        else:
            if self.reference is None:
                raise RuntimeError("VirtualBatchNorm2d needs a reference batch first (DCGANGenerator.forward runs it first)")
            ref_mean, ref_mean_sq, n = self.reference
            own = 1.0 / (n + 1)
            mean = own * x.mean(dim=(2, 3), keepdim=True) + (1 - own) * ref_mean
            mean_sq = own * x.square().mean(dim=(2, 3), keepdim=True) + (1 - own) * ref_mean_sq
        scale = torch.rsqrt(mean_sq - mean.square() + self.eps)
        return (x - mean) * scale * self.weight[:, None, None] + self.bias[:, None, None]
