"""Turning text into a RunConfig: presets, YAML files, the objectives' recipes and `--set` overrides.

Why recipes: each objective comes with the optimizer and critic-step count of the paper that
introduced it (WGAN: RMSProp and n_critic=5; WGAN-GP: Adam(1e-4, 0, 0.9) and n_critic=5). A preset
that leaves `optim.g`, `optim.d` or `train.d_steps` unset gets the recipe of whichever objective is
chosen, so `--set objective.name=wgan-gp` on a toy preset trains WGAN-GP as its paper did. A preset
or override that names an optimizer keeps it.
"""

from __future__ import annotations

import copy
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gankit.config.explain import describe, suggest
from gankit.config.migrate import migrate
from gankit.config.schema import CONFIG_VERSION, DataConfig, ObjectiveConfig, RunConfig, _Strict
from gankit.errors import UserError, first_line
from gankit.files import atomic_write_text

_ADAM_DCGAN = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
RECIPES: dict[str, dict[str, Any]] = {
    "minimax": {"optim": _ADAM_DCGAN, "d_steps": 1},
    "non-saturating": {"optim": _ADAM_DCGAN, "d_steps": 1},
    "hinge": {"optim": _ADAM_DCGAN, "d_steps": 1},
    "least-squares": {"optim": _ADAM_DCGAN, "d_steps": 1},
    # Arjovsky et al. 2017, Algorithm 1: RMSProp, lr 5e-5, c = 0.01, n_critic = 5.
    "wgan": {"optim": {"name": "rmsprop", "lr": 5e-5}, "d_steps": 5},
    # Gulrajani et al. 2017, Algorithm 1: Adam(1e-4, 0, 0.9), lambda = 10, n_critic = 5.
    "wgan-gp": {"optim": {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}, "d_steps": 5},
    # Huang et al. 2024 (R3GAN): Adam with beta1 = 0, beta2 = 0.99; one D update per G update.
    "rpgan": {"optim": {"name": "adam", "lr": 2e-4, "betas": [0.0, 0.99]}, "d_steps": 1},
}


def _fill_recipe(raw: dict[str, Any]) -> dict[str, Any]:
    """Fill unset optimizers and `train.d_steps` from the chosen objective's recipe."""
    raw = copy.deepcopy(raw)
    objective = raw.get("objective") or {}
    name = objective.get("name", ObjectiveConfig.model_fields["name"].default)
    recipe = RECIPES.get(name)
    if recipe is None:  # an unknown objective: let validation name it
        return raw
    optim = raw.setdefault("optim", {})
    if isinstance(optim, dict):
        for player in ("g", "d"):
            block = optim.get(player)
            if block is None:
                optim[player] = copy.deepcopy(recipe["optim"])
            elif isinstance(block, dict) and "name" not in block:
                optim[player] = {**copy.deepcopy(recipe["optim"]), **block}
    train = raw.get("train")
    if isinstance(train, dict) and train.get("d_steps") is None:
        train["d_steps"] = recipe["d_steps"]
    return raw


# ------------------------------------------------------------------------------------ presets


def preset_names() -> list[str]:
    folder = resources.files("gankit") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: YAML would keep the last one
    silently, and a second `train:` section would drop the first one's keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_preset(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise UserError(f"unknown preset {name!r}{suggest(name, names)}; known: {', '.join(names)}")
    text = (resources.files("gankit") / "presets" / f"{name}.yaml").read_text()
    return yaml.load(text, Loader=_UniqueKeyLoader)


def load_yaml_file(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"config file {path} cannot be read: {first_line(exc)}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if raw is None:
        raise UserError(f"config file {path} is empty")
    if not isinstance(raw, dict):
        raise UserError(f"config file {path} must hold a mapping of keys, not {type(raw).__name__}")
    return raw


def load_run_config(path: Path, overrides: list[str] = ()) -> RunConfig:
    """A run folder's config.yaml, as any gankit version saved it (brought up to today's schema
    by `migrate`), plus the overrides a resume may make; a problem of the saved file itself is
    named with the file."""
    migration = migrate(load_yaml_file(path))
    try:
        saved = build_config(migration.raw)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    cfg = build_config(migration.raw, overrides) if overrides else saved
    cfg._reset_by_migration = migration.reset
    return cfg


def load_config_file(path: Path) -> dict[str, Any]:
    """A config file of the user's (`gankit train --config`), unvalidated. One that names its
    version, a run's config.yaml copied, is brought up to today's schema as the run's would be."""
    raw = load_yaml_file(path)
    return migrate(raw).raw if "version" in raw else raw


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong and where ("expected ',' or '}', but got '<stream end>' at line 3, column 1"):
    PyYAML's first line only says what it was parsing."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem is None or mark is None:
        return first_line(exc)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


# ---------------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` → (["a", "b", "c"], value parsed as YAML, so 3, 1e-3, [1, 2] and true work)."""
    key, sep, value = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise UserError(f"--set expects key=value with a dotted key, got {text!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.split("."), parsed


# Settings only one choice uses. An override that makes another choice drops them from what the
# preset gave (`optim.g.name=sgd` on an Adam preset leaves no betas behind); one typed on the
# command line is kept, and refused if it does not apply.
_CHOICE_SETTINGS = {
    ("optim", "name"): {"betas": ("adam",), "momentum": ("sgd", "rmsprop")},
    ("model", "activation"): {"maxout_pieces": ("maxout",)},
}


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    typed: set[tuple[str, ...]] = set()  # keys the command line wrote: never dropped, refused if they do not apply
    for text in overrides:
        path, value = parse_override(text)
        node = raw
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(path[: i + 1])
                raise UserError(f"--set {text}: {where} is a value, not a section")
            node = child
        node[path[-1]] = value
        typed.add(tuple(path))
        for key, choices in _CHOICE_SETTINGS.get((path[0], path[-1]), {}).items():
            if value not in choices and (*path[:-1], key) not in typed:
                node.pop(key, None)
    return raw


def build_config(raw: dict[str, Any], overrides: list[str] = ()) -> RunConfig:
    """Validate a preset (plus overrides) into a RunConfig, or raise a one-line UserError."""
    raw = _fill_recipe(apply_overrides(raw, list(overrides)))
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise UserError(describe(exc)) from None


class _DataOnly(_Strict):
    data: DataConfig


def build_data_config(raw: dict[str, Any], overrides: list[str] = ()) -> DataConfig:
    """Validate a `data` section alone (`gankit eval --against`); overrides are `data.`-prefixed."""
    try:
        return _DataOnly.model_validate(apply_overrides({"data": raw}, list(overrides))).data
    except ValidationError as exc:
        raise UserError(describe(exc)) from None




def save_config(config: RunConfig, path: Path) -> None:
    """Write `config` as a run folder's config.yaml, stamped with the schema's version."""
    atomic_write_text(path, yaml.safe_dump({"version": CONFIG_VERSION, **config.to_dict()}, sort_keys=False))
