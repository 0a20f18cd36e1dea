"""A DataTable whose rows are runs, keyed by run id."""

from __future__ import annotations

from textual.widgets import DataTable


class RunRows(DataTable):
    def selected_run(self) -> str | None:
        """The id of the run under the cursor, or None."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
