"""What every D shares: a feature trunk, optional minibatch discrimination, and a linear head.

Each kind of D (MLP, DCGAN, ResNet) only defines `features(x)`, a flat feature vector per example;
this base class adds the rest, so the Improved-GAN additions work with every net:

- minibatch discrimination (Salimans et al. 2016, sec. 3.2) appends to the features a measure of
  how close each example is to the others in its batch, so D can see a collapsed batch;
- with `classes` K > 1 the head gives K class logits and D is the semi-supervised K+1-class
  discriminator of the same paper (sec. 5): the fake class's logit is fixed at 0, so the GAN logit
  "real vs fake" is log Σₖ exp(lₖ), and every objective works on it unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.config import MinibatchConfig
from gankit.nets.layers import DataInitialised, WeightNormLinear


class MinibatchDiscrimination(DataInitialised):
    """f (N×A) → [f, o(f)] (N×(A+B)), Salimans et al. 2016, sec. 3.2: M = f·T reshaped N×B×C for a
    tensor T ∈ R^{A×B×C}, c_b(i, j) = exp(−‖M_{i,b} − M_{j,b}‖₁) and o(f)_{i,b} = Σ_{j≠i} c_b(i, j) + β_b.

    As in the paper's released code (openai/improved-gan, `MinibatchLayer`): each column of T is a
    direction times a learnt scale exp(s_{b,c}), the sum leaves out j = i, and β is a learnt bias;
    the data-dependent init sets, per kernel, the scale that puts each example's nearest neighbour
    at an L1 distance of 2 on average, and β = −(the mean of the sum), so o starts centred.

    Why the scales: with a raw T, the distances' scale is an accident of D's init and of its
    features' size, so o may start near N − 1 (every other example counted as a neighbour) or near
    0 (none) for every batch; the init puts it where D can tell a crowded batch from a spread one.
    """

    DIRECTION_STD = 0.05  # the paper's code: T's entries start N(0, 0.05²)
    NEAREST_DISTANCE = 2.0

    def __init__(self, in_features: int, kernels: int, dims: int) -> None:
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.weight = nn.Parameter(torch.empty(in_features, kernels * dims))  # T's directions
        self.log_scale = nn.Parameter(torch.zeros(kernels, dims))
        self.bias = nn.Parameter(torch.zeros(kernels))
        nn.init.normal_(self.weight, 0.0, self.DIRECTION_STD)

    def forward(self, f: Tensor) -> Tensor:
        scale = self.log_scale.exp().flatten() / self.weight.norm(dim=0)
        m = ((f @ self.weight) * scale).view(-1, self.kernels, self.dims).transpose(0, 1)  # B×N×C
        l1 = torch.cdist(m, m, p=1)  # B×N×N, without the N×N×B×C difference tensor
        if self.initialising:
            l1 = self._initialise(l1)
        # j = i adds exp(−0) = 1 exactly (and no gradient): taking it off leaves Σ_{j≠i}
        o = torch.exp(-l1).sum(dim=2).T - 1 + self.bias
        return torch.cat([f, o], dim=1)

    @torch.no_grad()
    def _initialise(self, l1: Tensor) -> Tensor:
        """Rescale each kernel so the mean nearest-neighbour distance is NEAREST_DISTANCE, centre o."""
        others = l1 + torch.diag(torch.full((l1.shape[1],), float("inf"), device=l1.device))
        factor = self.NEAREST_DISTANCE / others.amin(dim=2).mean(dim=1).clamp_min(1e-6)  # B
        self.log_scale.add_(factor.log().unsqueeze(1))
        l1 = l1 * factor.view(-1, 1, 1)
        self.bias.copy_(-(torch.exp(-l1).sum(dim=2) - 1).mean(dim=1))
        self.initialising = False
        return l1


class HeadedDiscriminator(nn.Module):
    """Base of every D: subclasses build their trunk, define `features`, then call `_add_head`."""

    def _add_head(
        self, feature_dim: int, minibatch: MinibatchConfig | None, classes: int, weight_norm: bool = False
    ) -> None:
        """`weight_norm`: a weight-normalized head with a learnt scale, for weight-normalized trunks."""
        self.minibatch = (
            MinibatchDiscrimination(feature_dim, minibatch.kernels, minibatch.dims) if minibatch else None
        )
        self.classes = classes
        width = feature_dim + (minibatch.kernels if minibatch else 0)
        self.head = WeightNormLinear(width, classes, learn_scale=True) if weight_norm else nn.Linear(width, classes)

    def features(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def head_input(self, x: Tensor) -> Tensor:
        """What the head reads: the features, and minibatch discrimination's when D has it."""
        f = self.features(x)
        return self.minibatch(f) if self.minibatch is not None else f

    def class_logits(self, x: Tensor) -> Tensor:
        """The head's output, N×classes: the K class logits of a semi-supervised D."""
        return self.head(self.head_input(x))

    def forward(self, x: Tensor) -> Tensor:
        """The GAN logit per example (N): log Σₖ exp(lₖ) against the fake class's fixed 0 when K > 1."""
        logits = self.class_logits(x)
        return logits.squeeze(-1) if self.classes == 1 else logits.logsumexp(dim=-1)
