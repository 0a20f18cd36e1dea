"""``genlab report``: runs written up as HTML (opened in headless Chromium), Markdown with its PNGs,
or a folder; a live run marked; a sweep's importance and history; bad input in one line.

Scripted runs (tests/scripted.py), no training. Chromium is the system's (``chromium``, or the
path in GENLAB_TEST_CHROMIUM); .ci/run installs it. Without it the browser test fails and says
how to get it, as tests/test_sweep_pg.py does for PostgreSQL: it is never skipped silently.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from scripted import HISTORIES, make_run

from genlab.cli.main import main as cli_main
from genlab.sweep.spec import SweepSpec

# (in the report's HTML, once loaded: every picture and whether it decoded, and its tables)
CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const said = {images: images.length, decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
                tables: document.querySelectorAll("table").length,
                headers: [...document.querySelectorAll("th")].map(th => th.textContent)};
  const pre = document.createElement("pre");
  pre.id = "genlab-check";
  pre.textContent = JSON.stringify(said);
  document.body.appendChild(pre);
});
</script>"""


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """`genlab ARGS` in this process (its real entry point): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def chromium() -> str:
    found = os.environ.get("GENLAB_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("this test opens the report in headless Chromium, which is not installed: apt-get install "
                    "chromium (or give its path: GENLAB_TEST_CHROMIUM=/path/to/chromium)", pytrace=False)
    return found


def opened_in_chromium(html: Path, tmp_path: Path) -> dict:
    """What the report's page says once Chromium has loaded it (CHECK's figures)."""
    page = tmp_path / "checked.html"
    page.write_text(html.read_text().replace("</body>", CHECK + "</body>"))
    p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=10000",
                        "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="genlab-check">(.*?)</pre>', p.stdout, re.S)
    assert found, f"Chromium did not load the page (exit {p.returncode}): {p.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A finished GAN, a live VAE (its heartbeat an hour ahead), a GAN whose digits collapsed
    (a health verdict), and a sweep of two finished trials."""
    from genlab.sweep import study as studies
    from genlab.sweep.spec import create_sweep

    root = tmp_path_factory.mktemp("report") / "runs"
    make_run(root, "gan-a", "gan", steps=1500, state="finished")
    make_run(root, "vae-b", "vae", steps=900, state="running", heartbeat=time.time() + 3600)
    model, steps, metrics, checks, every = HISTORIES["mode-collapse"]
    hist = [0.6, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.0, 0.05]  # (its newest check's class histogram)
    make_run(root, "mode-collapse", model, steps=steps, total=steps, state="finished", metrics=metrics,
             evals=lambda step: {**checks(step), "class_hist": hist}, eval_every=every)
    spec = SweepSpec(sweep_id="sw", model="gan", grid={"lr": [1e-4, 2e-4]}, trials=2, objective="test_fld",
                     created=time.time())
    sweep_dir = create_sweep(root, spec)
    study = studies.load(sweep_dir, spec, for_search=False)
    for number, fld in enumerate((40.0, 55.0)):
        trial = study.ask()
        trial.set_user_attr("run_id", f"sw-{number:03d}")
        run = make_run(root, f"sw-{number:03d}", "gan", steps=600, state="finished")
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, "sweep": "sw", "lr": [1e-4, 2e-4][number]}))
        study.tell(trial, fld)
    studies.snapshot(sweep_dir, study)
    return root


def test_html_report_is_one_file_whose_pictures_and_tables_chromium_shows(root, tmp_path, capsys):
    out = tmp_path / "report.html"
    code, said, err = run_cli(capsys, "report", "gan-a", "vae-b", "mode-collapse", "--out", out, "--runs-dir", root)
    assert code == 0, err
    assert "vae-b live" in said and str(out) in said
    html = out.read_text()
    # one file to attach: every picture inside it, nothing fetched, no script
    assert "<script" not in html and "<link" not in html and not re.search(r'src="(?!data:image/png;base64,)', html)
    assert "LIVE: vae-b is running" in html  # the live run, marked
    for words in ("gan (gan)", "host scripted-host", "data-dir (/data/mnist)", "Comparison", "mode collapse since step",
                  "generated digits, each judged by genlab's digit classifier", "G and D losses",
                  "Class histogram"):
        assert words in html, words
    seen = opened_in_chromium(out, tmp_path)
    assert seen["images"] >= 8 and seen["decoded"] == seen["images"], seen
    assert seen["tables"] >= 5 and {"what differs", "quality", "key metric", "test_fld"} <= set(seen["headers"]), seen
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(("checked", "chromium"))) == ["report.html"]


def test_markdown_report_writes_each_picture_as_a_png_beside_it(root, tmp_path, capsys):
    out = tmp_path / "report.md"
    for _ in range(2):  # the second replaces the first: its folder too, whole
        code, said, err = run_cli(capsys, "report", "gan-a", "mode-collapse", "--out", out, "--runs-dir", root)
        assert code == 0, err
    text = out.read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    folder = tmp_path / "report_files"
    assert linked and all(link.startswith("report_files/") for link in linked)
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(link).name for link in linked)
    for link in linked:
        with Image.open(tmp_path / link) as im:
            im.verify()
        with Image.open(tmp_path / link) as im:
            assert im.format == "PNG" and im.size[0] > 0 and im.size[1] > 0
    assert "| what differs |" in text and "## Comparison" in text and "### Health" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "report_files"]  # no temporary left


def test_directory_report_and_a_sweep_with_its_importance_and_history(root, tmp_path, capsys):
    out = tmp_path / "sweep-report"
    for _ in range(2):  # the second replaces the first's folder whole
        code, said, err = run_cli(capsys, "report", "--sweep", "sw", "--out", out, "--runs-dir", root)
        assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["sweep-report"]  # no temporary folder left
    index = (out / "index.html").read_text()
    assert "Sweep sw" in index and "Importance" in index and 'src="sweep-history.png"' in index
    linked = re.findall(r'<img src="([^"]+)"', index)
    assert sorted(linked) == sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert "#0" in index and "lr=0.0001" in index  # trials by their number, with what differs


def test_figures_keep_each_runs_colour_and_name_their_axes(root):
    """The cockpit's colour of each run (genlab/run/labels.py) on its curves; axes named with units."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401 (the figures' canvas)

    from genlab.report import figures
    from genlab.report.collect import collect
    from genlab.run.labels import PALETTE

    report = collect([root / "gan-a", root / "vae-b"])
    assert [p.colour for p in report.runs] == [PALETTE[0], PALETTE[1]]
    losses = next(p for p in report.panes if p.title == "G and D losses")
    png = figures.curves(losses, report.runs)
    axes = figures.curves_figure(losses, report.runs).axes[0]
    assert axes.get_xlabel() == "training step" and axes.get_ylabel() == "d_loss, g_loss (nats)"
    with Image.open(__import__("io").BytesIO(png)) as im:
        colours = {c for _, c in im.convert("RGB").getcolors(1 << 20)}
    assert PALETTE[0] in colours and PALETTE[1] not in colours  # (vae-b has no GAN losses)
    assert report.runs[1].live and not report.runs[0].live


@pytest.mark.parametrize("args, message", [
    (["gan-a", "--out", "{tmp}/none/r.html"], "none/r.html: there is no directory"),
    (["gan-a", "--out", "{tmp}/linkdir/r.html"], "linkdir is a symbolic link"),
    (["gan-a", "--out", "{tmp}/link.html"], "link.html is a symbolic link"),
    (["gan-a", "--out", "{tmp}/r.pdf"], "unknown extension '.pdf'"),
    (["--tag", "nothing-has-it", "--out", "{tmp}/r.html"], "no runs to report"),
    (["gan-a", "--out", "{tmp}/other"], "holds files a report does not write"),
    (["gan-a", "--out", "{tmp}/afile.md"], "afile_files is a symbolic link"),
    (["gan-a"], "Missing option '--out'"),
])
def test_bad_report_input_is_one_line_and_writes_nothing(root, tmp_path, capsys, args, message):
    (tmp_path / "real").mkdir()
    (tmp_path / "linkdir").symlink_to(tmp_path / "real")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "link.html").symlink_to(tmp_path / "afile")
    (tmp_path / "afile_files").symlink_to(tmp_path / "real")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    code, _, err = run_cli(capsys, "report", *(a.format(tmp=tmp_path) for a in args), "--runs-dir", root)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "afile").read_text() == "x" and not any((tmp_path / "real").iterdir())


def test_without_matplotlib_report_says_how_to_get_it_and_genlab_still_imports(root, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # (an import of it raises ImportError)
    code, _, err = run_cli(capsys, "report", "gan-a", "--out", tmp_path / "r.html", "--runs-dir", root)
    assert code == 2 and "pip install 'genlab[report]'" in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())
    p = subprocess.run([sys.executable, "-c", "import sys; sys.modules['matplotlib'] = None\n"
                        "import genlab, genlab.report, genlab.cli.main"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert p.returncode == 0, p.stderr
