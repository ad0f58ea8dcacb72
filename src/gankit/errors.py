"""The one exception type for problems the user can fix.

The CLI turns a `UserError` into a single line on stderr and exit status 2; anything else is a bug
and keeps its traceback. Raising it anywhere in the library is how bad input gets a clear message.
"""


class UserError(Exception):
    """Bad input: a wrong config, a missing or corrupt file, incompatible options."""


class TrainingDiverged(Exception):
    """A loss became non-finite; the run stopped and its last good checkpoint was kept."""
