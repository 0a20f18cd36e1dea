"""The cockpit gives way to training; the runs it starts do not (tui/priority.py)."""

import subprocess
import sys

SCRIPT = r"""
import os, subprocess, sys, threading
from tui import priority
before = os.getpriority(os.PRIO_PROCESS, 0)
assert priority.yield_to_training()
after = os.getpriority(os.PRIO_PROCESS, 0)
later = []
t = threading.Thread(target=lambda: later.append(os.getpriority(os.PRIO_PROCESS, 0)))
t.start(); t.join()
child = priority.spawner().submit(
    subprocess.run, [sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
    capture_output=True, text=True).result()
print(before, after, later[0], int(child.stdout))
"""


def test_cockpit_threads_yield_and_spawned_runs_keep_the_first_priority():
    # in a process of its own: lowering priority is one-way, and must not slow the rest of the suite
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    before, after, later, child = map(int, out.split())
    assert after == later == min(before + 10, 19)  # the cockpit, and threads it starts afterwards
    assert child == before  # a process started from the spawner thread: the run keeps its priority
