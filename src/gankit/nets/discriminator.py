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
from gankit.nets.layers import WeightNormLinear


class MinibatchDiscrimination(nn.Module):
    """f (N×A) → [f, o(f)] (N×(A+B)), with M = f·T reshaped N×B×C for a tensor T ∈ R^{A×B×C},
    c_b(i, j) = exp(−‖M_{i,b} − M_{j,b}‖₁) and o(f)_{i,b} = Σⱼ c_b(i, j), as the paper's eq. in sec. 3.2
    (the sum runs over the whole batch, j = i included)."""

    def __init__(self, in_features: int, kernels: int, dims: int) -> None:
        super().__init__()
        self.kernels, self.dims = kernels, dims
        # T, flattened to A×(B·C); named `weight` so `build_nets`' `init_weights` redraws it from the
        # run's seeded generator. A layer built on its own still starts from valid numbers.
        self.weight = nn.Parameter(torch.empty(in_features, kernels * dims))
        nn.init.normal_(self.weight, 0.0, 0.05)

    def forward(self, f: Tensor) -> Tensor:
        m = (f @ self.weight).view(-1, self.kernels, self.dims).transpose(0, 1)  # B×N×C
        l1 = torch.cdist(m, m, p=1)  # B×N×N, without the N×N×B×C difference tensor
        return torch.cat([f, torch.exp(-l1).sum(dim=2).T], dim=1)


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

    def class_logits(self, x: Tensor) -> Tensor:
        """The head's output, N×classes: the K class logits of a semi-supervised D."""
        f = self.features(x)
        if self.minibatch is not None:
            f = self.minibatch(f)
        return self.head(f)

    def forward(self, x: Tensor) -> Tensor:
        """The GAN logit per example (N): log Σₖ exp(lₖ) against the fake class's fixed 0 when K > 1."""
        logits = self.class_logits(x)
        return logits.squeeze(-1) if self.classes == 1 else logits.logsumexp(dim=-1)
