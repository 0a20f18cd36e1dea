"""The runs of a comparison ranked by their quality figure, as `genlab compare` ranks them
(genlab.run.summary.rank: its # is its place among the runs measured on the same digits); a run
with no quality figure yet comes last, with no place, and says so. Beside its state, each run's
training health: the verdict's symbol and title (genlab.health).

Each row names its run by its label (genlab/run/labels.py), in the run's colour, fitted to the
screen; the columns come in order of importance, the run's full id last: on a narrow screen the
table scrolls sideways (the arrow keys) to the rest."""

from __future__ import annotations

from rich.text import Text

from genlab.run.labels import Label
from genlab.run.summary import rank
from tui.messages import Compared
from tui.widgets import verdict
from tui.widgets.run_table import RunRows
from tui.widgets.status_bar import COLOURS

NARROW = 100  # columns: under this, a label gets LABEL_NARROW characters, else LABEL_WIDE
LABEL_NARROW, LABEL_WIDE = 16, 40


class RankingTable(RunRows):
    DEFAULT_CSS = """
    RankingTable {
        height: auto;
        max-height: 10;
    }
    """

    def __init__(self, labels: list[Label] = (), **kwargs):
        """``labels``: the compared runs' labels (their names and colours)."""
        super().__init__(**kwargs)
        self.labels = {label.run_id: label for label in labels}

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for col in ("#", "run", "status", "health", "step", "quality", "key metric", "best", "img/s", "id"):
            self.add_column(col, key=col)

    def show(self, runs: list[Compared]) -> None:
        """The runs, best first. Rows that have not changed are left as they are, and a rebuild keeps
        the selected run and how far the table is scrolled (sideways too)."""
        room = LABEL_NARROW if (self.app.size.width or NARROW) < NARROW else LABEL_WIDE
        rows = []
        for r in rank(list(runs)):
            best = r.formatted(r.key, r.key_best)
            ips = f"{r.images_per_s:,.0f}" if r.images_per_s else "-"
            label = self.labels.get(r.run_id)
            name = Text(label.fit(room), style=label.style) if label else Text(r.label or r.run_id)
            rows.append((r.run_id, (str(r.rank or "-"), name, Text(r.state, style=COLOURS.get(r.state, "white")), verdict.short(r.health),
                                    f"{r.step:,}/{r.total:,}", r.figure_text(), r.key_text(), best, ips, r.run_id)))
        shown = [(key, tuple(map(str, cells))) for key, cells in rows]
        if shown == getattr(self, "_shown", None):
            return
        self._shown = shown
        current, scrolled = self.selected_run(), (self.scroll_x, self.scroll_y)
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))
        self.call_after_refresh(self.scroll_to, *scrolled, animate=False)
