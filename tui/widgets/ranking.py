"""The runs of a comparison ranked by their key metric (as each model declares it)."""

from __future__ import annotations

from rich.text import Text

from tui.messages import Compared
from tui.widgets.run_table import RunRows
from tui.widgets.status_bar import COLOURS


def rank(runs: list[Compared]) -> list[Compared]:
    """Best first by the newest key metric (lower or higher is better as declared); runs whose
    key metric has no value yet, last."""
    def order(r: Compared):
        if r.key_latest is None:
            return (1, 0.0)
        return (0, r.key_latest if r.lower_is_better else -r.key_latest)

    return sorted(runs, key=order)


class RankingTable(RunRows):
    DEFAULT_CSS = """
    RankingTable {
        height: auto;
        max-height: 10;
    }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for col in ("#", "run", "status", "step", "key metric", "best", "img/s", "what differs"):
            self.add_column(col, key=col)

    def show(self, runs: list[Compared]) -> None:
        current = self.selected_run()
        self.clear()
        for i, r in enumerate(rank(runs), start=1):
            latest = f"{r.key} {r.key_latest:.4g}" if r.key_latest is not None else "-"
            best = f"{r.key_best:.4g}" if r.key_best is not None else "-"
            ips = f"{r.images_per_s:,.0f}" if r.images_per_s else "-"
            differs = r.label.removeprefix(r.run_id).strip()  # the id is in its own column
            self.add_row(str(i), r.run_id, Text(r.state, style=COLOURS.get(r.state, "white")),
                         f"{r.step:,}/{r.total:,}", latest, best, ips, self.fit(differs), key=r.run_id)
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))

    def fit(self, text: str) -> str:
        """The last column in the room the others leave, cut between words with an ellipsis."""
        room = max(12, self.size.width - 78) if self.size.width else len(text)
        if len(text) <= room:
            return text
        cut = text[: room - 1].rsplit(" ", 1)[0]
        return cut + "…"
