"""Which digits a GAN is generating: the classifier's histogram of fresh samples, so mode
collapse is visible at a glance (an empty bar is a digit the generator has lost)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ClassHistogram(Static):
    DEFAULT_CSS = """
    ClassHistogram {
        height: 12;
        min-height: 12;
        border: round $primary;
        border-title-align: left;
        border-subtitle-align: left;
        padding: 0 1;
    }
    """

    def __init__(self, captions: tuple = (), title: str = "classes of generated digits", **kwargs):
        """``captions``: the metrics (genlab.view.Metric) whose newest values go in the title."""
        super().__init__("waiting for the first quality check", **kwargs)
        self.border_title = title
        self.captions = captions
        self.hist: list[float] | None = None

    def show(self, hist: list[float] | None, evals: dict) -> None:
        if not hist or hist == self.hist:
            return
        self.hist = hist
        title = "classes"
        for metric in self.captions:
            value = (evals.get(metric.name) or [(0, None)])[-1][1]
            if value is not None:
                title += f" · {metric.label or metric.name} {metric.format(value)}"
        self.draw(hist, title)

    def show_cas(self, cas: dict | None) -> None:
        """The newest Classification Accuracy Score (`genlab eval --cas`), under the bars: a
        classifier trained on generated digits only, beside one trained on as many real ones."""
        if cas:
            self.border_subtitle = (f"CAS {cas['cas']:.1%} · real {cas['real']:.1%} · "
                                    f"{cas['n']:,} digits of step {cas['step']:,}")

    def draw(self, hist: list[float], title: str) -> None:
        """One bar a digit, under ``title``."""
        self.hist = hist
        self.border_title = title
        width = max(5, self.content_size.width - 8)
        top = max(max(hist), 1e-9)
        text = Text()
        for digit, share in enumerate(hist):
            bar = "█" * round(width * share / top)
            style = "red" if share < 0.05 else ("yellow" if share < 0.07 or share > 0.13 else "green")
            text.append(f"{digit} ")
            text.append(bar.ljust(width), style=style)
            text.append(f" {share:4.0%}\n" if digit < 9 else f" {share:4.0%}")
        self.update(text, layout=False)  # a fixed height: no new layout needed

    def on_resize(self) -> None:
        if self.hist:  # (the bars fill the width it has now: a pane shown after being hidden, a wider screen)
            self.draw(self.hist, str(self.border_title or ""))
