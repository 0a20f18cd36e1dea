"""The typer app, its shared options and consoles, and the one place errors become one line and an exit code."""

import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from genlab.errors import GenlabError

out = Console(highlight=False, soft_wrap=True)  # plain lines never break mid-path when piped


err = Console(stderr=True, highlight=False, soft_wrap=True)


def paragraphs(text: str) -> str:
    """A help text as paragraphs: the line breaks a docstring wraps its lines with are joined, so
    ``--help`` never breaks mid-sentence (blank lines still part paragraphs)."""
    import inspect

    return "\n\n".join(" ".join(line.strip() for line in block.splitlines())
                       for block in inspect.cleandoc(text).split("\n\n"))


class HelpInParagraphs(TyperGroup):
    """A group whose commands' help texts are shown as :func:`paragraphs`."""

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None and command.help:
            command.help = paragraphs(command.help)
        return command


class Commands(HelpInParagraphs):
    """Where a command's GenlabError becomes one line on standard error and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GenlabError as e:
            err.print(f"genlab: error: {e}", soft_wrap=True, markup=False)
            raise typer.Exit(e.exit_code) from None

    def list_commands(self, ctx):
        """``genlab --help`` lists the commands in the order a person meets them (ORDER), not in
        the order their modules happen to be imported."""
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


ORDER = ["train", "pause", "stop", "resume", "runs", "show", "tag", "untag", "note", "compare", "sample", "latent",
         "anomaly", "bench", "models", "data", "eval", "tui", "watch", "export", "report", "sweep"]


app = typer.Typer(
    name="genlab",
    cls=Commands,
    help="Train and watch generative models (GAN, VAE, PixelCNN) on MNIST digits from a terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


RunsDir = Annotated[Optional[Path], typer.Option(
    "--runs-dir", help="Where runs live (default: $GENLAB_RUNS_DIR, else ./runs).")]


DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="A directory with MNIST (default: $GENLAB_DATA_DIR, the cache, a download, else the bundled digits).")]


RunRef = Annotated[str, typer.Argument(help="A run id, a unique prefix of one, or 'latest'.")]


RunOrSweep = Annotated[str, typer.Argument(help="A run or sweep id, a unique prefix of one, or 'latest' (the newest run).")]


AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


Ascii = Annotated[bool, typer.Option("--ascii", help="Draw digits in plain ASCII.")]


Images = Annotated[Literal["auto", "on", "off"], typer.Option(
    "--images", help="Draw digits as images (Kitty graphics or Sixel): auto where the terminal can "
    "(inside tmux: only where tmux draws Sixel itself); on: always; off: half blocks.")]


Device = Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")]


TagOption = Annotated[Optional[list[str]], typer.Option("--tag", help="Only runs with this tag (repeatable: all of them).")]


def warn_skipped(path: Path, error: str) -> None:
    """What a command says of a checkpoint it passed over (genlab.models.trained.newest's on_bad)."""
    err.print(f"genlab: warning: skipping {error}", markup=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage errors become one line on standard error and exit 2.

    Typer's own handler draws a multi-line box; in non-standalone mode its exceptions reach us
    instead (click's or the copy typer vendors: both carry ``exit_code`` and ``format_message``).
    """
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="genlab", standalone_mode=False)
    except typer.Abort:
        err.print("genlab: aborted")
        sys.exit(130)
    except OSError as e:  # a full disk, a vanished directory: one line, never a traceback
        from genlab.errors import os_error_message

        err.print(f"genlab: error: {os_error_message(e, e.filename or 'the run directory')}", markup=False)
        sys.exit(1)
    except Exception as e:
        if not (hasattr(e, "exit_code") and hasattr(e, "format_message")):
            raise
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `genlab`: the help is the message
            print(e.format_message())
            sys.exit(0)
        ctx = getattr(e, "ctx", None)
        hint = ""
        if e.exit_code == 2:  # the command as typed, e.g. 'genlab sweep start --help'
            hint = f" (see '{ctx.command_path if ctx is not None else 'genlab'} --help')"
        err.print(f"genlab: error: {e.format_message()}{hint}", soft_wrap=True, markup=False)
        sys.exit(e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
