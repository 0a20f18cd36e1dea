"""genlab sample and latent: new digits and latent maps from a run's newest good checkpoint."""

import io
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from genlab.cli.app import Ascii, AsJson, DataDir, Device, Images, RunRef, RunsDir, app, out, warn_skipped
from genlab.errors import UsageError


def print_digits(images, ascii: bool = False, png: Path | None = None, classes: int = 0,
                 image_mode: str = "off") -> None:
    """Draw digits to fit the terminal: full size when they fit, else half size (half blocks only:
    ASCII digits need full size to be legible), else the first rows that fit, saying where the
    whole grid is (a grid of ``classes`` blocks shows digits across the blocks, every class).
    Not a terminal: 80 columns, at most 42 lines. ``image_mode`` (--images auto|on|off): the
    same digits as one image where the terminal draws images (genlab.render.images, tui.images); ASCII wins."""
    from genlab.render.digits import SIZES, across_classes, layout, render, should_use_ascii
    from genlab.render.images import image_protocol, picture_layout
    from tui.images import detected, picture

    use_ascii = ascii or should_use_ascii(stream=sys.stdout) or not out.is_terminal
    sizes = SIZES[:1] if use_ascii else SIZES
    width, height = (out.width, max(14, out.height - 8)) if out.is_terminal else (80, 42)
    protocol = None if use_ascii else image_protocol(image_mode, tty=out.is_terminal, detect=detected)
    if protocol:
        per_row, fits = picture_layout(len(images), width, height)
    else:
        size, per_row = layout(len(images), width, height, sizes)
        fits = per_row * max(1, height // (size // 2))
    if fits < len(images) and classes:
        images = across_classes(images, classes)
    if protocol:  # as large as fits in width x height cells, a cell twice as tall as wide
        rows = -(-fits // per_row)
        out.print(picture(images[:fits], per_row, protocol, width=min(width, 2 * height * per_row // rows)))
    else:
        grid = render(images[:fits], width=width, height=height, ascii=use_ascii, sizes=sizes)
        if use_ascii:
            print(grid)
        else:
            out.print(grid)
    if fits < len(images):
        out.print(f"({fits} of {len(images)} digits shown" + (f"; all of them: {png})" if png else ")"), soft_wrap=True)


@app.command()
def sample(
    run: RunRef,
    n: Annotated[int, typer.Option("-n", "--n", help="How many digits.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of the latent draw.")] = 0,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Save to FILE.png (a grid) or FILE.npy (uint8 N×28×28).")] = None,
    interpolate: Annotated[bool, typer.Option("--interpolate", help="Rows that walk between pairs of latent points (GANs, VAEs).")] = False,
    rows: Annotated[int, typer.Option(help="--interpolate: how many walks.")] = 4,
    steps: Annotated[int, typer.Option(help="--interpolate: digits a walk, its two ends included.")] = 8,
    linear: Annotated[bool, typer.Option("--linear", help="--interpolate along straight lines (default: spherical, for Gaussian latents).")] = False,
    between: Annotated[Optional[tuple[int, int]], typer.Option(help="--interpolate a VAE between test digits I and J (their encodings).")] = None,
    labels: Annotated[bool, typer.Option("--labels", help="Labelled digits from a conditional model, classes balanced: --out FILE.npz (images, labels).")] = False,
    device: Device = "cpu",
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    ascii: Ascii = False,
    image_mode: Images = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="With --out: print what was saved as JSON (path, run, step, shape, seed).")] = False,
) -> None:
    """New digits from a run's newest good checkpoint: printed as text, or saved as PNG or NPY;
    --interpolate walks between latent points instead."""
    import numpy as np
    import torch

    from genlab.core.device import resolve
    from genlab.models import trained
    from genlab.run.resolve import resolve_run
    from genlab.run.store import runs_root
    from genlab.validate import check_seed

    if n <= 0:
        raise UsageError(f"-n must be positive, got {n}")
    check_seed("--seed", seed)
    if labels and (out_file is None or out_file.suffix.lower() != ".npz"):
        raise UsageError("--labels writes images with their labels: give --out FILE.npz")
    if not labels and out_file is not None and out_file.suffix.lower() not in (".png", ".npy"):
        raise UsageError(f"--out must end in .png or .npy, got {out_file.name!r}")
    if interpolate and (rows < 1 or steps < 2):
        raise UsageError(f"--rows must be at least 1 and --steps at least 2, got {rows} and {steps}")
    if between is not None and not interpolate:
        raise UsageError("--between is for --interpolate")
    if as_json and out_file is None:
        raise UsageError("--json says what was saved: give --out FILE")
    run_dir = resolve_run(runs_root(runs_dir), run)
    t = trained.newest(run_dir, resolve(device), on_bad=warn_skipped)
    per_row = min(n, 10)
    if labels:
        from genlab.eval import cas
        cas.check_conditional(t.model, run_dir.name, "--labels")
        images, classes = cas.labelled(t.model, n, seed)
        buf = io.BytesIO()
        np.savez(buf, images=images.numpy(), labels=classes.numpy())
        save(out_file, buf.getvalue())
        if as_json:
            return print_saved(out_file, t, images, seed, f"{n} labelled digits")
        out.print(f"saved {n} labelled digits from {run_dir.name} (step {t.step:,}), {n // 10:,} or more of each, to {out_file}")
        return
    if interpolate:
        from genlab.eval.latent import walk

        images, what = walk(t, rows, steps, seed, linear, between, data_dir)
        n, per_row = len(images), steps
    else:
        images, what = t.model.sample(n, torch.Generator().manual_seed(seed)), f"{n} digits"
    if out_file is None:
        out.print(f"{what} from {run_dir.name} at step {t.step:,} (seed {seed}):", soft_wrap=True)
        print_digits(images, ascii, image_mode=image_mode)
        return
    buf = io.BytesIO()
    if out_file.suffix.lower() == ".npy":
        np.save(buf, images.numpy())
    else:
        from genlab.render.grid import grid_png

        buf.write(grid_png(images.numpy(), per_row=per_row))
    save(out_file, buf.getvalue())
    if as_json:
        return print_saved(out_file, t, images, seed, what)
    out.print(f"saved {n} digits from {run_dir.name} (step {t.step:,}) to {out_file}")


def save(path: Path, data: bytes) -> None:
    from genlab.run.files import atomic_write_bytes

    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None


def print_saved(path: Path, t, images, seed: int, what: str) -> None:
    """``genlab sample --out FILE --json``: what was saved, for scripts and the cockpit."""
    print(json.dumps({"path": str(path), "run": t.run_dir.name, "step": t.step, "checkpoint": str(t.checkpoint),
                      "shape": list(images.shape), "seed": seed, "what": what}))


@app.command()
def latent(
    run: RunRef,
    n: Annotated[int, typer.Option("-n", help="Held-out digits to place (default: all of them).")] = 0,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Save the map as FILE.png.")] = None,
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    as_json: AsJson = False,
) -> None:
    """A VAE's latent map: the held-out digits where its encoder puts them, one colour (and
    character) a digit, and how well the map separates them (k-NN accuracy on the 2-D points)."""
    from genlab.eval.latent import map_run
    from genlab.render.latent import latent_png, latent_text
    from genlab.run.resolve import resolve_run
    from genlab.run.store import runs_root

    if n < 0:
        raise UsageError(f"-n must be positive, got {n}")
    if out_file is not None and out_file.suffix.lower() != ".png":
        raise UsageError(f"--out must end in .png, got {out_file.name!r}")
    found = map_run(resolve_run(runs_root(runs_dir), run), n, data_dir, on_bad=warn_skipped)
    m, labels = found.map, found.labels
    if out_file is not None:
        save(out_file, latent_png(m.points, labels, f"{found.run} step {found.step:,}: {m.how}"))
    if as_json:
        print(json.dumps({**found.to_json(), "png": str(out_file) if out_file else None}))
        return
    width, height = (out.width, max(16, out.height - 6)) if out.is_terminal else (80, 30)
    out.print(f"{found.run} at step {found.step:,}: {len(labels):,} held-out digits in its {m.dims}-d latent, "
              f"drawn as {m.how}; 5-NN accuracy on the map {found.knn_accuracy:.1%}", soft_wrap=True)
    print(latent_text(m.points, labels, width, height, colour=out.is_terminal and not out.no_color))
    if out_file is not None:
        out.print(f"saved the map to {out_file}")


# --------------------------------------------------------------------------- bench, models, data
