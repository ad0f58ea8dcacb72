"""The baseline a semi-supervised GAN must beat: its own D trained on the labelled images alone.

Salimans et al. 2016 claim the K+1-class GAN learns from the unlabelled images; the fair check is
the same classifier, built and initialised exactly as the GAN run builds its D, trained on the
cross-entropy of its K class logits over the same labelled subset, drawn into batches the same
way (`BatchStream.pick`), with D's optimizer, batch size and noise layers, and tested on the same
test set.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.config import RunConfig
from gankit.data import make_source
from gankit.errors import UserError
from gankit.nets import build_nets, fit_to_data
from gankit.techniques.semi_supervised import build_semi_supervised, class_count
from gankit.train.batches import BatchStream
from gankit.train.optim import LinearDecay, make_optimizer


def train_supervised_only(cfg: RunConfig, steps: int) -> tuple[dict[str, float], bool]:
    """(test errors, diverged) of `cfg`'s D trained `steps` steps on its labelled subset alone: the
    same errors the GAN run logs (`test_error`, and `test_error_average` of the moving average of
    D's weights when the run keeps one), so the two compare like for like."""
    ssl = cfg.techniques.semi_supervised
    if ssl is None:
        raise UserError("the supervised baseline needs techniques.semi_supervised (its labelled subset)")
    source = make_source(cfg.data)
    g, d = build_nets(cfg.model, source.shape, cfg.seed, class_count(source))
    fit_to_data(g, d, cfg.model, source, cfg.seed)
    classifier = build_semi_supervised(ssl, cfg.data, source, d)
    optimizer = make_optimizer(cfg.optim.d, d.parameters())
    schedule = LinearDecay([optimizer], cfg.optim.decay_start, steps)
    batches = BatchStream(
        cfg.train.batch_size, 0, 1, cfg.seed + 1, source.images.device, cfg.model.z_dim, cfg.model.z_dist
    )
    torch.manual_seed(cfg.seed + 2)  # the noise layers draw from the global generator
    as_given = nn.Identity()  # D's input as the data gives it: instance noise and the like are the GAN's
    loss = torch.zeros(())
    for step in range(steps):
        schedule.set_step(step)
        loss = classifier.cross_entropy(d, batches.pick(len(classifier.images)), as_given)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        classifier.after_d_step(d, step)
    d.eval()
    return classifier.eval_metrics(d), not math.isfinite(loss.item())
