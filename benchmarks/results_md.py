"""docs/RESULTS.md is shared by every benchmark: each owns one block between HTML-comment markers
(`<!-- NAME:begin -->` … `<!-- NAME:end -->`) and rewrites only that block, under a file lock so
two benchmarks finishing together don't lose each other's tables (the lock file, docs/RESULTS.lock, is
git-ignored)."""

from __future__ import annotations

import fcntl
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gankit.files import atomic_write_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "RESULTS.md"
HEADER = "# Measured results\n\nTables made by the scripts in `benchmarks/`, each with its command.\n\n"


def this_command() -> str:
    """How the running benchmark was invoked, as a table's provenance line shows it."""
    return shlex.join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def write_block(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace block `name` in `path` with `body` (appending the block, or creating the file)."""
    begin, end = markers(name)
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text() if path.exists() else HEADER
        if begin in text and end in text:
            before, rest = text.split(begin, 1)
            text = before + block + rest.split(end, 1)[1].removeprefix("\n")
        else:
            text = text.rstrip("\n") + "\n\n" + block
        atomic_write_text(path, text)


def print_tables(text: str, written: bool) -> None:
    """A benchmark's last words: its tables, and where they were written when they were."""
    print()
    print(text, end="")
    if written:
        print(f"\nwrote {RESULTS}")


def write_figure_block(name: str, body: str, fig: "Figure", figure: Path, dpi: int = 110) -> None:
    """A benchmark's figure saved beside its block (the block's text links to `figure`)."""
    from matplotlib import pyplot as plt  # only the benchmarks that draw pay for its import

    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(figure, dpi=dpi)
    plt.close(fig)
    write_block(name, body)
