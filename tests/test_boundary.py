"""DESIGN.md: nothing in genlab/ imports Textual; the cockpit builds on genlab, never the reverse."""

import pkgutil
import subprocess
import sys

import genlab


def test_importing_all_of_genlab_loads_no_textual():
    names = [m.name for m in pkgutil.walk_packages(genlab.__path__, "genlab.") if m.name != "genlab.__main__"]
    assert {"genlab.cli.main", "genlab.train.trainer", "genlab.models.gan", "genlab.render.digits"} <= set(names)
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "from typer.testing import CliRunner\n"
        "from genlab.cli.main import app\n"
        "assert CliRunner().invoke(app, ['models']).exit_code == 0\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_cockpit_never_imports_a_model_or_torch(tmp_path):
    """Samples and curves come from the run directory only: the cockpit process, opening a
    dashboard, loads neither torch nor any genlab model (and starts fast over SSH)."""
    from scripted import make_run

    make_run(tmp_path / "runs", "r", "gan", steps=300)
    code = (
        "import asyncio, sys\n"
        "from tui.app import GenlabApp\n"
        "from tui.screens.dashboard import Dashboard\n"
        "from tui.source import RunsSource\n"
        f"app = GenlabApp(RunsSource({str(tmp_path / 'runs')!r}), open_run='r', load_models=False)\n"
        "async def main():\n"
        "    async with app.run_test() as pilot:\n"
        "        while not (isinstance(app.screen, Dashboard) and app.screen.snapshot):\n"
        "            await pilot.pause(0.05)\n"
        "asyncio.run(main())\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'genlab.models.', 'genlab.train.trainer'))\n"
        "             and not m.startswith(('genlab.models.catalogue', 'genlab.models.specs')))  # (declarations: torch-free)\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
