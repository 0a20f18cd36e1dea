"""Errors that reach the user as one line.

``GenlabError`` exits with 1; ``UsageError`` (bad input the user can fix) exits with 2.
"""


class GenlabError(Exception):
    exit_code = 1


class UsageError(GenlabError):
    exit_code = 2


class DataError(GenlabError):
    """A data file is missing, truncated or corrupt."""


def os_error_message(e: OSError, where) -> str:
    """One line for a failed read or write: a full disk named as such."""
    import errno

    if e.errno == errno.ENOSPC:
        return f"no space left on the device holding {where}: free some space, then resume the run"
    if e.errno == errno.EDQUOT:
        return f"disk quota exceeded on the device holding {where}: free some space, then resume the run"
    name = f" ({e.filename})" if e.filename else ""
    return f"cannot write to {where}: {e.strerror or e}{name}"
