"""A VAE's latent map: the held-out digits where its encoder puts them, each drawn as its own
digit in its own colour (so it reads without colour too), redrawn at each held-out evaluation."""

from __future__ import annotations

from textual_plotext import PlotextPlot

COLOURS = ("blue", "orange", "green", "red", "magenta", "brown", "violet", "gray", "yellow", "cyan")


class LatentMap(PlotextPlot):
    DEFAULT_CSS = """
    LatentMap {
        height: 1fr;
        min-height: 8;
        border: round $primary;
        border-title-align: left;
        border-subtitle-align: left;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.step: int | None = None
        self.latent: dict | None = None
        self.border_title = "latent map"

    def show(self, latent: dict | None) -> None:
        if latent is None or latent["step"] == self.step:
            return
        self.latent, self.step = latent, latent["step"]
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        m = self.latent
        if m is None:
            plt.title("waiting for the first evaluation")
        else:
            # in the border, where Textual shortens what does not fit (plotext drops a long title)
            self.border_title, self.border_subtitle = f"latent map · step {m['step']:,}", m["how"]
            points, labels = m["points"], m["labels"]
            for d in range(10):
                sel = labels == d
                if sel.any():
                    plt.scatter(points[sel, 0].tolist(), points[sel, 1].tolist(), marker=str(d), color=COLOURS[d])
        self.refresh()
