"""Why a config was refused, in one line: the dotted key, what is wrong, and "did you mean"."""

from __future__ import annotations

import difflib

from pydantic import BaseModel, ValidationError

from gankit.config.schema import RunConfig, _models_in, _tags_of


def describe(exc: ValidationError) -> str:
    """The first problem pydantic found, as one line that names the dotted key and, for a
    misspelt key or value, the nearest valid one."""
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    shown = ".".join(_without_tags(loc))
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        options = list(owner.model_fields) if owner else []
        advice = suggest(loc[-1], options)
        if owner is not None and _of_another_kind(loc):
            # a key the preset gave the kind of net (or data set) that an override replaced
            tag_key, tag = _tags_of(owner)[0], loc[-2]  # pydantic puts the member's tag before the key
            section = ".".join(_without_tags(loc)[:-1])
            advice = (f" for {section}.{tag_key}={tag}; to change kinds, give the whole section: "
                      f"--set '{section}={{{tag_key}: {tag}}}'")
        return f"config: unknown key {shown!r}{advice}"
    if kind == "missing":
        return f"config: missing required key {shown!r}"
    if kind == "union_tag_invalid":
        tag_key, tags = _union_tags(loc)
        got = err.get("ctx", {}).get("tag")
        return (
            f"config: unknown {shown}.{tag_key} {got!r}{suggest(str(got), tags)}; "
            f"known: {', '.join(tags)}"
        )
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "")
        near = suggest(str(err.get("input")), [a.strip(" '") for a in allowed.replace(" or ", ",").split(",")])
        return f"config: {shown}: {err['input']!r} is not one of {allowed}{near}"
    message = err["msg"].removeprefix("Value error, ")
    where = f"{shown}: " if shown else ""
    if "input" in err and kind != "value_error":
        return f"config: {where}{message} (got {err['input']!r})"
    return f"config: {where}{message}"


def _walk(loc: list[str]) -> tuple[list[str], type[BaseModel] | None]:
    """Follow an error location through the schema: the keys as a user writes them (the union tags
    pydantic inserts, as in `data.mnist.root`, dropped) and the model that owns the last key."""
    model: type[BaseModel] | None = RunConfig
    shown: list[str] = []
    i = 0
    while i < len(loc):
        field = model.model_fields.get(loc[i]) if model is not None else None
        shown.append(loc[i])
        i += 1
        candidates = _models_in(field.annotation) if field is not None else []
        if len(candidates) > 1:
            by_tag = {tag: m for m in candidates for tag in _tags_of(m)[1]}
            model = by_tag.get(loc[i]) if i < len(loc) else None
            i += model is not None
        else:
            model = candidates[0] if candidates else None
    return shown, model


def _of_another_kind(loc: list[str]) -> bool:
    """Whether the key at `loc`, inside one member of a union (a net kind, a data set), belongs to
    another member of that union."""
    shown = _without_tags(loc)
    if len(shown) == len(loc) or len(shown) < 2:
        return False
    parent = _model_at(shown[:-2])
    field = parent.model_fields.get(shown[-2]) if parent is not None else None
    return field is not None and any(loc[-1] in member.model_fields for member in _models_in(field.annotation))


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    return _walk(loc)[1] if loc else RunConfig


def _without_tags(loc: list[str]) -> list[str]:
    return _walk(loc)[0]


def _union_tags(loc: list[str]) -> tuple[str, list[str]]:
    owner = _model_at(loc[:-1])
    field = owner.model_fields.get(loc[-1]) if owner else None
    members = _models_in(field.annotation) if field else []
    if not members:
        return "name", []
    return _tags_of(members[0])[0], [tag for m in members for tag in _tags_of(m)[1]]


def suggest(word: str, options: list[str]) -> str:
    """" (did you mean 'x'?)" for the option nearest `word`, or "" when none is near."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
