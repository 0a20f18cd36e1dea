"""One line naming a dashboard's panes when there is room for one at a time (80x24): the pane
shown, reversed, and the others, shortened to fit; tab and shift+tab (or 1-9) switch."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


def fit_titles(titles: list[str], current: int, width: int) -> list[str]:
    """The titles, numbered, the current one whole where it can be and the others cut (longest
    first) until the line fits ``width``; at least each pane's number stays."""
    items = [f"{i + 1} {t}" for i, t in enumerate(titles)]
    floor = [len(f"{i + 1}") for i in range(len(items))]

    def length() -> int:
        return sum(len(s) for s in items) + 3 * (len(items) - 1) + len("tab ▸ ")

    while length() > width:
        others = [i for i in range(len(items)) if i != current and len(items[i]) > floor[i]]
        cut = max(others or [current], key=lambda i: len(items[i]))
        if len(items[cut]) <= floor[cut]:
            break
        text = items[cut].rstrip("…")
        items[cut] = text[:-1].rstrip() + "…" if len(text) - 1 > floor[cut] else text[: floor[cut]]
    return items


class PaneTabs(Widget):
    DEFAULT_CSS = """
    PaneTabs {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.titles: list[str] = []
        self.current = 0

    def show(self, titles: list[str], current: int) -> None:
        if (titles, current) != (self.titles, self.current):
            self.titles, self.current = list(titles), current
            self.refresh()

    def render(self) -> Text:
        text = Text("tab ▸ ", style="bold")
        items = fit_titles(self.titles, self.current, max(10, self.size.width - 2))
        for i, item in enumerate(items):
            if i:
                text.append(" │ ", style="dim")
            text.append(item, style="reverse bold" if i == self.current else "")
        return text

    def on_resize(self) -> None:
        self.refresh()
