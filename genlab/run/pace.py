"""When a viewer that polls a run (the cockpit's dashboard and compare screen) sends an update,
and whether the update carries the curves. Torch- and Textual-free, as genlab.run.follow."""

from __future__ import annotations


class UpdatePace:
    """When a viewer polling a run sends an update, and whether the update carries the curves.

    Every change goes out at the next poll; the curves, costly to build and draw, at most every
    ``curves_every_s``. Curves held back are owed: they go out once due even when nothing has
    changed since, so a run's last change (its end's evaluation, its final state) is never left
    drawn without them. A viewer that wants them with its next update (it was resized) says so
    with ``wanted``."""

    def __init__(self, curves_every_s: float):
        self.every = curves_every_s
        self.due = 0.0  # monotonic time from which curves may go out again
        self.owed = False  # an update went out without the curves it changed

    def update(self, changed: bool, now: float, wanted: bool = False, ready: bool = True) -> bool | None:
        """None: nothing to send now; else whether the update carries the curves. Not ``ready``:
        the viewer cannot take curves yet (it is not laid out); they are owed."""
        curves = (wanted or now >= self.due) and ready
        if not (changed or (self.owed and curves)):
            return None
        if curves:
            self.due, self.owed = now + self.every, False
        else:
            self.owed = True
        return curves
