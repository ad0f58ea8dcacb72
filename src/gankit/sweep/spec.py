"""A sweep spec: the base config, the search space over its keys, the seeds, the metric, the sampler.

Why a file of its own (`gankit sweep run SPEC`): a sweep is an experiment that outlives one process
and, with a shared storage, one machine; every worker must read the same space, so the space lives
in a file the sweep folder keeps a copy of, not on a command line. The spec is checked as strictly
as a run's config: an unknown key, a space key the config does not have, or a range the sampler
cannot search is one line, before any trial trains.

    base: {preset: toy-ring8, set: [train.steps=300]}    # or {config: my.yaml, set: [...]}
    space:
      objective.name: {choices: [wgan-gp, hinge]}        # any YAML values: numbers, names, lists
      optim.d.lr: {low: 1.0e-5, high: 1.0e-3, log: true} # a float range
      train.d_steps: {low: 1, high: 10, int: true}       # an int range
      set: {choices: [[], [model.d.minibatch={kernels: 10, dims: 5}], [techniques.label_smoothing={}, model.g.norm=batch]]}
                                                         # variants: each a list of overrides set together
    seeds: [0, 1]                                        # each trial trains one run per seed
    metric: {name: hq, direction: maximize}              # the final evaluation's value, mean over seeds
    sampler: {name: tpe, trials: 20, seed: 0}            # grid (choices only; every point once), random, tpe
    pruner: {name: median, startup_trials: 5, warmup_steps: 500}  # optional: stop trials behind the median
    heartbeat_s: 10                                      # a trial not heard of for 3 beats is retried

The space key `set` is not a config key: its choices are lists of `--set` overrides applied
together, for variants that are not a product of single keys (an ablation: the baseline, each
technique alone, chosen combinations). A grid sweep may have an empty space: its one trial trains
the base config once per seed.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from gankit.config import RunConfig, build_config, load_config_file, load_preset, load_yaml_file
from gankit.errors import UserError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Base(_Strict):
    preset: str | None = None
    config: Path | None = None
    set: list[str] = Field(default_factory=list, description="--set overrides applied to every trial")

    @model_validator(mode="after")
    def _one_source(self) -> "Base":
        if (self.preset is None) == (self.config is None):
            raise ValueError("give exactly one of base.preset and base.config")
        return self


class Choices(_Strict):
    choices: list[Any] = Field(min_length=1)


class Range(_Strict):
    low: float
    high: float
    log: bool = False
    int: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if not self.low < self.high:
            raise ValueError(f"a range needs low < high, got {self.low} and {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got {self.low}")
        if self.int and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(f"an int range needs whole bounds, got {self.low} and {self.high}")
        return self


# A dimension is a list of choices or a range; which one is read off its keys, so that an error
# names the problem of the kind it is (a range's bounds), not that it lacks the other kind's keys.
Dimension = Annotated[
    Annotated[Choices, Tag("choices")] | Annotated[Range, Tag("range")],
    Discriminator(lambda raw: "range" if isinstance(raw, Range) or (isinstance(raw, dict) and "choices" not in raw)
                  else "choices"),
]


class Metric(_Strict):
    name: str
    direction: Literal["maximize", "minimize"]


class Sampler(_Strict):
    name: Literal["grid", "random", "tpe"] = "tpe"
    trials: int | None = Field(None, gt=0, description="how many trials (grid: every point, by default)")
    seed: int = 0


VARIANTS = "set"  # the space key whose choices are lists of overrides


class Pruner(_Strict):
    """Stopping unpromising trials early on the metric at each evaluation of the first seed's run
    (Optuna's pruners): `median` stops a trial whose best value so far is worse than the median of
    the earlier trials' at the same step, once `startup_trials` trials are done; `threshold` stops
    one whose value falls outside [lower, upper]. Neither judges before `warmup_steps`."""

    name: Literal["median", "threshold"]
    warmup_steps: int = Field(0, ge=0)
    startup_trials: int | None = Field(None, ge=0, description="median only (default 5)")
    lower: float | None = Field(None, description="threshold only")
    upper: float | None = Field(None, description="threshold only")

    @model_validator(mode="after")
    def _settings_of_its_kind(self) -> "Pruner":
        if self.name == "median" and (self.lower is not None or self.upper is not None):
            raise ValueError("pruner median takes startup_trials and warmup_steps, not lower or upper")
        if self.name == "threshold":
            if self.startup_trials is not None:
                raise ValueError("pruner threshold takes lower, upper and warmup_steps, not startup_trials")
            if self.lower is None and self.upper is None:
                raise ValueError("pruner threshold needs lower or upper")
        return self


class SweepSpec(_Strict):
    base: Base
    space: dict[str, Dimension] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    metric: Metric
    sampler: Sampler = Field(default_factory=Sampler)
    pruner: Pruner | None = None
    heartbeat_s: int = Field(10, gt=0, description="a running trial's heartbeat; 3 missed: its worker is dead, retry it")

    @model_validator(mode="after")
    def _variants_are_override_lists(self) -> "SweepSpec":
        variants = self.space.get(VARIANTS)
        if variants is not None and (not isinstance(variants, Choices) or not all(
            isinstance(v, list) and all(isinstance(o, str) for o in v) for v in variants.choices
        )):
            raise ValueError(f"space.{VARIANTS} takes choices that are lists of overrides, e.g. [[], [train.ema=0.999]]")
        return self

    @model_validator(mode="after")
    def _grid_has_choices_only(self) -> "SweepSpec":
        if not self.space and self.sampler.name != "grid":
            raise ValueError(f"an empty space has one point; give sampler grid, not {self.sampler.name}")
        if self.sampler.name == "grid":
            ranges = [key for key, dim in self.space.items() if isinstance(dim, Range)]
            if ranges:
                raise ValueError(f"sampler grid searches choices only; give {ranges[0]} a list of choices")
            if self.sampler.trials is not None and self.sampler.trials > self.grid_size():
                raise ValueError(f"sampler.trials={self.sampler.trials} is more than the grid's {self.grid_size()} points")
        elif self.sampler.trials is None:
            raise ValueError(f"sampler {self.sampler.name} needs sampler.trials, how many trials to run")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must differ, got {self.seeds}")
        return self

    def grid_size(self) -> int:
        size = 1
        for dim in self.space.values():
            size *= len(dim.choices)
        return size

    def trial_count(self) -> int:
        return self.sampler.trials if self.sampler.trials is not None else self.grid_size()

    def grid_points(self) -> list[dict[str, str]]:
        """Every point of a grid sweep, as Optuna parameters (choices encoded as JSON text)."""
        keys = list(self.space)
        encoded = [[encode(value) for value in self.space[key].choices] for key in keys]
        return [dict(zip(keys, values)) for values in itertools.product(*encoded)][: self.trial_count()]

    def base_raw(self, spec_dir: Path) -> dict[str, Any]:
        if self.base.preset is not None:
            return load_preset(self.base.preset)
        path = self.base.config if self.base.config.is_absolute() else spec_dir / self.base.config
        return load_config_file(path)

    def trial_config(self, spec_dir: Path, params: dict[str, Any], seed: int) -> RunConfig:
        """The run config of one trial's run: base, its overrides, the trial's point, the seed."""
        point = []
        for key, value in params.items():
            if key == VARIANTS:
                point += json.loads(value)
            else:
                point.append(f"{key}={value if isinstance(value, str) else encode(value)}")
        return build_config(self.base_raw(spec_dir), [*self.base.set, *point, f"seed={seed}"])


def encode(value: Any) -> str:
    """A choice as Optuna stores it: JSON text (a YAML value too, so it is also the `--set` value)."""
    return json.dumps(value)


def load_spec(path: Path) -> SweepSpec:
    """The spec at `path`, checked, or a one-line UserError naming the file and the problem: its
    keys, then whether the base config and every space key build a valid run config."""
    raw = load_yaml_file(path)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"] if part not in ("choices", "range"))
        message = err["msg"].removeprefix("Value error, ")
        raise UserError(f"sweep spec {path}: {where + ': ' if where else ''}{message}") from None
    try:
        cfg = spec.trial_config(path.parent, _a_point(spec), spec.seeds[0])
        for variant in spec.space[VARIANTS].choices[1:] if VARIANTS in spec.space else []:
            spec.trial_config(path.parent, {**_a_point(spec), VARIANTS: encode(variant)}, spec.seeds[0])
    except UserError as exc:
        raise UserError(f"sweep spec {path}: {exc}") from None
    if spec.metric.name not in cfg.reported_metrics():
        reported = ", ".join(cfg.reported_metrics()) or "none"
        raise UserError(f"sweep spec {path}: metric {spec.metric.name!r} is not one this run reports ({reported})")
    return spec


def _a_point(spec: SweepSpec) -> dict[str, Any]:
    """One point of the space (each range's low end, each first choice), to check the space's keys."""
    return {
        key: encode(dim.choices[0]) if isinstance(dim, Choices) else (int(dim.low) if dim.int else dim.low)
        for key, dim in spec.space.items()
    }
