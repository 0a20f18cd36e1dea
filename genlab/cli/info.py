"""genlab bench, models and data."""

import json
from typing import Annotated, Optional

import typer

from genlab.cli.app import AsJson, DataDir, Device, app, out


@app.command()
def bench(
    model: Annotated[str, typer.Argument(help="Model to time.")],
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Batch size (default: the model's).")] = None,
    steps: Annotated[int, typer.Option(help="Timed steps (after 10 warm-up steps).")] = 100,
    device: Device = "auto",
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the networks; eager if it fails.")] = False,
    amp: Annotated[str, typer.Option(help="Mixed precision: off or bf16.")] = "off",
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Training throughput of MODEL in images per second."""
    from genlab.train.bench import throughput

    result = throughput(model, batch_size, steps, device, data_dir, compile=compile, amp=amp)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        out.print(f"{result['model']}: {result['images_per_s']:,.0f} images/s (batch {result['batch_size']}, "
                  f"{result['steps']} steps in {result['seconds']:.2f}s on {result['device']}, {result['threads']} threads)")


@app.command(name="models")
def list_models(as_json: AsJson = False) -> None:
    """Every model with its family, parameter count per network and defaults (--json: and its view)."""
    from genlab.models.catalogue import SPECS  # what each model declares: nothing is built, no torch

    rows = [{"name": name, "family": s.family, "parameters": s.parameters, "defaults": s.defaults,
             "presets": s.presets, "description": s.description, "knobs": s.knobs, "view": s.view.to_json()}
            for name, s in SPECS.items()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    def pairs(d: dict) -> str:
        return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())

    # a block per model rather than a table: six columns do not fit 80 of them
    for r in rows:
        out.print(f"[bold]{r['name']}[/] ({r['family']}): {r['description']}")
        out.print("  parameters: " + ", ".join(f"{k} {v:,}" for k, v in r["parameters"].items()))
        out.print(f"  defaults:   {pairs(r['defaults'])}")
        for p, v in r["presets"].items():
            out.print(f"  --preset {p}: {pairs(v)}")
        for k, means in r["knobs"].items():  # the hyperparameters that make or cure a failure
            out.print(f"  --hp {k}: {means}", markup=False)


@app.command()
def data(data_dir: DataDir = None, as_json: AsJson = False,
         download: Annotated[bool, typer.Option(help="Try a download when nothing is found.")] = False) -> None:
    """Where the digits come from, how many, and whether the files check out."""
    from genlab.core.data import check_files

    report = check_files(data_dir, download=download)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        out.print(f"source: {report['source']} ({report['location']})")
        if report.get("notice"):
            out.print(report["notice"])
        for f in report["files"]:
            if f["ok"]:
                out.print(f"  [green]ok[/]   {f['file']}: {f['count']:,} items, {f['bytes']:,} bytes; {f['known']}")
            else:
                out.print(f"  bad  {f['error']}", markup=False)
        if report["ok"]:
            out.print(f"{report['train']:,} training digits, {report['test']:,} held-out digits")
    if not report["ok"]:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- evaluation
