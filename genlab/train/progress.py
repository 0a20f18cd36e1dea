"""The Rich progress bar a foreground run draws on a terminal (``genlab train`` in a terminal).

A sink like the run's files (genlab/run/sinks.py), kept on the training side so that
genlab/run imports no Rich.
"""

from __future__ import annotations

import time

from genlab.run.sinks import Progress, Sink, event_line, fmt_duration, fmt_metrics


class RichSink(Sink):
    """A Rich progress bar for a terminal: step, epoch, images/s, ETA and the key losses."""

    def __init__(self, console, config):
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("[bold cyan]{task.fields[model]}"),
            BarColumn(bar_width=24),
            TextColumn("step {task.completed:,}/{task.total:,}"),
            TextColumn("epoch {task.fields[epoch]}"),
            TextColumn("{task.fields[ips]} img/s"),
            TextColumn("eta {task.fields[eta]}"),
            TextColumn("{task.fields[metrics]}"),
            console=console, refresh_per_second=4, transient=False,
        )
        self.task = self.bar.add_task("train", total=config.total_steps, model=config.model,
                                      epoch="1", ips="-", eta="?", metrics="")
        self.bar.start()
        self.hung_up = self.stopped = False

    def detach(self) -> None:
        """The terminal hung up (called from a signal handler: only a flag; the bar is stopped
        at the next call)."""
        self.hung_up = True

    def _alive(self) -> bool:
        if self.hung_up and not self.stopped:
            self.stopped = True
            try:
                self.bar.stop()
            except Exception:
                pass
        return not self.hung_up

    def event(self, e: dict) -> None:
        line = event_line(e)
        if line and self._alive():
            try:
                self.bar.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {line}", highlight=False)
            except OSError:
                self.hung_up = True

    def progress(self, p: Progress) -> None:
        if self._alive():
            self.bar.update(self.task, completed=p.step, epoch=f"{p.epoch}/{p.epochs}",
                            ips=f"{p.images_per_s:,.0f}", eta=fmt_duration(p.eta_s),
                            metrics=fmt_metrics(p.metrics, p.key_metrics))

    def close(self) -> None:
        if self._alive():
            self.stopped = True
            try:
                self.bar.stop()
            except OSError:
                pass
