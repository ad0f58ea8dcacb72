"""The one exception type for problems the user can fix.

The CLI turns a `UserError` into a single line on stderr and exit status 2; anything else is a bug
and keeps its traceback. Raising it anywhere in the library is how bad input gets a clear message.
The one other error the CLI reports in a line is the file system refusing a place the user chose
(`USER_PATH_ERRNOS`: a path under a file, no permission, a read-only or full disk); a missing file
gankit expected to find is not among them, so it stays a traceback. Two outcomes that are not
errors in the input also get one line: a diverged run and a rank whose partner process stopped.
"""

import errno

USER_PATH_ERRNOS = frozenset({errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC})


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message cut to its first line (its type's name when it has none), for the
    one-line errors: torch and the file formats often explain over several lines. A first line
    that only announces the next ("Error(s) in loading state_dict for G:") keeps the next one,
    which may list every tensor of a net: the line is cut at `limit` characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    line = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


class UserError(Exception):
    """Bad input: a wrong config, a missing or corrupt file, incompatible options."""


class TrainingDiverged(Exception):
    """A loss became non-finite; the run stopped and its last good checkpoint was kept."""


class RunStopped(Exception):
    """A run stopped on purpose before its last step (by a sweep's pruner): not a failure."""


class RankLost(Exception):
    """Another process of a distributed run stopped, so a collective on this rank failed.

    The process that stopped first reports why (a refusal only rank 0 meets, such as missing metric
    weights, stops rank 0 alone); every other rank says in one line that it stopped with it,
    instead of a traceback from deep inside torch.distributed."""
