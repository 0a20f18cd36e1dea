"""Views the models declare: a new model's metrics reach every screen with no change in tui/."""

from __future__ import annotations

import json

import torch
from scripted import make_run
from test_tui import until
from torch import nn
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app as cli
from genlab.models import catalogue
from genlab.models.base import GenModel, adam
from genlab.models.specs import ModelSpec
from genlab.train.execute import create, execute, prepare
from genlab.view import Metric, Pane, View
from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.source import RunsSource
from tui.widgets.curves import CurvesPlot
from tui.widgets.runs_table import RunsTable

# A new model as genlab/models/specs says one is added: its declaration, and a class that reads it
SPARKLER = ModelSpec(
    name="sparkler", family="toy", description="a toy whose one metric is its sparkle",
    implementation="test_views:Sparkler", defaults={"batch_size": 16, "lr": 1e-2}, parameters={"net": 785},
    view=View(metrics=(Metric("sparkle", "how much it sparkles", "", False),
                       Metric("test_sparkle", "sparkle on held-out digits", "", False)),
              panes=(Pane("sparkle of the toy", ("sparkle",), ("test_sparkle",)),), key="sparkle"),
    sample_count=4)


class Sparkler(GenModel):
    """A toy model with a metric no other model has."""

    spec = SPARKLER

    def __init__(self, hp, device):
        super().__init__(hp, device)
        self.net = nn.Linear(784, 1).to(self.device)
        self.networks = {"net": self.net}
        self.optimizers = {"net": adam(self.net.parameters(), self.hp["lr"])}

    def step(self, images, labels):
        loss = self.net(images.reshape(len(images), 784).float() / 255).pow(2).mean()
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        return {"sparkle": loss.detach()}

    def latent(self, n, generator):
        return torch.zeros(n)

    def decode(self, latent, interrupt=None):
        return torch.full((len(latent), 28, 28), 128, dtype=torch.uint8)

    def evaluate(self, images, labels, interrupt=None):
        return {"test_sparkle": 0.5}


async def test_a_new_models_metric_is_drawn_with_no_change_in_the_cockpit(runs, monkeypatch):
    monkeypatch.setitem(catalogue.SPECS, "sparkler", SPARKLER)
    monkeypatch.setitem(models.MODELS, "sparkler", Sparkler)
    run_dir = create(prepare("sparkler", runs_dir=runs, name="toy", max_steps=30, eval_size=50))
    assert execute(run_dir) == "finished"
    assert json.loads((run_dir / "view.json").read_text())["key"] == "sparkle"
    monkeypatch.delitem(models.MODELS, "sparkler")  # the screens need only the run directory

    r = CliRunner().invoke(cli, ["runs", "--runs-dir", str(runs)])
    assert r.exit_code == 0 and "sparkle " in r.output, r.output

    app = GenlabApp(RunsSource(runs), open_run="toy", load_models=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        plots = list(app.screen.query(CurvesPlot))
        assert [p.title_text for p in plots] == ["sparkle of the toy"]
        await until(pilot, lambda: plots[0].snapshot is not None and "sparkle" in (plots[0].snapshot.curves or {}))
        await until(pilot, lambda: "waiting for data" not in str(plots[0].render()))  # drawn at its own pace
        assert "sparkle" in str(plots[0].render())  # the curve's label


async def test_runs_and_the_cockpit_agree_on_the_key_metric(tmp_path):
    """One declaration decides: a PixelCNN's key metric is bits per dimension everywhere."""
    root = tmp_path / "runs"
    make_run(root, "p", "pixelcnn", steps=100)
    r = CliRunner().invoke(cli, ["runs", "--runs-dir", str(root)])
    assert r.exit_code == 0 and "bpd " in r.output and "nll " not in r.output, r.output
    app = GenlabApp(RunsSource(root), load_models=False)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: app.screen.query(RunsTable) and app.screen.query_one(RunsTable).row_count)
        table = app.screen.query_one(RunsTable)
        assert str(table.get_cell("p", "key metric")).startswith("bpd ")
