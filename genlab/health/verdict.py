"""What a judgement of a run's health says: :class:`Verdict`, plain data for every screen."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# what a verdict's severity looks like without colour (NO_COLOR): the symbol carries it
SYMBOLS = {"ok": "✓", "young": "…", "warn": "▲", "bad": "✖"}
# and with colour, on every screen (a Rich style: genlab runs, show, the cockpit)
STYLES = {"ok": "green", "young": "dim", "warn": "yellow", "bad": "red"}
WORST_FIRST = {"bad": 0, "warn": 1, "young": 2, "ok": 3}  # what sorting by health shows on top


@dataclass(frozen=True)
class Verdict:
    name: str  # "healthy", "young", or the name of the rule that fired ("d-wins", "mode-collapse"...)
    title: str  # for a person, short: "healthy", "too young to judge", "D winning"
    severity: str = "ok"  # "ok", "young" (not judged yet), "warn" or "bad"
    explains: str = ""  # one line in the tutorial's terms: what is going wrong and why
    evidence: str = ""  # the figures that raised it: "‖∇G‖ 0.002, D(x) 0.99, D(G(z)) 0.01"
    since_step: int | None = None  # the step from which it has held
    cures: tuple[str, ...] = ()  # genlab commands to try, e.g. "genlab train wgan-gp --preset cpu"
    label: str = ""  # shorter than the title where room is scarce (a table's cell): "young"; "" for the title
    rule: str = ""  # when it is raised, in words: "d_real above 0.99 over 200 steps and ..."

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.severity, "?")

    @property
    def style(self) -> str:
        return STYLES.get(self.severity, "")

    def short(self) -> str:
        """The symbol and the title: '▲ D winning' (a table's cell)."""
        return f"{self.symbol} {self.label or self.title}"

    def to_json(self) -> dict:
        return {**asdict(self), "cures": list(self.cures), "symbol": self.symbol}

    def line(self) -> str:
        """One line: '▲ D winning since step 3,200: ‖∇G‖ 0.002, D(x) 0.99 — try: genlab train wgan-gp'."""
        text = f"{self.symbol} {self.title}"
        if self.since_step is not None and self.severity in ("warn", "bad"):
            text += f" since step {self.since_step:,}"
        if self.evidence:
            text += f": {self.evidence}"
        if self.cures:
            text += f" — try: {self.cures[0]}"
        return text


def spans(events: list[dict]) -> list[str]:
    """Each verdict a run had, when, from its ``health`` events: ``D winning at steps 1,200-1,700``,
    ``... from step 2,100``."""
    out, started = [], {}
    for e in events:
        if e.get("event") == "start":
            started[e.get("verdict")] = len(out)
            out.append(f"{e.get('title')} from step {e.get('step', 0):,}")
        elif e.get("verdict") in started:
            i = started.pop(e.get("verdict"))
            out[i] = out[i].replace(" from step ", " at steps ") + f"-{e.get('step', 0):,}"
    return out
