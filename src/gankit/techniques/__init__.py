"""Techniques: everything that changes training beyond the loss pair, plugged in through hooks."""

from gankit.techniques.base import DContext, GContext, Technique, TechniqueSet

__all__ = ["DContext", "GContext", "Technique", "TechniqueSet"]
