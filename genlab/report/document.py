"""A report laid out: its sections as a list of simple blocks (headings, paragraphs, tables,
lists, pictures), and its pictures as named PNGs, in the one order both writers follow.

genlab/report/html.py and markdown.py each turn these blocks into their format; what a report
says, and in what order, is decided here once:

1. the title, when it was made, and a warning for each run still training (live);
2. the runs: what each one is (model, what differs, data, machine, versions);
3. for several runs, the comparison (genlab.run.compare: what differs, whether it is fair, the
   ranking) and, for a sweep, its importance and history;
4. the curves, one figure a pane, every run in its colour;
5. the class histogram of generated digits;
6. each run: its health verdict, its quality figures with how they were measured, its samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from genlab.report import figures
from genlab.report.collect import Report, RunPart
from genlab.run.compare import described, fmt


@dataclass(frozen=True)
class Block:
    kind: str  # "h1", "h2", "h3", "p", "warn", "table", "list", "img"
    text: str = ""  # a heading's or paragraph's text; an image's caption
    rows: tuple = ()  # a table's rows (the first: its header) or a list's items
    picture: str = ""  # an image's file name (its PNG in the pictures)
    colour: tuple | None = None  # a run's colour, where the block is about one run
    pixelated: bool = False  # an image of digits: scaled up without smoothing
    data: bytes = b""  # an image's PNG


def image(name: str, data: bytes, caption: str, pixelated: bool = False) -> Block:
    return Block("img", caption, picture=name, pixelated=pixelated, data=data)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-") or "x"


def layout(report: Report) -> tuple[list[Block], dict[str, bytes]]:
    """The report's blocks and its pictures (file name -> PNG bytes)."""
    made = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.made))
    blocks = [Block("h1", report.title),
              Block("p", f"Made {made} by genlab report, from the run directories as they were then.")]
    for part in report.runs:
        if part.live:
            blocks.append(Block("warn", f"LIVE: {part.run_id} is {part.state}: this report shows it as it was at "
                                        f"{made}, at step {part.summary.step:,} of {part.summary.total:,}.",
                                colour=part.colour))
    blocks.append(Block("h2", "The runs"))
    blocks.append(Block("table", rows=runs_table(report)))
    for part in report.runs:
        blocks.append(Block("h3", part.run_id if part.name == part.run_id else f"{part.name}: {part.run_id}",
                            colour=part.colour))
        blocks.append(Block("table", rows=(("", ""), *part.facts)))
    if report.comparison is not None:
        blocks += comparison(report)
    if report.sweep is not None:
        blocks += sweep(report)
    blocks.append(Block("h2", "Curves"))
    blocks.append(Block("p", "Each run in its own colour (the cockpit's); a run's metrics told apart by line style; "
                             "held-out checks as points."))
    for i, pane in enumerate(report.panes):
        blocks.append(image(f"curves-{i + 1:02d}-{slug(pane.title)[:40]}.png", figures.curves(pane, report.runs),
                            pane.title))
    if any(p.class_hist for p in report.runs):
        blocks.append(Block("h2", "Class histogram"))
        blocks += [Block("p", f"{p.short}: {p.class_hist_title}", colour=p.colour) for p in report.runs if p.class_hist]
        blocks.append(image("class-histogram.png", figures.class_histogram(report.runs),
                            "the share of each digit among the generated digits"))
    for part in report.runs:
        blocks += run_section(part)
    return blocks, {b.picture: b.data for b in blocks if b.kind == "img"}


def runs_table(report: Report) -> tuple:
    """A row a run: its name, id, model, state (LIVE marked), step, quality figure, what differs."""
    rows = [("run", "id", "model", "state", "step", "quality", "what differs")]
    for p in report.runs:
        s = p.summary
        rows.append((p.name, p.run_id, str(s.config.get("model")), f"{s.state} (live)" if p.live else s.state,
                     f"{s.step:,} / {s.total:,}", s.figure_text(), p.differs or "-"))
    return tuple(rows)


def comparison(report: Report) -> list[Block]:
    """``genlab compare``'s table: what differs, why it is not fair, each run ranked."""
    c = report.comparison
    out = [Block("h2", "Comparison")]
    names = {p.run_id: p.name for p in report.runs}
    if c.differs:
        rows = [("run", *c.differs)]
        rows += [(names.get(s.run_id, s.run_id), *(fmt(described(s.config).get(k)) for k in c.differs)) for s in c.runs]
        out += [Block("p", "What differs:"), Block("table", rows=tuple(rows))]
    else:
        out.append(Block("p", "Nothing differs in their configurations."))
    if c.warnings:
        out.append(Block("warn", "Not a fair comparison: " + "; ".join(c.warnings) + "."))
    quality_keys = list(dict.fromkeys(k for s in c.runs for k in s.quality))
    rows = [("#", "run", "state", "step", "time", "img/s", "load", "quality", "key metric", "best (step)",
             *quality_keys)]
    for s in c.runs:
        rows.append((f"{s.rank}" if s.rank else "-", names.get(s.run_id, s.run_id), s.state, f"{s.step:,}",
                     f"{s.wall_s / 60:.1f} min" if s.wall_s else "-",
                     f"{s.images_per_s:,.0f}" if s.images_per_s else "-", s.load_text(), s.figure_text(),
                     s.key_text(),
                     f"{s.formatted(s.key, s.key_best)} ({s.key_best_step:,})" if s.key_best is not None else "-",
                     *(s.formatted(k, s.quality.get(k)) for k in quality_keys)))
    out += [Block("p", "Ranked by their quality figure, best first:"), Block("table", rows=tuple(rows))]
    return out


def sweep(report: Report) -> list[Block]:
    """A sweep's spec, best trial, importance and history (genlab.run.sweep_report)."""
    sw = report.sweep
    spec = sw.get("spec") or {}
    out = [Block("h2", f"Sweep {report.sweep_id}")]
    best = sw.get("best")
    said = f"Objective {spec.get('objective')} ({spec.get('direction')})"
    if best:
        said += f"; best: trial {best.get('number')} ({best.get('run_id')}), {best['objective']:.4g}"
    out.append(Block("p", said + "."))
    if report.lesson:
        out.append(Block("warn" if "cannot tell" in report.lesson else "p", report.lesson[:1].upper() + report.lesson[1:]))
    rows = [("trial", "run", "state", "parameters", "objective")]
    for t in sw.get("trials", []):
        params = " ".join(f"{k}={fmt(v)}" for k, v in (t.get("params") or {}).items())
        rows.append((str(t.get("number")), str(t.get("run_id") or "-"), str(t.get("state")), params or "-",
                     f"{t['objective']:.4g}" if isinstance(t.get("objective"), (int, float)) else "-"))
    out.append(Block("table", rows=tuple(rows)))
    imp = sw.get("importance") or {}
    params = imp.get("params") or {}
    if imp.get("evaluator") and params:
        out.append(Block("p", f"Importance ({imp['evaluator']} over {imp.get('trials', 0)} complete trials):"))
        out.append(Block("table", rows=(("parameter", "importance"), *((k, f"{v:.2f}") for k, v in params.items()))))
        if len(params) > 1:
            out.append(image("sweep-importance.png", figures.importance(params), "which parameters mattered"))
    else:
        out.append(Block("p", "Importance: " + (imp.get("says") or "none computed") + "."))
    if sw.get("history"):
        out.append(image("sweep-history.png", figures.sweep_history(sw), "the objective by trial, and the best so far"))
    return out


def run_section(part: RunPart) -> list[Block]:
    """One run: its health verdict and history, its quality figures and how they were measured,
    its sample grids."""
    s = part.summary
    out = [Block("h2", f"{part.name}" + (f" ({part.run_id})" if part.name != part.run_id else "")
                 + (" — LIVE" if part.live else ""), colour=part.colour)]
    if part.health is not None:
        v = part.health
        items = [v.line().split(" — try:")[0]]
        items += [v.explains] if v.explains else []
        items += [f"raised when: {v.rule}"] if v.rule else []
        items += [f"try: {cure}" for cure in v.cures]
        items += [f"history: {'; '.join(part.health_history[-8:])}"] if part.health_history else []
        out += [Block("h3", "Health"), Block("list", rows=tuple(items))]
    if part.quality:
        out.append(Block("h3", "Quality"))
        out.append(Block("table", rows=(("figure", "value", "what it is"), *part.quality)))
        if part.measured:
            out.append(Block("p", f"Measured {part.measured}."))
    if part.grids:
        out.append(Block("h3", "Samples"))
        out.append(Block("p", "From the run's fixed latent, so each grid shows the same points as training goes on."))
        for step, images in part.grids:
            out.append(image(f"{slug(part.run_id)}-samples-{step:08d}.png",
                             figures.grid(images, s.view.sample_classes), f"{part.name} at step {step:,}",
                             pixelated=True))
    return out
