"""Which of a run's checks a held-out figure is read from: one series a figure, measured one way.

A run records held-out figures in two kinds of ``eval`` event: the evaluation at each epoch's end
(``--eval-size`` test digits) and the live quality check (``quality: true``, ``--quality-samples``
digits). Most figures come from one kind only (a GAN's FLD from its checks, a VAE's ELBO from its
evaluations), but a PixelCNN's ``test_nll`` comes from both, measured on different digits: read
together they zigzag between two measurements (10,000 digits against 2,000 by default), and a
run's newest or best value, its rank, its health (a plateau or overfitting read from that zigzag)
and a notification's threshold would depend on which kind came last.

So a figure is read from the run's quality checks once one of them carries it, and from its
evaluations until then: the points it had from evaluations are dropped when its first quality
check comes (:meth:`Sources.see`), and later evaluations' values of it are not points of its series
(:meth:`Sources.counts`). Read event by event (the follower and the health judge, :meth:`Sources.take`;
a sweep's worker) or all at once (:func:`series`), a run gives the same series. No torch.
"""

from __future__ import annotations

NOT_FIGURES = ("t", "step", "epoch", "n", "k", "kind", "quality", "seconds")  # an eval event's other fields


def figures(e: dict) -> dict[str, float]:
    """An eval event's numeric figures."""
    return {k: float(v) for k, v in e.items()
            if k not in NOT_FIGURES and isinstance(v, (int, float)) and not isinstance(v, bool)}


class Sources:
    """What a run's eval events have said so far of where each figure comes from."""

    def __init__(self):
        self.from_checks: set[str] = set()  # figures a quality check has carried

    def see(self, e: dict) -> set[str]:
        """Take eval event ``e`` into account: the figures read from quality checks from now on, ``e``
        the first check to carry them (a reader drops the points it has of them)."""
        if not e.get("quality"):
            return set()
        new = set(figures(e)) - self.from_checks
        self.from_checks |= new
        return new

    def counts(self, e: dict, figure: str) -> bool:
        """Whether eval event ``e``'s value of ``figure`` is a point of its series (after :meth:`see`)."""
        return bool(e.get("quality")) or figure not in self.from_checks

    def take(self, e: dict, into: dict[str, list[tuple[int, float]]], wanted=lambda figure: True) -> None:
        """Eval event ``e``'s figures (those ``wanted``) into ``into``, each figure's (step, value)
        points: :meth:`see`, then the points that :meth:`counts`."""
        for k in self.see(e):
            into.pop(k, None)
        step = int(e.get("step", 0))
        for k, v in figures(e).items():
            if wanted(k) and self.counts(e, k):
                into.setdefault(k, []).append((step, v))


def series(events: list[dict], figure: str) -> list[dict]:
    """The eval events (of ``events``, oldest first) whose value of ``figure`` makes its series."""
    sources, out = Sources(), []
    for e in events:
        if e.get("kind") != "eval":
            continue
        if figure in sources.see(e):
            out.clear()
        if figure in e and sources.counts(e, figure):
            out.append(e)
    return out
