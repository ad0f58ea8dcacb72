"""Spectral normalisation (Miyato et al. 2018, SNGAN): every weight divided by its largest singular value.

Why a pass over a built net rather than a layer kind: it applies to any net (MLP, DCGAN, ResNet) and
to every linear and conv layer in it, the head included, without touching the nets' code, and to
the projection D's class embedding (as Miyato & Koyama's released code does, `SNEmbedID`). For an
MLP D of 1-Lipschitz activations (ReLU, leaky ReLU) that bounds D's Lipschitz constant by 1; batch
norm or minibatch discrimination in D are outside that bound, and a conv weight is taken as the
out × (in·k·k) matrix, as the paper does, which is not the conv's operator norm (the paper's
choice all the same). The largest singular value is tracked by one power iteration per training
forward pass (torch's `parametrizations.spectral_norm`, as the paper's Algorithm 1).

The power iteration starts from random vectors drawn from torch's global generator; they are drawn
here under a generator seeded from the run's seed, so that every rank and every resume builds the
same net (the vectors are buffers: checkpoints carry them).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def spectral_normalise(net: nn.Module, seed: int) -> nn.Module:
    """Put spectral normalisation on every linear, conv and embedding layer of `net` (in place); returns it.
    Minibatch discrimination's tensor and weight-normalised layers are not linear layers: left."""
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding))]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for layer in layers:
            spectral_norm(layer)  # the output channels' axis (1 for a transposed conv) is its rows
    return net
