"""Placeholder cockpit: lists the runs in the runs root. The full cockpit comes in issue 4."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from genlab.store import list_runs, runs_root


class GenlabApp(App):
    TITLE = "genlab"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, runs_dir=None):
        super().__init__()
        self.root = runs_root(runs_dir)

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "model", "status", "step")
        for r in list_runs(self.root):
            table.add_row(r.run_id, r.model, r.state, f"{r.status.get('step', 0):,}/{r.config.get('total_steps', 0):,}")
