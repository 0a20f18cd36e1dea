"""genlab runs, show, tag, untag, note and compare: what the run directories hold."""

import json
import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from genlab.cli.app import Ascii, AsJson, Images, RunRef, RunsDir, TagOption, app, out
from genlab.cli.sample import print_digits
from genlab.errors import UsageError
from genlab.health.verdict import spans as verdict_spans
from genlab.run.columns import GIVES_WAY, models_text
from genlab.run.rundir import step_of
from genlab.run.sinks import progress_text
from genlab.run.state import RunState


def run_view(run_dir: Path):
    """What a run declares it shows (view.json; for a run made before views, its model's)."""
    from genlab import view

    return view.read(run_dir, known_view)


def budget(config: dict) -> float | None:
    """A run's time budget in seconds (--max-minutes), if its length is one."""
    minutes = config.get("max_minutes")
    return minutes * 60 if isinstance(minutes, (int, float)) and minutes > 0 else None


def known_view(path: Path):
    """The view of the run's model, for a run made before views (None for a model not known)."""
    from genlab.models import catalogue
    from genlab.run.files import read_json
    from genlab.run.rundir import RunDir

    config = read_json(RunDir(path).config)
    try:
        return catalogue.spec(config.get("model")).view
    except (UsageError, AttributeError, TypeError):
        return None


# --------------------------------------------------------------------------- train


def age(t: float) -> str:
    from genlab.run.sinks import fmt_duration

    return fmt_duration(max(0.0, time.time() - t)) + " ago"


def tagged(infos: list, wanted: list[str] | None) -> list:
    """The runs that carry every tag in ``wanted`` (all of them when it is empty)."""
    from genlab.run import tags
    for tag in wanted or []:
        tags.check_tag(tag)
    return [r for r in infos if set(wanted or []) <= set(tags.read(r.path).tags)]


NoCache = Annotated[bool, typer.Option(
    "--no-cache", help="Read every run whole, not its row kept from an earlier listing (and keep none).")]
FilterOption = Annotated[Optional[str], typer.Option(
    "--filter", metavar="EXPR",
    help="Only runs matching every term (space-separated): a word found in the id, model, state or a tag; "
         "KEY=VALUE of id, model, state, tag, sweep, the configuration (lr, hp, data.source) or a newest metric; "
         "!=, <, >, <=, >= too. E.g. --filter 'gan running', --filter 'lr=0.001 tag=best', --filter 'd_loss<1.3'.")]


def row_of(info, marks, verdict=None) -> dict:
    """What a filter reads of a run (genlab/run/filter.py): the fields the cockpit's rows have
    (and its health verdict's name, where the filter asks for it)."""
    return {"id": info.run_id, "model": info.model, "state": info.shown_state, "tags": marks.tags,
            "config": info.config, "metrics": info.status.get("metrics") or {}, "sweep": info.config.get("sweep"),
            "health": verdict.name if verdict else None}



def health_cell(verdict) -> Text:
    """A runs table's health cell: '▲ D winning' (its symbol carries it without colour); '-' for none."""
    return Text(verdict.short(), style=verdict.style) if verdict else Text("-")


@app.command()
def runs(runs_dir: RunsDir = None, tag: TagOption = None, filter_: FilterOption = None, as_json: AsJson = False,
         no_cache: NoCache = False) -> None:
    """List runs: id, model, status, health verdict, progress, key metric, quality figure (with its
    rank), age and tags. What a finished run shows is kept in the user's cache directory
    (genlab/run/row_cache.py)."""
    from genlab.run import row_cache
    from genlab.run.filter import parse
    from genlab.run.lineage import family_order, family_text
    from genlab.run.store import runs_root
    from genlab.run.summary import rank
    from genlab.run.tags import check_tag

    wanted = parse(filter_)
    root = runs_root(runs_dir)
    for t in tag or []:
        check_tag(t)
    every = [row for row in row_cache.rows(root, known_view, cached=not no_cache)
             if set(tag or []) <= set(row.marks.tags)]
    by_health = any(t.key == "health" for t in wanted.terms)
    listed = [row for row in every if wanted.matches(row_of(row.info, row.marks, row.verdict if by_health else None))]
    rows = {row.info.run_id: row for row in listed}
    infos = [row.info for row in listed]
    rank([row.listing for row in listed])

    def verdict(r):
        return rows[r.run_id].verdict

    if as_json:
        print(json.dumps([{
            "id": r.run_id, "model": r.model, "state": r.state, "step": r.status.get("step", 0),
            "total_steps": r.config.get("total_steps"), "metrics": r.status.get("metrics") or {},
            "key_metric": rows[r.run_id].key_metric, "ranked_by": rows[r.run_id].listing.ranked_json(),
            "health": verdict(r).to_json() if verdict(r) else None,
            "tags": rows[r.run_id].marks.tags, "note": rows[r.run_id].marks.note,
            "created": r.created, "path": str(r.path), "problem": r.problem, "sweep": r.config.get("sweep"),
            "forked_from": r.config.get("forked_from"),
        } for r in infos], indent=2))
        return
    from genlab.run.sweeps import sweep_dirs, sweep_groups, ungrouped

    groups = {k: v for k, v in sweep_groups(root, infos).items()
              if (v[1] or not tag) and wanted.keeps_sweep({**v[0], "config": {}}, len(v[1]))}
    if not infos and not groups:
        out.print(f"no runs match {wanted.text!r} in {root}" if wanted else
                  f"no runs tagged {', '.join(tag)} in {root}" if tag else
                  f"no runs in {root} yet: start one with 'genlab train gan'")
        return
    # ids and steps are never cut; a long status (an unreadable run's reason) gives way first
    widest = {"id": max([len(r.run_id) + 2 + 2 * depth + len(f" @{step or 0:,}") * bool(depth)
                         for r, depth, step in family_order(infos)] + [8 + len(d.name) for d in sweep_dirs(root)]),
              "status": 8, "health": 9, "key metric": 8, "quality": 10, "age": 7,
              "step": max([len(progress_text(r.status.get("step", 0), r.config.get("total_steps") or 0,
                                             r.status.get("elapsed_s"), budget(r.config))) for r in infos] + [4])}
    labels = {r.run_id: " ".join(rows[r.run_id].marks.tags) for r in infos}
    colours = {RunState.RUNNING: "green", RunState.PAUSED: "yellow", RunState.FINISHED: "blue", RunState.CRASHED: "red",
               RunState.FAILED: "red", RunState.STALLED: "red", RunState.UNREADABLE: "red"}
    title = f"{len(infos)} of {len(every)} runs in {root} match {wanted.text!r}" if wanted else f"runs in {root}"
    narrow_models = False  # a sweep's models ("gan,cgan,vae") as "3 models"

    def lines(columns: tuple, shown: list) -> list[list]:
        """The table's rows of ``shown`` (and of the sweeps): [cells, whether a section ends there]."""
        made: list[list] = []

        def add(r, indent="", depth=0, step=None):
            total = r.config.get("total_steps") or 0
            cells = {"id": indent + family_text(r.run_id, depth, step), "model": r.model,
                     "status": Text(r.shown_state, style=colours.get(r.shown_state, colours.get(r.state, "white"))),
                     "health": health_cell(verdict(r)),
                     "step": progress_text(r.status.get("step", 0), total, r.status.get("elapsed_s"), budget(r.config)),
                     "key metric": rows[r.run_id].listing.key_text,
                     "quality": rows[r.run_id].listing.ranked_text(), "age": age(r.created), "tags": labels[r.run_id]}
            if "health" not in columns and verdict(r):  # gave way: its symbol stays, beside the state
                cells["status"] = Text.assemble(cells["status"], " ", (verdict(r).symbol, verdict(r).style))
            made.append([[cells[c] for c in columns], False])

        for r, depth, step in family_order(shown):  # a fork under its parent
            add(r, depth=depth, step=step)
        for sweep_id, (head, members) in groups.items():  # a sweep: one line of its own, then its trials
            if made:
                made[-1][1] = True
            c, best = head["counts"], head["best"]
            cells = {"id": Text(f"sweep {sweep_id}", style="bold"), "model": models_text(head["model"], narrow_models),
                     "status": Text(head["state"], style="bold"), "health": "",
                     "step": f"{c['complete'] + c['pruned'] + c['fail']}/{head['trials']} trials",
                     "key metric": "", "quality": f"best {head['objective']} {best['value']:.4g}" if best else "-",
                     "age": age(head["created"]), "tags": ""}
            made.append([[cells[c] for c in columns], False])
            for r in members:
                add(r, "  ")
        return made

    def min_width(col: str) -> int:
        return max(len(col), min(widest.get(col, 0), 40))

    def build(columns: tuple, shown: list) -> Table:  # (for a terminal: a long status is cut)
        table = Table(title=title, title_justify="left")
        for col in columns:
            table.add_column(col, justify="right" if col == "step" else "left", no_wrap=True, overflow="ellipsis",
                             min_width=min_width(col), max_width=30 if col == "status" else None)
        for cells, section in lines(columns, shown):
            table.add_row(*cells, end_section=section)
        return table

    columns = ("id", "model", "status", "health", "step", "key metric", "quality", "age") + \
        (("tags",) if any(labels.values()) else ())
    if not out.is_terminal:  # a pipe or a file: every run, whole values, as wide as the table needs
        table = build(columns, ungrouped(infos, groups))
        wide = out.measure(table, options=out.options.update(width=100_000)).maximum
        Console(file=out.file, width=wide, highlight=False, no_color=True).print(table, soft_wrap=False)
        return
    # a terminal: the newest runs that fit its height (a pipe or --json lists them all)
    shown = ungrouped(infos, groups)
    room = max(out.height - 7, 10) - sum(1 + len(members) + 1 for _, members in groups.values())
    hidden = max(0, len(shown) - max(room, 0))
    shown = shown[hidden:]
    table = build(columns, shown)
    # a narrow terminal: a sweep's models become a count, then columns give way in their order
    # (genlab/run/columns.py); the id, state, progress and key metric never do
    for dropped in (None, *GIVES_WAY):
        if out.measure(table, options=out.options.update(width=100_000)).maximum <= out.width:
            break
        narrow_models = True
        columns = tuple(c for c in columns if c != dropped)
        table = build(columns, shown)
    out.print(table, soft_wrap=False)
    if hidden:
        out.print(f"{hidden:,} older runs not shown; every run: genlab runs | less", markup=False, highlight=False)


@app.command()
def show(run: RunRef, runs_dir: RunsDir = None, as_json: AsJson = False, ascii: Ascii = False,
         image_mode: Images = "auto") -> None:
    """A run's configuration, latest metrics and latest samples."""
    from genlab.run.resolve import resolve_run
    from genlab.run.store import latest_metrics, load_run, runs_root, samples

    info = load_run(resolve_run(runs_root(runs_dir), run))
    if info.problem and not as_json:
        raise UsageError(f"run {info.run_id} is unreadable: {info.problem}")
    from genlab.run import tags
    from genlab.run.lineage import fork_points, parent_of
    latest = latest_metrics(info.path)
    grids = samples(info.path)
    view = run_view(info.path)
    marks = tags.read(info.path)
    from genlab.health import judged
    verdict, health_events = judged(info.path, known_view)
    if as_json:
        print(json.dumps({
            "id": info.run_id, "path": str(info.path), "state": info.state, "problem": info.problem,
            "status": info.status, "config": info.config, "latest": latest, "view": view.to_json(),
            "health": {**verdict.to_json(), "history": health_events} if verdict else None,
            "tags": marks.tags, "note": marks.note,
            "samples": str(grids[-1].with_suffix(".png")) if grids else None,
            "checkpoints": [{"step": p.step, "time": p.when, "bytes": p.bytes} for p in fork_points(info.path)],
        }, indent=2))
        return
    c = info.config
    hp = ", ".join(f"{k}={v}" for k, v in {**c.get("hp", {}), "batch_size": c.get("batch_size"),
                                          "lr": c.get("lr")}.items())
    data = c.get("data", {})
    out.print(f"[bold]{info.run_id}[/]  {c.get('model')} ({c.get('family')})  [bold]{info.state}[/]  "
              f"step {info.status.get('step', 0):,}/{c.get('total_steps', 0):,}")
    if info.state == RunState.FAILED and info.status.get("reason"):
        out.print(f"  failed: {info.status['reason']}", markup=False)
    out.print(f"  hyperparameters: {hp}")
    made = time.strftime('%Y-%m-%d %H:%M', time.localtime(info.created))
    if c.get("source") == "script":  # genlab.init: the script knows its data and device
        out.print(f"  made by a script (genlab.init): {' '.join(c.get('argv') or [])}  created {made}", markup=False)
    else:
        out.print(f"  seed {c.get('seed')}  device {c.get('device')}  created {made}")
        out.print(f"  data: {data.get('source')} {data.get('location')} ({data.get('train', 0):,} train / {data.get('test', 0):,} test)")
    out.print(f"  directory: {info.path}")
    if (parent := parent_of(c)) is not None:
        out.print(f"  forked from {parent[0]} at step {parent[1]:,}", markup=False)
    out.print(kept_text(fork_points(info.path), out.width), markup=False)
    if marks.tags:
        out.print(f"  tags: {' '.join(marks.tags)}", markup=False)
    if marks.note:
        out.print(f"  note: {marks.note}", markup=False)
    shown = [(m, latest[m.name]) for m in view.metrics
             if isinstance(latest.get(m.name), (int, float)) and not isinstance(latest.get(m.name), bool)]
    if shown:
        out.print("  latest: " + "  ".join(f"{m.name} {m.format(v)}" + (f" {m.unit}" if m.unit not in ("", "%") else "")
                                           for m, v in shown))
    if verdict:
        print_health(verdict, health_events)
    world = info.status.get("world")
    if isinstance(world, dict) and isinstance(world.get("ranks"), list):
        from genlab.run.state import rank_trouble

        ranks = ", ".join(f"rank {r.get('rank')} on {r.get('host')} (pid {r.get('pid')}, step {r.get('step', 0):,}"
                          + (f", {r['busy_ms']:.1f} ms/step of work" if isinstance(r.get("busy_ms"), (int, float)) else "")
                          + (", done" if r.get("done") is True else "")
                          + ")" for r in world["ranks"] if isinstance(r, dict))
        out.print(f"  {world.get('size')} processes: {ranks}", markup=False)
        trouble = rank_trouble(info.status, time.time(), run_dir=info.path) if info.state == RunState.CRASHED else None
        if trouble:
            out.print(f"  [bold red]{trouble}[/]")
    if isinstance(info.status.get("system"), dict):
        from genlab.run.vitals import line

        when = "" if info.state in (RunState.RUNNING, RunState.PAUSED) else " (its last, while it ran)"
        out.print(f"  vital signs{when}: {line(info.status['system'])}", markup=False)
    if not print_newest_grid(info.path, ascii, view.sample_classes, image_mode):
        out.print("no samples yet")


def kept_text(points: list, width: int, most: int = 12) -> str:
    """The checkpoints kept: a line saying how many and how big, then each one's step, when it
    was written and its size, wrapped to ``width`` (the first and newest of a long list)."""
    if not points:
        return "  checkpoints kept: none yet"

    def one(p) -> str:
        return f"{p.step:,} ({time.strftime('%m-%d %H:%M', time.localtime(p.when))}, {p.bytes / 1e6:.1f} MB)"

    shown = [one(p) for p in points] if len(points) <= most else \
        [*map(one, points[:3]), f"... {len(points) - most} more ...", *map(one, points[3 - most:])]
    total = sum(p.bytes for p in points) / 1e6
    lines = [f"  checkpoints kept: {len(points)}, {total:.1f} MB (fork one: genlab fork RUN --at STEP)", "    step"]
    for i, cell in enumerate(shown):  # (an entry is never split over two lines)
        cell += "," if i < len(shown) - 1 else ""
        if len(lines[-1]) + 1 + len(cell) > max(width, 40) and lines[-1].strip():
            lines.append("    ")
        lines[-1] += ("" if lines[-1].endswith(" ") else " ") + cell
    return "\n".join(lines)


def print_health(verdict, events: list[dict]) -> None:
    """The run's health verdict (genlab/health), what it means, what to try, and its history."""
    from rich.padding import Padding

    def said(text: str) -> None:  # indented, and wrapped under its indent
        out.print(Padding(Text(text), (0, 0, 0, 4)), soft_wrap=False)

    out.print(Padding(Text.assemble("health: ", (verdict.line().split(" — try:")[0],
                                                 verdict.style)), (0, 0, 0, 2)), soft_wrap=False)
    if verdict.explains:
        said(verdict.explains)
    if verdict.rule:
        said(f"raised when: {verdict.rule}")
    for cure in verdict.cures:
        said(f"try: {cure}")
    spans = verdict_spans(events)  # "loss spike at steps 1,600-1,700", "D winning from step 1,200"
    if spans:
        said(f"history: {'... ' if len(spans) > 8 else ''}{'; '.join(spans[-8:])}")


def print_newest_grid(run_dir: Path, ascii: bool, classes: int, image_mode: str = "off") -> bool:
    """Draw the run's newest sample grid that can be read, saying so in one line when a newer one
    cannot (a garbage .npy); False when the run has no grid file."""
    from genlab.run.store import read_grid, samples

    grids = samples(run_dir)
    for path in reversed(grids):
        images = read_grid(path)
        if images is None:
            if path == grids[-1]:
                out.print(f"samples: {path} is unreadable (not a grid of digits)", soft_wrap=True, markup=False)
            continue
        out.print(f"samples at step {step_of(path):,}:")
        print_digits(images, ascii, png=path.with_suffix(".png"), classes=classes, image_mode=image_mode)
        break
    return bool(grids)


# --------------------------------------------------------------------------- tags, notes, compare


def own_run(run: str, runs_dir: Path | None):
    """A run whose tags and note this user may change: its own (a link or another's is refused)."""
    from genlab.run.resolve import resolve_run
    from genlab.run.store import check_controllable, runs_root

    path = resolve_run(runs_root(runs_dir), run)
    check_controllable(path)
    return path


@app.command()
def tag(run: RunRef, tags_: Annotated[list[str], typer.Argument(metavar="TAG...", help="Tags to add.")],
        runs_dir: RunsDir = None) -> None:
    """Tag a run (letters, digits and . _ + = : -); safe while it trains."""
    from genlab.run import tags
    path = own_run(run, runs_dir)
    out.print(f"run {path.name} tags: {' '.join(tags.change(path, add=tags_).tags)}", markup=False)


@app.command()
def untag(run: RunRef, tags_: Annotated[list[str], typer.Argument(metavar="TAG...", help="Tags to remove.")],
          runs_dir: RunsDir = None) -> None:
    """Remove tags from a run."""
    from genlab.run import tags
    path = own_run(run, runs_dir)
    left = tags.change(path, remove=tags_).tags
    out.print(f"run {path.name} tags: {' '.join(left) or '(none)'}", markup=False)


@app.command()
def note(run: RunRef, text: Annotated[str, typer.Argument(help="The note; \"\" removes it.")],
         runs_dir: RunsDir = None) -> None:
    """Set a run's note (shown by runs, show, compare and the cockpit)."""
    from genlab.run import tags
    path = own_run(run, runs_dir)
    kept = tags.change(path, note=text).note
    out.print(f"run {path.name} note: {kept}" if kept else f"run {path.name}: note removed", markup=False)


@app.command()
def compare(
    runs_: Annotated[Optional[list[str]], typer.Argument(metavar="RUN...", help="Runs: ids, unique prefixes or 'latest'.")] = None,
    tag: TagOption = None,
    sweep: Annotated[Optional[str], typer.Option("--sweep", help="Every trial of this sweep.")] = None,
    plot: Annotated[Optional[str], typer.Option(help="Overlay the runs' curves of this metric.")] = None,
    x: Annotated[str, typer.Option(help="The plot's x axis: step or time (minutes).")] = "step",
    by_run: Annotated[bool, typer.Option("--by-run", help="Each run on its own, not runs that differ only in their seed as one group.")] = False,
    runs_dir: RunsDir = None,
    as_json: AsJson = False,
) -> None:
    """Runs side by side: what differs in their configurations and settings, why they are not a
    fair comparison if so (figures measured on different data, runs too short to judge, runs
    trained on an overloaded machine), then each run, best first by its quality figure: its
    state, steps, time, speed, machine load, quality figure, key metric (newest and best) and
    quality check's figures.

    Runs that differ only in their seed are one group (unless --by-run): a row with the mean ±
    std (min–max) of each figure over its seeds, and on the plot their mean curve inside a
    min–max band."""
    from genlab.run import compare as cmp
    paths = chosen_runs(runs_, tag, sweep, runs_dir)
    if x not in ("step", "time"):
        raise UsageError(f"--x must be step or time, got {x!r}")
    compared = cmp.compare(paths)
    if plot is not None and not any(cmp.has_metric(p, plot) for p in paths):
        raise UsageError(f"none of these runs has a metric {plot!r}")
    if as_json:
        print(json.dumps(compared.to_json(), indent=2))
        return
    print_comparison(compared, by_run)
    if plot is not None and compared.seeded and not by_run:
        print_band_plot(compared.groups, plot, x)
    elif plot is not None:
        print_plot(compared.runs, plot, x)


def chosen_runs(refs: list[str] | None, tag: list[str] | None, sweep: str | None, runs_dir) -> list[Path]:
    """The run directories named, tagged (all of ``tag``) and of ``sweep``, each once, in that order."""
    from genlab.run.resolve import resolve_run
    from genlab.run.store import list_runs, runs_root

    root = runs_root(runs_dir)
    paths = [resolve_run(root, ref) for ref in refs or []]
    if tag:
        paths += [r.path for r in tagged(list_runs(root), tag)]
    if sweep:
        from genlab.run.resolve import resolve_sweep
        from genlab.run.sweeps import trial_runs

        paths += trial_runs(root, resolve_sweep(root, sweep))
    return list(dict.fromkeys(paths))


def print_comparison(compared, by_run: bool = False) -> None:
    """What differs (or that nothing does), whether the figures are comparable, then how each did;
    runs that differ only in their seed as one group each (:func:`print_groups`) unless ``by_run``."""
    if compared.seeded and not by_run:
        print_groups(compared)
        return
    from genlab.run.compare import described, fmt
    from genlab.run.sinks import fmt_duration

    summaries = compared.runs
    names = [compared.labels[s.run_id].name if s.run_id in compared.labels else s.run_id for s in summaries]
    named = any(name != s.run_id for name, s in zip(names, summaries))  # (a sweep's trials: #3)
    if compared.differs:
        rows = [[s.run_id, *([name] if named else []), *(fmt(described(s.config).get(k)) for k in compared.differs)]
                for s, name in zip(summaries, names)]
        print_runs_table("what differs", ["run", *(["shown as"] if named else []), *compared.differs], rows)
    elif len(summaries) > 1:
        out.print("the runs' configurations are the same")
    for warning in compared.warnings or ([compared.not_comparable] if compared.not_comparable else []):
        out.print(Text(f"⚠ {warning}", style="bold red"), soft_wrap=True)
    quality_keys = list(dict.fromkeys(k for s in summaries for k in s.quality))
    loads = any(s.load is not None for s in summaries)  # (runs recorded before the load was: no column)
    columns = ["#", "run", "state", "step", "time", "img/s", *(["load"] if loads else []), "quality", "key metric",
               "best (step)", *quality_keys]
    rows = [[str(s.rank or "-"), s.run_id, s.state, f"{s.step:,}/{s.total:,}",
             fmt_duration(s.wall_s) if s.wall_s else "-", f"{s.images_per_s:,.0f}" if s.images_per_s else "-",
             *([s.load_text()] if loads else []), s.figure_text(), s.key_text(),
             f"{s.formatted(s.key, s.key_best)} ({s.key_best_step:,})" if s.key_best is not None else "-",
             *(s.formatted(k, s.quality.get(k)) for k in quality_keys)] for s in summaries]
    title = "how each did, best first" + (" (not comparable)" if compared.warnings or compared.not_comparable else "")
    print_runs_table(title, columns, rows, key=1)


def print_groups(compared) -> None:
    """A comparison whose runs differ only in their seed in places (genlab/run/seed_groups.py):
    what differs between the groups, then each group, best first by the mean of its quality
    figure, with the spread of every figure over its seeds."""
    from genlab.run.compare import described, fmt
    from genlab.run.seed_groups import INCIDENTAL

    groups = compared.groups
    keys = [k for k in compared.differs if k not in INCIDENTAL]
    rows = [[g.label.name, fmt(g.n), ",".join(map(fmt, g.seeds)),
             *(fmt(described(g.runs[0].config).get(k)) for k in keys), " ".join(r.run_id for r in g.runs)]
            for g in groups]
    print_runs_table("runs that differ only in their seed are one group", ["group", "n seeds", "seeds", *keys, "runs"],
                     rows)
    for warning in compared.warnings or ([compared.not_comparable] if compared.not_comparable else []):
        out.print(Text(f"⚠ {warning}", style="bold red"), soft_wrap=True)
    quality_keys = list(dict.fromkeys(k for g in groups for k in g.quality))
    columns = ["#", "group", "n", "state", "step", "img/s", "quality (mean ± std (min–max))", "key metric",
               *quality_keys]
    rows = []
    for place, g in enumerate(groups, start=1):
        first = g.runs[0]
        states = {}
        for r in g.runs:
            states[r.state] = states.get(r.state, 0) + 1
        steps = sorted(r.step for r in g.runs)
        rows.append([
            str(place) if g.figure is not None else "-", g.label.name, str(g.n),
            next(iter(states)) if len(states) == 1 else ", ".join(f"{n} {s}" for s, n in states.items()),
            (f"{steps[0]:,}" if steps[0] == steps[-1] else f"{steps[0]:,}–{steps[-1]:,}") + f"/{first.total:,}",
            g.images_per_s.text(lambda v: f"{v:,.0f}") if g.images_per_s else "-",
            f"{first.figure} {g.figure.text(lambda v: first.formatted(first.figure, v))}" if g.figure else first.figure_text(),
            f"{first.key} {g.key.text(lambda v: first.formatted(first.key, v))}" if g.key else "-",
            *(g.quality[k].text(lambda v, k=k: first.formatted(k, v)) if k in g.quality else "-" for k in quality_keys)])
    title = "how each group did, best first" + (" (not comparable)" if compared.warnings or compared.not_comparable else "")
    print_runs_table(title, columns, rows, key=1)


def print_band_plot(groups, metric: str, x: str) -> None:
    """Each group's curves of ``metric``: their mean line inside a min–max band (two dim lines;
    genlab/run/seed_groups.py), drawn by plotext as text."""
    from genlab.render.plots import curves
    from genlab.run.compare import curve
    from genlab.run.seed_groups import band

    width, height = (out.width, max(15, min(out.height - 4, 30))) if out.is_terminal else (100, 25)
    lines, bands = [], []
    for g in groups:
        b = band([curve(r.path, metric, x) for r in g.runs])
        lines.append((g.label.text, b.x, b.mean))
        bands.append((b.x, b.low, b.high) if g.n > 1 else None)
    print(curves(lines, f"{metric} against {'step' if x == 'step' else 'minutes'} (mean of the seeds, min–max band)",
                 "step" if x == "step" else "minutes", width, height,
                 colour=out.is_terminal and "NO_COLOR" not in os.environ, bands=bands))


def print_runs_table(title: str, columns: list[str], rows: list[list[str]], key: int = 0) -> None:
    """A table of runs, a row a run; turned on its side (a column a run, headed by ``rows[i][key]``)
    when a terminal is too narrow for it, as it mostly is at 80 columns; whole, however wide, when
    piped."""
    def table(columns, rows) -> Table:
        made = Table(title=title, title_justify="left")
        for i, col in enumerate(columns):
            made.add_column(col, no_wrap=True, justify="left" if i == 0 or not rows or not any(
                ch.isdigit() for ch in str(rows[0][i])[:1]) else "right")
        for row in rows:
            made.add_row(*row)
        return made

    made = table(columns, rows)
    natural = out.measure(made, options=out.options.update(width=100_000)).maximum
    if not out.is_terminal:  # a pipe or a file: whole values, however wide
        Console(file=out.file, width=natural, highlight=False, no_color=True).print(made, soft_wrap=False)
        return
    if natural > out.width:
        sideways = [[col, *(row[i] for row in rows)] for i, col in enumerate(columns) if i != key]
        made = table(["", *(row[key] for row in rows)], sideways)
    out.print(made, soft_wrap=False)


def print_plot(summaries, metric: str, x: str) -> None:
    """The runs' curves of ``metric`` overlaid, drawn by plotext as text (genlab/render/plots.py)."""
    from genlab.render.plots import curves
    from genlab.run.compare import curve, drawn_from

    width, height = (out.width, max(15, min(out.height - 4, 30))) if out.is_terminal else (100, 25)
    starts = drawn_from([s.path for s in summaries], [s.config for s in summaries])  # (a fork: off its parent's line)
    lines = [(s.label or s.run_id, *curve(s.path, metric, x, since=start))  # as the cockpit names them
             for s, start in zip(summaries, starts)]
    print(curves(lines, f"{metric} against {'step' if x == 'step' else 'minutes'}", "step" if x == "step" else "minutes",
                 width, height, colour=out.is_terminal and "NO_COLOR" not in os.environ))


# --------------------------------------------------------------------------- sample
