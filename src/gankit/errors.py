"""The one exception type for problems the user can fix.

The CLI turns a `UserError` into a single line on stderr and exit status 2; anything else is a bug
and keeps its traceback. Raising it anywhere in the library is how bad input gets a clear message.
The one other error the CLI reports in a line is the file system refusing a place the user chose
(`USER_PATH_ERRNOS`: a path under a file, no permission, a read-only or full disk); a missing file
gankit expected to find is not among them, so it stays a traceback.
"""

import errno

USER_PATH_ERRNOS = frozenset({errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC})


class UserError(Exception):
    """Bad input: a wrong config, a missing or corrupt file, incompatible options."""


class TrainingDiverged(Exception):
    """A loss became non-finite; the run stopped and its last good checkpoint was kept."""
