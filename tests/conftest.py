"""Shared fixtures. Tests read MNIST from GENLAB_DATA_DIR (CI points it at its copy), else the
digits bundled in the package, and never touch the network or the user's cache. The few tests
about full MNIST itself (its counts, its files, a run's length in steps) skip without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# absolute, so tests that change directory or link to the files still find them
if os.environ.get("GENLAB_DATA_DIR"):
    os.environ["GENLAB_DATA_DIR"] = str(Path(os.environ["GENLAB_DATA_DIR"]).resolve())
os.environ["GENLAB_OFFLINE"] = "1"

# pytest -n N (pytest-xdist): each test worker gets its own share of the cores, and so does every
# process it starts (affinity is inherited; genlab trains with a thread a core it may use), so
# two workers' training processes never fight over the same cores
_worker, _count = os.environ.get("PYTEST_XDIST_WORKER", ""), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _worker.startswith("gw") and _count > 1 and hasattr(os, "sched_setaffinity"):
    _cpus = sorted(os.sched_getaffinity(0))
    if len(_cpus) >= _count:
        os.sched_setaffinity(0, _cpus[int(_worker[2:]) % _count::_count])

# tests about full MNIST itself: its files, its 60,000 digits, the steps of an epoch of it
needs_mnist = pytest.mark.skipif(not os.environ.get("GENLAB_DATA_DIR"),
                                 reason="about full MNIST: set GENLAB_DATA_DIR to a directory holding it")

# giving a file to another user (chown) or becoming one (setuid) takes root
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: it chowns a file to another uid or runs as one")


# the longest tests (real runs in a terminal, sweeps, kills) start first, so with -n the suite
# does not end waiting on one of them
LONG_FIRST = ("test_terminal.py", "test_sweep.py", "test_sweep_pg.py", "test_control.py", "test_distributed.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: next((i for i, name in enumerate(LONG_FIRST) if item.fspath.basename == name),
                                     len(LONG_FIRST)))


@pytest.fixture(autouse=True)
def isolated(tmp_path, tmp_path_factory, monkeypatch, shared_judge):
    """Each test gets its own cache directory and runs root. The judge's features of the test
    digits (genlab/eval/quality.py: the same for every run, seconds of CPU in every process that
    judges a run) are the session's, as a user's cache keeps them for all their runs."""
    cache = tmp_path_factory.mktemp("cache")  # (not in tmp_path: tests use it as a runs root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    (cache / "genlab").mkdir()
    (cache / "genlab" / "judge").symlink_to(shared_judge, target_is_directory=True)
    monkeypatch.setenv("GENLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")


@pytest.fixture(scope="session")
def shared_judge(tmp_path_factory) -> Path:
    """One judge cache directory for the whole session, every xdist worker included (its files
    are written atomically, and keyed by the weights, the digits and the device)."""
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "judge"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def digits():
    from genlab.core.data import load_digits

    d = load_digits(os.environ.get("GENLAB_DATA_DIR"))  # full MNIST, or the bundled 9,000 + 1,000
    if os.environ.get("GENLAB_DATA_DIR"):
        assert d.source == "data-dir" and len(d.train_images) == 60_000, "GENLAB_DATA_DIR holds no full MNIST"
    return d


@pytest.fixture
def runs(tmp_path) -> Path:
    return tmp_path / "runs"


def built_once(tmp_path_factory, name: str, build) -> Path:
    """What ``build(root)`` makes, built once per test session whichever xdist worker asks first
    (the others wait on a lock, then reuse it), and copied into a directory of this worker's, so
    tests that write into it never meet another worker's. The pattern pytest-xdist documents
    for a session fixture run once; the saving is a module's training, not done twice."""
    import fcntl
    import shutil

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-once"
    shared.mkdir(exist_ok=True)
    target = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / f"{name}.done").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            build(target)
            (shared / f"{name}.done").touch()
    mine = tmp_path_factory.mktemp(name) / "runs"
    shutil.copytree(target, mine)
    return mine
