"""The GAN objectives: loss pairs, and the penalties some of them come with."""

from gankit.objectives.losses import OBJECTIVES, Objective, build_objective

__all__ = ["OBJECTIVES", "Objective", "build_objective"]
