"""A VAE's latent map, walks between latent points, and their bad input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from conftest import built_once
from PIL import Image
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.eval import latent as lat
from genlab.render.latent import TAB10

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_slerp_starts_and_ends_at_its_two_points_and_keeps_to_the_sphere():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 100, generator=g)
    b = b / b.norm() * a.norm()
    path = lat.slerp(a, b, torch.linspace(0, 1, 9))
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    assert torch.allclose(path.norm(dim=1), a.norm().expand(9), rtol=1e-4)  # never through the middle
    straight = lat.lerp(a, b, torch.linspace(0, 1, 9))
    assert float(straight[4].norm()) < 0.9 * float(a.norm())  # the straight line is: White 2016's point


def test_the_map_separates_what_is_separate_and_not_what_is_not():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(2000) % 10
    centres = torch.stack([torch.tensor([np.cos(d), np.sin(d)]) * 10 for d in range(10)]).float()
    apart = centres[labels] + 0.1 * torch.randn(2000, 2, generator=g)
    assert lat.knn_accuracy(apart, labels) == 1.0
    assert lat.knn_accuracy(torch.randn(2000, 2, generator=g), labels) < 0.2
    flat = torch.cat([apart, 1e-3 * torch.randn(2000, 18, generator=g)], 1)  # 20-d, all in 2 of them
    m = lat.project(flat)
    assert m.dims == 20 and "principal components (100% of the variance)" in m.how
    assert lat.knn_accuracy(m.points, labels) == 1.0


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    def build(root):
        for model in ("vae", "gan", "pixelcnn"):
            extra = ["--hp", "channels=8", "--hp", "layers=1"] if model == "pixelcnn" else []
            # (the end's evaluation on 500 held-out digits: these tests read the weights, not its figures)
            r = invoke("train", model, "--max-steps", "40", "--name", model, "--eval-size", "500", *extra, "--runs-dir", root)
            assert r.exit_code == 0, r.output

    return built_once(tmp_path_factory, "latent-runs", build)


def test_latent_map_of_a_vae(trained_runs, tmp_path):
    png = tmp_path / "map.png"
    r = invoke("latent", "vae", "-n", "600", "--json", "--out", png, "--runs-dir", trained_runs)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["dims"] == 20 and "principal components" in data["how"] and 0 <= data["knn_accuracy"] <= 1
    points = np.array(data["points"])
    assert points.shape == (600, 3) and set(points[:, 2].astype(int)) == set(range(10))
    colours = {"#%02x%02x%02x" % px for _, px in Image.open(io.BytesIO(png.read_bytes())).convert("RGB").getcolors(10**6)}
    assert set(TAB10) <= colours  # a colour a digit, each drawn (dots and legend)
    text = invoke("latent", "vae", "-n", "600", "--runs-dir", trained_runs)
    assert text.exit_code == 0 and "5-NN accuracy on the map" in text.output
    assert sum(ch.isdigit() for ch in text.output) > 300 and "\x1b[" not in text.output  # digits as markers, no colour


def test_walks_between_latent_points(trained_runs, tmp_path):
    out = tmp_path / "walk.npy"
    r = invoke("sample", "gan", "--interpolate", "--rows", "3", "--steps", "6", "--out", out, "--runs-dir", trained_runs)
    assert r.exit_code == 0, r.output
    images = np.load(out)
    assert images.shape == (18, 28, 28) and images.dtype == np.uint8
    r = invoke("sample", "vae", "--interpolate", "--between", "3", "2", "--steps", "5", "--out", out, "--runs-dir", trained_runs)
    assert r.exit_code == 0, r.output
    walk = np.load(out)
    assert walk.shape == (5, 28, 28) and not np.array_equal(walk[0], walk[-1])
    # a walk's ends are its two latents: the first digit of each row is the first point drawn
    from genlab import models
    model = models.build("gan")
    z = lat.walks(model, 2, 4, torch.Generator().manual_seed(5))
    first = model.latent(2, torch.Generator().manual_seed(5))
    assert torch.allclose(z[0], first[0]) and torch.allclose(z[3], first[1], atol=1e-5)


def test_the_cockpit_draws_walks_through_a_genlab_process(trained_runs):
    """The cockpit holds no model: its walks come from `genlab sample --interpolate`, with the
    checkpoint's step; a model without a latent gives genlab's one-line error."""
    from tui.source import RunsSource

    source = RunsSource(trained_runs)
    images, step = source.walks("gan", 2, 5, seed=3)
    assert images.shape == (10, 28, 28) and images.dtype == np.uint8 and step == 40
    again, _ = source.walks("gan", 2, 5, seed=3)
    assert np.array_equal(images, again)  # the seed decides
    with pytest.raises(RuntimeError, match="no latent space to walk"):
        source.walks("pixelcnn", 2, 5)


@pytest.mark.parametrize("args, message", [
    (["latent", "gan"], "run gan is a gan: a latent map needs a VAE"),
    (["sample", "pixelcnn", "--interpolate"], "it has no latent space to walk"),
    (["sample", "gan", "--interpolate", "--between", "1", "2"], "--between (walking between encoded digits) needs a VAE"),
    (["sample", "vae", "--between", "1", "2"], "--between is for --interpolate"),
    (["sample", "vae", "--interpolate", "--steps", "1"], "--steps at least 2"),
    (["sample", "vae", "--interpolate", "--between", "0", "99999"], "--between takes test digits 0 to"),
    (["latent", "vae", "--out", "map.jpg"], "--out must end in .png"),
])
def test_bad_latent_input_is_one_line(trained_runs, args, message):
    r = invoke(*args, "--runs-dir", trained_runs)
    assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, (args, r.output)


def test_sample_answers_json_with_what_it_saved(trained_runs, tmp_path):
    """`genlab sample --out FILE --json` (and --interpolate): one JSON object, the path, the run,
    the checkpoint's step and the images' shape, for the cockpit and scripts; --json without
    --out is refused in one line."""
    out = tmp_path / "walk.npy"
    r = invoke("sample", "gan", "--interpolate", "--rows", "2", "--steps", "4", "--seed", "1", "--out", out, "--json",
               "--runs-dir", trained_runs)
    assert r.exit_code == 0, r.output
    saved = json.loads(r.output)
    assert saved["path"] == str(out) and saved["run"] == "gan" and saved["step"] == 40 and saved["seed"] == 1
    assert saved["shape"] == [8, 28, 28] == list(np.load(out).shape) and "2 spherical walks of 4" in saved["what"]
    png = tmp_path / "d.png"
    r = invoke("sample", "vae", "-n", "3", "--out", png, "--json", "--runs-dir", trained_runs)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {**json.loads(r.output), "path": str(png), "run": "vae", "step": 40,
                                    "shape": [3, 28, 28], "what": "3 digits"} and png.exists()
    r = invoke("sample", "vae", "--json", "--runs-dir", trained_runs)
    assert r.exit_code == 2 and "give --out FILE" in r.output and r.output.strip().count("\n") == 0


def test_the_cockpit_reads_what_genlab_answers_not_its_prose(tmp_path):
    """The cockpit asks `genlab train --detach`, `genlab sample --interpolate` and `genlab resume
    --detach` for --json and takes the run id and the step from that, whatever prose stands around."""
    import subprocess

    from tui.source import RunsSource

    asked = []

    class Answering(RunsSource):
        def genlab(self, *args, timeout=300):
            asked.append(args)
            if args[0] == "train":
                said = {"run": "r-7", "run_dir": str(self.root / "r-7"), "state": "running", "step": 0}
            elif args[0] == "resume":
                said = {"run": "r-7", "run_dir": str(self.root / "r-7"), "state": "running", "step": 4321,
                        "in_place": True}
            else:
                np.save(args[args.index("--out") + 1], np.zeros((6, 28, 28), np.uint8))
                said = {"path": args[args.index("--out") + 1], "run": "r-7", "step": 1234, "shape": [6, 28, 28]}
            return subprocess.CompletedProcess(args, 0, json.dumps(said), "")

    source = Answering(tmp_path)
    assert source.launch("vae", ["--max-steps", "10"]) == "r-7"
    images, step = source.walks("r-7", 2, 3)
    assert step == 1234 and images.shape == (6, 28, 28)
    assert source.resume("r-7") == "run r-7 running from step 4,321"
    assert all("--json" in args for args in asked) and len(asked) == 3


def test_the_cockpit_says_what_a_failed_genlab_said(tmp_path):
    import subprocess

    from tui.source import RunsSource

    class Refusing(RunsSource):
        def genlab(self, *args, timeout=300):
            return subprocess.CompletedProcess(args, 2, "", "genlab: error: unknown model 'gna' (see ...)\n")

    with pytest.raises(RuntimeError, match="unknown model 'gna'"):
        Refusing(tmp_path).launch("gna", [])
