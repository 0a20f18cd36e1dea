"""The runs of a comparison ranked by their quality figure, as `genlab compare` ranks them
(genlab.run.summary.rank); a run with no quality figure yet comes last and says so."""

from __future__ import annotations

from rich.text import Text

from genlab.run.summary import rank
from tui.messages import Compared
from tui.widgets.run_table import RunRows
from tui.widgets.status_bar import COLOURS


class RankingTable(RunRows):
    DEFAULT_CSS = """
    RankingTable {
        height: auto;
        max-height: 10;
    }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for col in ("#", "run", "status", "step", "quality", "key metric", "best", "img/s", "what differs"):
            self.add_column(col, key=col)

    def show(self, runs: list[Compared]) -> None:
        current = self.selected_run()
        self.clear()
        for i, r in enumerate(rank(list(runs)), start=1):
            best = r.formatted(r.key, r.key_best)
            ips = f"{r.images_per_s:,.0f}" if r.images_per_s else "-"
            differs = r.label.removeprefix(r.run_id).strip()  # the id is in its own column
            self.add_row(str(i), r.run_id, Text(r.state, style=COLOURS.get(r.state, "white")),
                         f"{r.step:,}/{r.total:,}", r.figure_text(), r.key_text(), best, ips, self.fit(differs),
                         key=r.run_id)
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))

    def fit(self, text: str) -> str:
        """The last column in the room the others leave, cut between words with an ellipsis."""
        room = max(12, self.size.width - 100) if self.size.width else len(text)
        if len(text) <= room:
            return text
        cut = text[: room - 1].rsplit(" ", 1)[0]
        return cut + "…"
