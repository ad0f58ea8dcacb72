"""Semi-supervised learning with a K+1-class discriminator (Salimans et al. 2016, sec. 5).

D's head gives K class logits l₁…l_K; the (K+1)-th class, "generated", has its logit fixed at 0.
Then D(x) = Z(x) / (Z(x) + 1) with Z(x) = Σₖ exp(lₖ(x)): D's GAN logit is log Z(x), and the GAN
loss on unlabelled and generated images is the objective's log loss on that logit, unchanged
(`HeadedDiscriminator.forward`). This technique adds the supervised part, the cross-entropy of the
K class logits on a batch of the few labelled images. The paper pairs it with feature matching in G.

The labelled subset is balanced (labels / K per class) and drawn once from its own seed; each D
update draws a batch of it without replacement with the run's batch stream (`BatchStream.pick`), so
a resumed run draws the same batches and the ranks of a distributed run share one draw. A batch of L
from L labels holds every label once, K classes balanced, as the paper's code's labelled batches do
(its batch of 100 is the 100 labels, shuffled); drawn with replacement, a batch of 100 from 100
holds about 63 distinct labels and unbalanced classes.

With `average`, the technique also keeps an exponential moving average of D's weights: the
paper's code reports the test error of such an average (of decay 0.9999), which smooths out the
oscillation of a D trained against a moving G.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import DataConfig, SemiSupervisedConfig
from gankit.data import make_test_source
from gankit.data.images import ImageSource
from gankit.data.source import DataSource
from gankit.errors import UserError
from gankit.techniques.base import DContext, Technique
from gankit.techniques.ema import WeightAverage


def class_count(source: DataSource) -> int:
    """K, the classes of the data set, which D's head gives logits for."""
    labels = getattr(source, "labels", None)
    if labels is None:
        raise UserError("techniques.semi_supervised needs a data set with labels (mnist, fashion-mnist, digits, ...)")
    return int(labels.max()) + 1


def build_semi_supervised(cfg: SemiSupervisedConfig, data: DataConfig, source: ImageSource, d: nn.Module) -> "SemiSupervised":
    """The technique as `cfg` sets it up: its balanced labelled subset, its test set and, when
    asked, the moving average of D's weights."""
    labelled = balanced_subset(source.labels, cfg.labels, cfg.seed)
    average = WeightAverage(d, cfg.average) if cfg.average else None
    return SemiSupervised(source, labelled, cfg.weight, *semi_supervised_test_set(data, source, labelled), average)


def balanced_subset(labels: Tensor, count: int, seed: int) -> Tensor:
    """Indices of `count` examples, count / K of each of the K classes, drawn with `seed`."""
    classes = int(labels.max()) + 1
    if count % classes:
        raise UserError(f"techniques.semi_supervised.labels={count} must split evenly over the {classes} classes")
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for k in range(classes):
        members = torch.nonzero(labels.cpu() == k).flatten()
        if len(members) < count // classes:
            raise UserError(f"class {k} has {len(members)} examples, fewer than the {count // classes} labels asked for")
        picks.append(members[torch.randperm(len(members), generator=generator)[: count // classes]])
    return torch.cat(picks)


class SemiSupervised(Technique):
    name = "semi_supervised"

    def __init__(
        self, source: ImageSource, labelled: Tensor, weight: float, test_images: Tensor, test_labels: Tensor,
        average: WeightAverage | None = None,
    ) -> None:
        self.source = source
        self.images = source.images[labelled.to(source.images.device)]
        self.labels = source.labels[labelled].to(source.images.device)
        self.weight = weight
        self.test_images, self.test_labels = test_images, test_labels
        self.average = average

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        loss = self.cross_entropy(ctx.d, ctx.pick(len(self.images)), ctx.d_input)
        return {"supervised": self.weight * loss}

    def cross_entropy(self, d: nn.Module, pick: Tensor, d_input: Callable[[Tensor], Tensor]) -> Tensor:
        """The cross-entropy of D's K class logits on the labelled images `pick` indexes, shown to
        D through `d_input` (the GAN's transforms of D's input, such as instance noise)."""
        pick = pick.to(self.images.device)
        logits = d.class_logits(d_input(self.source.to_pixels(self.images[pick])))
        return F.cross_entropy(logits.float(), self.labels[pick])

    def after_d_step(self, d: nn.Module, step: int) -> None:
        if self.average is not None:
            self.average.update(d)

    def state_dict(self) -> dict[str, Tensor]:
        return self.average.state_dict() if self.average is not None else {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if self.average is not None:
            self.average.load_state_dict(state)

    def eval_metrics(self, d: nn.Module) -> dict[str, float]:
        """`test_error` of D's K-class head, and `test_error_average` of the averaged D's."""
        errors = {"test_error": test_error(d, self.source, self.test_images, self.test_labels)}
        if self.average is not None:
            errors["test_error_average"] = test_error(self.average.net, self.source, self.test_images, self.test_labels)
        return errors


@torch.no_grad()
def test_error(d: nn.Module, source: ImageSource, images: Tensor, labels: Tensor, batch: int = 1000) -> float:
    """The share of `images` (uint8) whose most likely class under D's K logits is wrong."""
    device = next(d.parameters()).device
    wrong = 0
    for x, y in zip(images.split(batch), labels.split(batch)):
        predicted = d.class_logits(source.to_pixels(x.to(device))).argmax(dim=1)
        wrong += int((predicted != y.to(device)).sum())
    return wrong / len(images)


def semi_supervised_test_set(data: DataConfig, source: DataSource, labelled: Tensor) -> tuple[Tensor, Tensor]:
    """The semi-supervised test set: the test split where the data set has one, else every
    training image outside the labelled subset."""
    test = make_test_source(data)
    if test is not None:
        return test.images, test.labels
    rest = torch.ones(len(source.labels), dtype=torch.bool)
    rest[labelled] = False
    return source.images.cpu()[rest], source.labels[rest]
