"""The ``genlab`` command: thin typer commands that call into the library, a module a group.

Bad input ends with one line on standard error and exit code 2 (1 for other failures): every
command's GenlabError is turned into that line in one place, :class:`genlab.cli.app.Commands`.
Option defaults come from the run configuration's dataclasses (genlab/config.py). Importing this
module registers every command, in the order ``genlab --help`` lists them.
"""

from genlab.cli import cockpit, control, evaluate, export, fork, info, report, runs, sample, train  # noqa: F401  (registers them)
from genlab.cli.app import app, main
from genlab.cli.sweep import sweep_app

app.add_typer(sweep_app, name="sweep")

__all__ = ["app", "main"]
