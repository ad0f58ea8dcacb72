"""The reference set of a data configuration: what a run's samples are measured against."""

from __future__ import annotations

from gankit.config import DataConfig, IDXData, StackedMNISTData
from gankit.data import ImageSource, make_source
from gankit.errors import UserError
from gankit.metrics.evaluator import Reference


def reference_from_data(cfg: DataConfig) -> Reference:
    """The configured images, plus the test split as held-out set where the data set has one."""
    source = make_source(cfg)
    if not isinstance(source, ImageSource):
        raise UserError(f"data {cfg.name} is not an image set; image metrics need images")
    heldout = None
    if isinstance(cfg, IDXData) and cfg.split == "train":
        heldout = make_source(cfg.model_copy(update={"split": "test"})).images
    size = "x".join(str(s) for s in source.shape[1:])
    return Reference(
        name=f"{cfg.name}-{getattr(cfg, 'split', 'all')}-{size}",
        dataset=cfg.name,
        images=source.images.cpu(),
        heldout=heldout.cpu() if heldout is not None else None,
        stacked=isinstance(cfg, StackedMNISTData),
    )
