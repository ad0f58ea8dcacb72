"""The package is built in floors, and no module imports from a floor above its own.

Why: a helper the loop and the metrics both need must not live in the loop's package, or every
floor imports upward into it and nothing can be understood (or reused) without the floors above.
The floors, bottom up, as README's Layout section draws them:
"""

from __future__ import annotations

import ast
from pathlib import Path

import gankit

FLOORS = [
    ("ground floor", {"errors", "files", "tensors", "metrics.registry"}),  # the registry imports nothing
    ("config", {"config"}),
    ("data", {"data"}),
    ("nets, objectives, techniques", {"nets", "objectives", "techniques"}),
    ("metrics", {"metrics"}),
    ("loop and report", {"train", "report"}),
    ("commands", {"run", "sample", "evaluate", "sweep", "human_eval", "cli", "__main__", "__init__"}),
]
PACKAGE = Path(gankit.__file__).parent


def _floor(module: str) -> int:
    """The floor of `gankit.a.b`: that of its longest dotted prefix below gankit that FLOORS names."""
    parts = module.split(".")[1:] or ["__init__"]
    for length in range(len(parts), 0, -1):
        for index, (_, members) in enumerate(FLOORS):
            if ".".join(parts[:length]) in members:
                return index
    raise AssertionError(f"{module} is on no floor: add it to FLOORS (and to README's Layout)")


def _imports(path: Path) -> set[str]:
    """The gankit modules `path` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gankit"):
            found.add(node.module if node.module != "gankit" else f"gankit.{node.names[0].name}")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("gankit"))
    return found


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts)


def test_no_module_imports_from_a_floor_above_its_own():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        for imported in _imports(path):
            if _floor(imported) > _floor(module):
                upward.append(f"{module} ({FLOORS[_floor(module)][0]}) imports {imported} ({FLOORS[_floor(imported)][0]})")
    assert upward == []


def test_the_floor_check_sees_an_upward_import(tmp_path):
    """The check above would pass on a parser that found nothing: it must see both import forms."""
    source = tmp_path / "probe.py"
    source.write_text("import gankit.train.trainer\ndef f():\n    from gankit import run\n")
    assert _imports(source) == {"gankit.train.trainer", "gankit.run"}
    assert _floor("gankit.run") > _floor("gankit.train.trainer") > _floor("gankit.files")
    assert _floor("gankit.metrics.registry") < _floor("gankit.config.schema") < _floor("gankit.metrics.fid")
