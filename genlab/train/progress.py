"""The Rich progress bar a foreground run draws on a terminal (``genlab train`` in a terminal).

A sink like the run's files (genlab/run/sinks.py), kept on the training side so that
genlab/run imports no Rich.
"""

from __future__ import annotations

import time

from genlab.run.sinks import Progress, Sink, event_line, fmt_duration, fmt_metrics, progress_text


class RichSink(Sink):
    """A Rich progress bar for a terminal: step, epoch, images/s, ETA and the key losses."""

    def __init__(self, console, config):
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("[bold cyan]{task.fields[model]}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[steps]}"),
            TextColumn("epoch {task.fields[epoch]}"),
            TextColumn("{task.fields[ips]} img/s"),
            TextColumn("eta {task.fields[eta]}"),
            TextColumn("{task.fields[metrics]}"),
            console=console, refresh_per_second=4, transient=False,
        )
        budget = config.max_minutes * 60 if config.max_minutes else None  # the bar then fills with time
        self.task = self.bar.add_task("train", total=budget or config.total_steps, model=config.model,
                                      steps=progress_text(0, config.total_steps, 0.0, budget, words=True),
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
            self.bar.update(self.task, completed=p.elapsed_s if p.budget_s else p.step,
                            steps=progress_text(p.step, p.total_steps, p.elapsed_s, p.budget_s, words=True),
                            epoch=f"{p.epoch}/{p.epochs}",
                            ips=f"{p.images_per_s:,.0f}", eta=fmt_duration(p.eta_s),
                            metrics=fmt_metrics(p.metrics, p.key_metrics))

    def close(self) -> None:
        if self._alive():
            self.stopped = True
            try:
                self.bar.stop()
            except OSError:
                pass
