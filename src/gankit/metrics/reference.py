"""The reference set of a data configuration: what a run's samples are measured against."""

from __future__ import annotations

from gankit.config import DataConfig, FolderData, StackedMNISTData
from gankit.data import DataSource, ImageSource, make_source, make_test_source
from gankit.data.images import in_random_order
from gankit.errors import UserError
from gankit.metrics.evaluator import Reference


def reference_from_data(cfg: DataConfig, source: DataSource | None = None) -> Reference:
    """The configured images (`source`, when the caller has already loaded them; a folder's in a
    fixed random order), plus the test split as held-out set where the data set has one."""
    source = source if source is not None else make_source(cfg)
    if not isinstance(source, ImageSource):
        raise UserError(f"data {cfg.name} is not an image set; image metrics need images")
    test = make_test_source(cfg)
    heldout = test.images if test is not None else None
    size = "x".join(str(s) for s in source.shape[1:])
    images = source.images.cpu()
    if isinstance(cfg, FolderData):  # so that the first --reference-n of them are a fair subset
        images = in_random_order(images)
    return Reference(
        name=f"{cfg.name}-{getattr(cfg, 'split', 'all')}-{size}",
        dataset=cfg.name,
        images=images,
        heldout=heldout.cpu() if heldout is not None else None,
        stacked=isinstance(cfg, StackedMNISTData),
    )
