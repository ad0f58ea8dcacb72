"""One-sided label smoothing (Salimans et al. 2016, sec. 3.4): D's targets for real data become
α (0.9) instead of 1, fake targets stay 0. Smoothing only the real side keeps D's optimum from
rewarding G for staying where the data density is low (the paper's argument against smoothing both).

With D's output a logit x, the smoothed log loss on a real example is
α·softplus(−x) + (1−α)·softplus(x), which is the objective's softplus(−x) plus (1−α)·x. So the
technique adds (1−α)·mean D(x) to D's loss and leaves the objective untouched; it applies to the
objectives with a log loss (minimax, non-saturating), and the config refuses the others.
"""

from __future__ import annotations

from torch import Tensor

from gankit.techniques.base import DContext, Technique


class OneSidedLabelSmoothing(Technique):
    name = "label_smoothing"

    def __init__(self, real_target: float) -> None:
        self.real_target = real_target

    def d_terms(self, ctx: DContext) -> dict[str, Tensor]:
        return {"smoothing": (1.0 - self.real_target) * ctx.real_out.mean()}
