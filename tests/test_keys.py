"""No key crashes the cockpit: every key each screen binds (read from the screens' and the app's
BINDINGS, so a new key is covered as soon as it is bound), pressed on every screen (the runs
list, the dashboard of each model family, the compare screen and its vital signs, the new-run
form, the tags form, the stop question) over runs in each state that matters, at 80x24 and
200x50. Only quitting is left out; what would start a `genlab` process (the model list, a new
run, a resume, latent walks) answers from the scripted source instead."""

from __future__ import annotations

import re

import pytest
from scripted import MODELS, T0, clock, make_run
from test_tui import ScriptedSource, until

from genlab.core.data import read_bundled
from tui.app import GenlabApp
from tui.screens.compare import CompareScreen
from tui.screens.confirm import Confirm
from tui.screens.dashboard import Dashboard
from tui.screens.new_run import NewRunForm
from tui.screens.runs import RunsScreen
from tui.screens.sweep import SweepScreen
from tui.screens.tags_form import TagsForm
from tui.widgets.runs_table import RunsTable

SKIPPED = {"quit", "app.quit"}  # quitting ends the app by design
LEAVING = {"back", "cancel"}  # actions that leave the screen under test: pressed last


def bound_keys(screen_class) -> list[str]:
    """Every key the screen and the app bind (a binding may name several), quitting aside; keys
    that leave the screen come last. Of a run of keys bound to one action with different
    numbers (1-9: pane 1 to 9), the first and the last."""
    keys, leaving = [], []
    bindings = [*screen_class.BINDINGS, *GenlabApp.BINDINGS]
    actions = [b[1] if isinstance(b, tuple) else b.action for b in bindings]
    for i, binding in enumerate(bindings):
        key, action = (binding[0], binding[1]) if isinstance(binding, tuple) else (binding.key, binding.action)
        if action in SKIPPED:
            continue
        numbered = re.fullmatch(r"(\w+)\(-?\d+\)", action)
        neighbours = actions[i - 1:i] + actions[i + 1:i + 2]
        if numbered and len(neighbours) == 2 and all(re.fullmatch(rf"{numbered[1]}\(-?\d+\)", a) for a in neighbours):
            continue  # inside a run of one action's numbers
        for k in key.split(","):
            target = leaving if action.split("(")[0] in LEAVING else keys
            if k.strip() not in keys + leaving:
                target.append(k.strip())
    return keys + leaving


class KeysSource(ScriptedSource):
    """No process started: a resume or latent walks answer at once, as a run would."""

    def __init__(self, root):
        super().__init__(root)
        self.resumed, self.walked = [], []

    def resume(self, run_id):
        self.resumed.append(run_id)
        return f"run {run_id} running in the background from step 0"

    def walks(self, run_id, rows, steps, seed=0):
        self.walked.append(run_id)
        return read_bundled().test_images[: rows * steps].numpy(), 0


FORMS = {"n", "t"}  # a dashboard's keys that open the new-run and tags forms: pressed on the first one
STATES = ("no data yet", "no steps yet", "one point", "live", "paused", "finished", "crashed", "unreadable")
# A run with its history, live, paused, finished or crashed, is one dashboard told apart by its
# state and what that allows (pause, resume, stop): two of them a size, each with the family that
# size shows no other history of (one point: pixelcnn, then cgan; unreadable: cgan, then gan).
HISTORY = {80: {"live": "gan", "finished": "vae"}, 200: {"paused": "vae", "crashed": "pixelcnn"}}


def scripted(root, state: str) -> list[str]:
    """A run of each model family in ``state``; their ids."""
    fresh = clock()  # a heartbeat the fixed clock finds current
    for model in MODELS:
        name = f"{model}-{state.replace(' ', '-')}"
        if state == "no data yet":  # a run directory with just its config and status
            run = make_run(root, name, model, steps=0, heartbeat=fresh)
            for path in sorted(run.rglob("*"), reverse=True):
                if path.name not in ("config.json", "status.json"):
                    path.rmdir() if path.is_dir() else path.unlink()
        elif state == "no steps yet":
            make_run(root, name, model, steps=0, heartbeat=fresh)
        elif state == "one point":
            make_run(root, name, model, steps=1, heartbeat=fresh)
        elif state == "live":
            make_run(root, name, model, steps=300, heartbeat=fresh)
        elif state == "paused":
            make_run(root, name, model, steps=300, state="paused", heartbeat=fresh)
        elif state == "finished":
            make_run(root, name, model, steps=300, state="finished")
        elif state == "crashed":  # running, by a heartbeat long stale
            make_run(root, name, model, steps=300, heartbeat=T0 - 3600)
        elif state == "unreadable":
            run = make_run(root, name, model, steps=300, heartbeat=fresh)
            (run / "status.json").write_text('{"state": "runn')
    return [f"{model}-{state.replace(' ', '-')}" for model in MODELS]


def alive(app, where: str) -> None:
    assert app._exception is None, f"{where}: {app._exception!r}"
    assert app.is_running and app.return_code is None, where


async def press_each(app, pilot, screen, keys: list[str], where: str) -> None:
    """Press each key on ``screen``, coming back to it (Esc) when a key opened another one."""
    for key in keys:
        assert app.screen is screen, f"{where}: not on the screen under test before {key!r}"
        await pilot.press(key)
        await pilot.pause()
        alive(app, f"{where}, key {key!r}")
        for _ in range(4):  # a form, a question, a dashboard opened by the key
            if app.screen is screen or screen not in app.screen_stack:
                break
            await pilot.press("escape")
            await pilot.pause()
            alive(app, f"{where}, Esc after {key!r}")


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
async def test_no_key_crashes_the_cockpit(size, tmp_path):
    root = tmp_path / "runs"
    runs_of = {state: scripted(root, state) for state in STATES}
    app = GenlabApp(KeysSource(root))  # the model list: the scripted source's own
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.models is not None
                    and app.screen.query_one(RunsTable).row_count == 4 * len(STATES))
        runs = app.screen

        # the new-run form and the tags form, opened from the runs screen
        for key, form in (("n", NewRunForm), ("t", TagsForm)):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, form))
            await pilot.pause()
            await press_each(app, pilot, app.screen, bound_keys(form), f"{form.__name__}")
            assert app.screen is runs

        # the runs screen's own keys (space marks one run, c says two are needed)
        await press_each(app, pilot, runs, bound_keys(RunsScreen), "runs screen")
        runs.query_one(RunsTable).focus()
        await pilot.press("space", "c")  # a second run marked: compared
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.snapshot is not None)
        await press_each(app, pilot, app.screen, bound_keys(CompareScreen), "compare of the marked runs")
        assert app.screen is runs

        for i, state in enumerate(STATES):
            # a dashboard in each state (of a run with a history: HISTORY's at this size): the
            # families in turn (in other states at the other size), the forms its n and t open covered above
            history = HISTORY[size[0]]
            if state in ("live", "paused", "finished", "crashed") and state not in history:
                continue
            run_id = (f"{history[state]}-{state}" if state in history else runs_of[state][(i + (size[0] > 80)) % 4])
            app.open_run(run_id)
            await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
            dash = app.screen
            where = f"dashboard of {run_id} ({state}, {size[0]}x{size[1]})"
            for key in bound_keys(Confirm):  # the stop question's own keys, where the state lets a run stop
                await pilot.press("s")
                await pilot.pause()
                if isinstance(app.screen, Confirm):
                    await pilot.press(key)
                    await pilot.pause()
                alive(app, f"{where}, s then {key!r}")
                assert app.screen is dash, where
            keys = [k for k in bound_keys(Dashboard) if i == 0 or k not in FORMS]
            await press_each(app, pilot, dash, keys, where)
            assert app.screen is runs, where

            # two runs in that state compared (in every other state a size, and in HISTORY's): its
            # metrics, then its vital signs
            if i % 2 != (size[0] > 80) and state not in history:
                continue
            app.open_comparison(runs_of[state][:2] if i % 4 < 2 else runs_of[state][2:])
            await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.snapshot is not None)
            compare = app.screen
            where = f"compare of {compare.run_ids} ({state}, {size[0]}x{size[1]})"
            keys = bound_keys(CompareScreen)
            await press_each(app, pilot, compare, [k for k in keys if k != "escape"], where)
            assert compare.vital_signs  # v pressed once: the vital signs, and every key again
            await press_each(app, pilot, compare, keys, where + ", vital signs")
            assert app.screen is runs
        alive(app, "the end")


# a sweep with a trial running, one finished, one none of whose trials has started
SWEEPS = {"sweep-20261118-120000-gan": 7, "sweep-20261118-130000-gan": None, "sweep-20261118-140000-gan": 0}


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
async def test_no_key_crashes_the_sweep_screen(size, tmp_path):
    """The sweep screen, opened by Enter on each sweep's row: every key it binds."""
    from test_sweep_show import make_sweep

    root = tmp_path / "runs"
    for name, running in SWEEPS.items():
        make_sweep(root, running=running, name=name, count=0 if running == 0 else 8)
    app = GenlabApp(KeysSource(root), load_models=False)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 19)
        runs = app.screen
        for name in SWEEPS:
            table = runs.query_one(RunsTable)
            table.focus()
            table.move_cursor(row=table.get_row_index(f"sweep:{name}"))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.report is not None)
            await press_each(app, pilot, app.screen, bound_keys(SweepScreen), f"sweep screen of {name} ({size[0]}x{size[1]})")
            assert app.screen is runs
        alive(app, "the end")
