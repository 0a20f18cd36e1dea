"""``genlab report``: runs (and a sweep) written up as a document a person can attach or publish.

Three forms, chosen by the path given:

- ``FILE.html`` (or ``.htm``): one page with every picture inside it (``data:`` URIs), its own
  small stylesheet, no script: the file to attach to a message or an issue;
- ``FILE.md`` (or ``.markdown``): Markdown, its pictures as PNGs in ``FILE_files/`` beside it
  (a pull request, a wiki, a write-up);
- ``DIR`` (a path with no extension): ``DIR/index.html`` and its pictures as PNGs beside it,
  linked (a folder to publish, or to take single figures from).

What a report says is genlab/report/collect.py (plain data) laid out by document.py; figures.py
draws its pictures (matplotlib, an optional extra), html.py and markdown.py write it. Everything is
checked, read and drawn before anything is written; a file is written as every genlab file is
(genlab.run.files.atomic_write_bytes), and a folder is filled under a temporary name and renamed
into place (an older report's folder is replaced only if it holds nothing but what a report
writes), so a failed or interrupted report leaves the older one or nothing, never half of one.
No torch.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from genlab.errors import UsageError

FORMS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", "": "dir"}
INDEX = "index.html"


@dataclass
class Written:
    form: str  # "html", "markdown" or "dir"
    path: Path  # the file (or the directory) written
    pictures: int  # PNG figures and sample grids in it
    live: list  # ids of the runs still training, reported as they were


def form_of(out: Path) -> str:
    """The form ``out`` asks for (module docstring), or UsageError for another extension."""
    form = FORMS.get(out.suffix.lower())
    if form is None:
        raise UsageError(f"--out {out}: unknown extension {out.suffix!r}; give FILE.html, FILE.md or a directory")
    return form


def folder_of(out: Path) -> Path:
    """Where a Markdown report's pictures go: ``report.md`` -> ``report_files``."""
    return out.with_name(f"{out.stem}_files")


def check_out(out: Path) -> str:
    """UsageError unless a report can be written at ``out``: its directory exists and is not a
    link, and whatever is there already (the file, the folder of pictures) is what a report
    writes, never a link. Returns the form."""
    form = form_of(out)
    parent = out.parent
    try:
        st = parent.lstat()
    except FileNotFoundError:
        raise UsageError(f"--out {out}: there is no directory {parent}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"--out {out}: {parent} is a symbolic link: genlab report does not write through links")
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"--out {out}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--out {out}: cannot write in {parent}")
    if form == "dir":
        check_folder(out, out)
    else:
        check_file(out)
        if form == "markdown":
            check_folder(folder_of(out), out)
    return form


def check_file(path: Path) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"--out {path} is a symbolic link: genlab report does not write through links")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"--out {path} exists and is not a regular file: genlab report only replaces regular files")


def check_folder(folder: Path, out: Path) -> None:
    """A folder a report may fill: missing, or a real directory of nothing but a report's files."""
    try:
        st = folder.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"--out {out}: {folder} is a symbolic link: genlab report does not write through links")
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"--out {out}: {folder} exists and is not a directory")
    others = [p.name for p in folder.iterdir() if not (p.name == INDEX or p.suffix == ".png") or not p.is_file()
              or p.is_symlink()]
    if others:
        raise UsageError(f"--out {out}: {folder} holds files a report does not write ({', '.join(sorted(others)[:3])}): "
                         "genlab report replaces only an earlier report's folder")


def write(run_dirs: list[Path], out: Path, *, sweep_dir: Path | None = None, root: Path | None = None,
          known=None, lesson=None, now: float | None = None) -> Written:
    """The report of ``run_dirs`` (and of the sweep ``sweep_dir`` of the runs directory ``root``)
    written at ``out``, in the form its name asks for (module docstring). UsageError before
    anything is written: no runs, a bad destination, matplotlib missing. ``lesson``: what a
    recipe's sweep taught, in words, from its trials' summaries (genlab.sweep.plan.lesson_of)."""
    from genlab.report import figures

    if not run_dirs:
        raise UsageError("no runs to report: name them, or give --tag or --sweep")
    form = check_out(out)
    figures.require()
    from genlab.report import html, markdown
    from genlab.report.collect import collect
    from genlab.report.document import layout

    report = collect(run_dirs, sweep_dir, root, known, lesson, now)
    blocks, pictures = layout(report)
    if form == "html":
        from genlab.run.files import atomic_write_bytes

        atomic_write_bytes(out, html.page(report.title, blocks, pictures))
    elif form == "dir":
        replace_folder(out, {**pictures, INDEX: html.page(report.title, blocks, pictures, embed=False)})
    else:
        from genlab.run.files import atomic_write_bytes

        folder = folder_of(out)
        replace_folder(folder, pictures)
        atomic_write_bytes(out, markdown.document(blocks, folder.name))
    return Written(form, out, len(pictures), [p.run_id for p in report.runs if p.live])


def replace_folder(folder: Path, files: dict[str, bytes]) -> None:
    """``folder`` holding exactly ``files``: filled under a temporary name, then renamed into
    place; an earlier one moved aside first and removed after (a reader finds the old folder or
    the new, never one half written)."""
    from genlab.run.files import fsync_dir, temp_dir, temp_name

    tmp = temp_dir(folder.parent, folder.name, mode=0o755)
    try:
        for name, data in files.items():
            fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        old = None
        if os.path.lexists(folder):
            old = folder.with_name(temp_name(folder.name))
            os.rename(folder, old)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(folder.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
