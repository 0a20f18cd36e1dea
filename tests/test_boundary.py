"""DESIGN.md: nothing in genlab/ imports Textual; the cockpit builds on genlab, never the reverse."""

import pkgutil
import subprocess
import sys

import genlab


def test_importing_all_of_genlab_loads_no_textual():
    names = [m.name for m in pkgutil.walk_packages(genlab.__path__, "genlab.") if m.name != "genlab.__main__"]
    assert {"genlab.cli", "genlab.engine", "genlab.models.gan", "genlab.render"} <= set(names)
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "from typer.testing import CliRunner\n"
        "from genlab.cli import app\n"
        "assert CliRunner().invoke(app, ['models']).exit_code == 0\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
