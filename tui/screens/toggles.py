"""The curve toggles a screen with plots shares: l for a log scale, e for EMA smoothing.

A screen mixes this in and declares ``log_scale`` and ``smooth`` as reactives of its own."""

from __future__ import annotations

from tui.widgets.curves import CurvesPlot


class CurveToggles:
    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale

    def action_toggle_smooth(self) -> None:
        self.smooth = not self.smooth

    def watch_log_scale(self, value: bool) -> None:
        for plot in self.query(CurvesPlot):
            plot.log_scale = value

    def watch_smooth(self, value: bool) -> None:
        for plot in self.query(CurvesPlot):
            plot.smooth = value
