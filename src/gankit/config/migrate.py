"""Old config.yaml files brought up to today's schema, so that the schema's validators stay strict.

A run folder keeps the config.yaml it trained with. Its `version` says which schema wrote it; a
file without one was saved before versions (version 1). `migrate` takes any of them to
`CONFIG_VERSION`, one step per version, each step saying what changed in the schema and why the
change leaves what the run trained unchanged. Add a step (and bump `CONFIG_VERSION`) whenever the
schema would refuse, or read differently, a file an earlier gankit saved.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from gankit.config.schema import _DEFAULT_BETAS, CONFIG_VERSION, MAXOUT_PIECES, REFERENCE_BATCH
from gankit.errors import UserError
from gankit.metrics.registry import MIXTURE_OUTPUTS


@dataclass
class Migration:
    """`raw` at `CONFIG_VERSION` (without its `version` key); `saved_as`, the version it was
    saved at; `reset`, the settings that never applied and were reset to their defaults,
    {dotted key: value as saved}, which version-1 fingerprints hashed."""

    raw: dict[str, Any]
    saved_as: int
    reset: dict[str, Any] = field(default_factory=dict)


def migrate(raw: dict[str, Any]) -> Migration:
    """`raw`, a config.yaml as some gankit saved it, in today's schema. A file from a newer gankit,
    or whose version is not a number, is refused in one line."""
    raw = copy.deepcopy(raw)
    version = raw.pop("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UserError(f"config version must be a whole number from 1 to {CONFIG_VERSION}, got {version!r}")
    if version > CONFIG_VERSION:
        raise UserError(f"config version {version} was saved by a newer gankit; this one reads up to {CONFIG_VERSION}")
    migration = Migration(raw, version)
    if version < 2:
        _to_version_2(migration)
    return migration


def _to_version_2(migration: Migration) -> None:
    """Version 2 refuses settings that do not apply to the choice they sit beside, which version 1
    accepted and ignored: they are reset to their defaults, which changes nothing a run computes.

    - `reference_batch` of a net without virtual batch norm (saved as 64, once its default);
    - `maxout_pieces` of an MLP whose activation is not maxout;
    - Adam's `momentum`, and the `betas` of an SGD or RMSProp optimizer;
    - `log.features` with no `log.metrics` to compute in it (back to `auto`);
    - a `log.best` the run never reports (a mixture's `high_quality` on images, say): no
      checkpoint was ever kept for it, so it is dropped.
    """
    raw, reset = migration.raw, migration.reset

    def drop(section: dict, key: str, where: str, default: Any) -> None:
        value = section.pop(key)
        if value != default and not (isinstance(value, list) and tuple(value) == default):
            reset[f"{where}.{key}"] = value

    model = raw.get("model")
    for player, net in (model.items() if isinstance(model, dict) else ()):
        if not isinstance(net, dict):
            continue
        where = f"model.{player}"
        if "reference_batch" in net and net.get("norm") != "virtual-batch":
            value = net.pop("reference_batch")
            if value not in (None, REFERENCE_BATCH):  # 64 hashed as None: it was the default spelt out
                reset[f"{where}.reference_batch"] = value
        if net.get("kind", "mlp") == "mlp" and net.get("activation", "relu") != "maxout" and "maxout_pieces" in net:
            drop(net, "maxout_pieces", where, MAXOUT_PIECES)
    optim = raw.get("optim")
    for player, block in (optim.items() if isinstance(optim, dict) else ()):
        if not isinstance(block, dict) or "name" not in block:
            continue
        if block["name"] == "adam" and "momentum" in block:
            drop(block, "momentum", f"optim.{player}", 0.0)
        if block["name"] != "adam" and "betas" in block:
            drop(block, "betas", f"optim.{player}", _DEFAULT_BETAS)
    log, data = raw.get("log"), raw.get("data")
    if isinstance(log, dict):
        if log.get("features", "auto") != "auto" and not log.get("metrics"):
            log["features"] = "auto"
        toy = isinstance(data, dict) and data.get("name") in ("ring", "grid")
        modes_logged = "modes" in (log.get("metrics") or [])
        if log.get("best") in MIXTURE_OUTPUTS and not toy and not (modes_logged and log["best"] in ("modes", "kl")):
            log["best"] = None
