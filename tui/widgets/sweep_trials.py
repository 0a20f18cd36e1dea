"""A sweep's trials ranked by its objective, best first (genlab/run/sweep_report.py): each
trial's number, state, parameters and objective (a trial not ended by its run's newest value,
with its step), and its run; keyed by run id, so Enter opens the trial's dashboard."""

from __future__ import annotations

from rich.text import Text

from tui.widgets.run_table import RunRows
from tui.widgets.status_bar import COLOURS

STATE_COLOURS = {**COLOURS, "complete": "blue", "pruned": "magenta", "fail": "red", "waiting": "white"}  # Optuna's verdicts too


def fmt_param(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


class SweepTrials(RunRows):
    DEFAULT_CSS = """
    SweepTrials {
        height: auto;
        max-height: 14;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.columns_of: tuple | None = None  # (parameter names, objective) the columns were made for
        self.shown_rows: list | None = None

    def on_mount(self) -> None:
        self.cursor_type = "row"

    def show(self, report: dict) -> None:
        trials = report["trials"]
        keys = tuple(dict.fromkeys(k for t in trials for k in t.get("params", {})))
        if self.columns_of != (keys, report["objective"]):
            self.clear(columns=True)
            self.columns_of = (keys, report["objective"])
            for col in ("#", "trial", "state", *keys, report["objective"], "run"):
                self.add_column(col, key=col)
        rows = [self.cells(i, t, keys) for i, t in enumerate(trials, start=1)]
        if rows == self.shown_rows:
            return
        self.shown_rows = rows
        current = self.selected_run()
        self.clear()
        for t, cells in zip(trials, rows):
            self.add_row(*cells, key=t.get("run_id") or f"trial-{t.get('number')}")
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))

    @staticmethod
    def cells(rank: int, t: dict, keys: tuple) -> list:
        value = t.get("objective")
        if value is None:
            shown = "-"
        elif t.get("value") is None:  # not ended: its run's newest
            shown = f"{value:.4g} (step {t.get('newest_step') or 0:,})"
        else:
            shown = f"{value:.4g}"
        state = t.get("state", "?")
        return [str(rank) if value is not None else "", str(t.get("number")),
                Text(state, style=STATE_COLOURS.get(state, "white")), *(fmt_param(t.get("params", {}).get(k)) for k in keys),
                shown, t.get("run_id") or "-"]
