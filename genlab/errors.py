"""Errors that reach the user as one line.

``GenlabError`` exits with 1; ``UsageError`` (bad input the user can fix) exits with 2.
"""


class GenlabError(Exception):
    exit_code = 1


class UsageError(GenlabError):
    exit_code = 2


class DataError(GenlabError):
    """A data file is missing, truncated or corrupt."""
