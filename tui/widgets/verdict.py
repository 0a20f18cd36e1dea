"""A run's training health (genlab.health.Verdict) as the cockpit draws it: in its severity's
colour (genlab.health.verdict.STYLES), always with its symbol, which carries the
severity where colour does not (NO_COLOR). Whole (a wide status bar), fitted to a width (an
80-column one: the evidence is cut before the title, and "try:" kept while it fits), short (a
table's cell: symbol and short title) or in full (the verdict's details: every cure); and a `health`
event (genlab/run/follow.py) as a line of the event log.
"""

from __future__ import annotations

from rich.text import Text

from genlab.health import Verdict
from genlab.health.verdict import STYLES, SYMBOLS

CUT = "…"


def style(severity: str) -> str:
    return STYLES.get(severity, "")


def whole(v: Verdict) -> Text:
    """The verdict's line (Verdict.line): '▲ D winning since step 3,200: ‖∇G‖ 0.002 — try: …'."""
    return Text(v.line(), style=style(v.severity))


def short(v: Verdict | None) -> Text:
    """Symbol and title (or its shorter label: "… young"), for a table's cell ("" for a run not
    judged)."""
    return Text(v.short(), style=style(v.severity)) if v is not None else Text("")


def fitted(v: Verdict, width: int) -> Text:
    """The verdict's line in ``width`` cells: whole if it fits; else the evidence cut (from its
    last figure), then the "since step" dropped, then the evidence, then the cure cut; the title
    last."""
    head = f"{v.symbol} {v.title}"
    since = f" since step {v.since_step:,}" if v.since_step is not None and v.severity in ("warn", "bad") else ""
    cure = f" — try: {v.cures[0]}" if v.cures else ""
    figures = [f for f in v.evidence.split(", ") if f] if v.evidence else []
    evidence = [f": {', '.join(figures[:n])}" + (f", {CUT}" if n < len(figures) else "") for n in range(len(figures), 0, -1)]
    tries = [head + since + e + cure for e in evidence] + [head + e + cure for e in evidence] + [head + since + cure, head + cure]
    line = next((t for t in tries if Text(t).cell_len <= width), None)
    if line is None:  # not even the title and the cure: the cure cut, else the title
        line = head + cure if cure and Text(head + " — try: genlab").cell_len <= width else head
    text = Text(line, style=style(v.severity))
    text.truncate(max(1, width), overflow="ellipsis")
    return text


def details(v: Verdict) -> Text:
    """Everything the verdict says, over several lines: title and since when, the explanation,
    the evidence, every cure."""
    text = Text(f"{v.symbol} {v.title}", style=f"bold {style(v.severity)}")
    if v.since_step is not None and v.severity in ("warn", "bad"):
        text.append(f" since step {v.since_step:,}", style=style(v.severity))
    if v.explains:
        text.append(f"\n\n{v.explains}")
    if v.evidence:
        text.append("\n\nevidence: ", style="bold")
        text.append(v.evidence)
    if v.rule:
        text.append("\nraised when: ", style="bold")
        text.append(v.rule)
    if v.cures:
        text.append("\n\ntry:", style="bold")
        for cure in v.cures:
            text.append(f"\n  {cure}")
    return text


def event_text(e: dict) -> Text:
    """A `health` event as the event log shows it: 'step 3,200 ▲ D winning: ‖∇G‖ 0.002' when the
    verdict starts, 'step 4,100 ✓ D winning ended' when it ends."""
    step = e.get("step")
    at = f"step {step:,} " if isinstance(step, int) else ""
    title = e.get("title") or e.get("verdict") or "?"
    if e.get("event") == "end":
        return Text(f"{at}{SYMBOLS['ok']} {title} ended", style=style("ok"))
    severity = e.get("severity") or "warn"
    evidence = f": {e['evidence']}" if e.get("evidence") else ""
    return Text(f"{at}{SYMBOLS.get(severity, '?')} {title}{evidence}", style=style(severity))
