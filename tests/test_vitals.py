"""The machine's vital signs: sampled on the CPU (GPU skipped cleanly without one), written by the
trainer as system events, shown by genlab show, the dashboard's status bar and the compare screen."""

from __future__ import annotations

import json
from types import SimpleNamespace

import psutil
import pytest
import torch
from scripted import T0, make_run
from test_compare_tui import mark_and_compare
from test_tui import ScriptedSource, until

from genlab.run.files import read_json
from genlab.run.sinks import JsonlSink
from genlab.run.store import read_events
from genlab.run.vitals import line
from genlab.train import cadence
from genlab.train.execute import create, execute, prepare
from genlab.train.vitals import Vitals
from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.widgets.curves import CurvesPlot
from tui.widgets.status_bar import StatusBar


def test_on_the_cpu_the_process_and_the_system_and_no_gpu():
    v = Vitals(torch.device("cpu"))
    # some work to count: until the kernel has counted this process some CPU time (it counts in clock
    # ticks, 10 ms here; a fixed amount of work was once counted as none on a busy machine)
    me = psutil.Process()
    start = sum(me.cpu_times()[:2])
    while sum(me.cpu_times()[:2]) - start < 0.05:
        sum(i * i for i in range(100_000))
    s = v.sample()
    assert set(s) - {"load", "steal"} == {"cpu_percent", "rss_mb", "mem_percent"}  # nothing GPU-related
    assert 0 < s["cpu_percent"] <= 100 * (__import__("os").cpu_count() or 1) + 5  # (threads keep their own affinity)
    assert 10 < s["rss_mb"] < 64_000 and 0 < s["mem_percent"] <= 100
    assert line(s).startswith("cpu ") and " MB" in line(s)


def test_a_cuda_device_without_a_gpu_gives_no_gpu_figures_and_no_error():
    v = Vitals(SimpleNamespace(type="cuda", index=0))  # asked for CUDA where NVML finds no driver
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the no-GPU path is the one under test")
    assert v.gpu is None and "gpu_util" not in v.sample()


def test_nvml_is_never_asked_for_a_cpu_run(monkeypatch):
    import pynvml

    def asked(*args):
        raise AssertionError("NVML asked on a CPU run")

    for name in ("nvmlInit", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetUtilizationRates"):
        monkeypatch.setattr(pynvml, name, asked)
    v = Vitals(torch.device("cpu"))
    assert v.gpu is None and "gpu_util" not in v.sample()


def test_the_trainer_writes_system_events_and_show_prints_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cadence, "VITALS_EVERY_S", 0.05)
    run_dir = create(prepare("vae", runs_dir=tmp_path, name="v", max_steps=80, hp={"hidden": 50, "latent": 5},
                             eval_size=200))
    assert execute(run_dir) == "finished"
    events, _ = read_events(run_dir / "events.jsonl")
    system = [e for e in events if e["kind"] == "system"]
    assert system and all(e["rss_mb"] > 10 and 0 <= e["cpu_percent"] and "gpu_util" not in e for e in system)
    assert read_json(run_dir / "status.json")["system"]["rss_mb"] > 10
    assert "system" not in (run_dir / "log.txt").read_text()  # vital signs are not log lines
    from genlab.cli.main import main

    with pytest.raises(SystemExit):
        main(["show", "v", "--runs-dir", str(tmp_path)])
    assert "vital signs (its last, while it ran): cpu " in capsys.readouterr().out


def add_vitals(run_dir, cpu: float, rss: float, steps=range(100, 2001, 100)) -> None:
    sink = JsonlSink(run_dir / "events.jsonl")
    for i, step in enumerate(steps):
        sink.event({"t": T0 + step * 0.02, "step": step, "kind": "system", "cpu_percent": cpu + i,
                    "rss_mb": rss, "mem_percent": 40.0})
    sink.close()
    st = json.loads((run_dir / "status.json").read_text())
    st["system"] = {"cpu_percent": cpu, "rss_mb": rss, "mem_percent": 40.0}
    (run_dir / "status.json").write_text(json.dumps(st))


async def test_the_status_bar_and_the_compare_screen_show_vital_signs(tmp_path):
    root = tmp_path / "runs"
    for name, cpu in (("a", 180.0), ("b", 95.0), ("c", 120.0), ("d", 60.0)):
        add_vitals(make_run(root, name, "gan", steps=2000), cpu, 800.0 + cpu)
    app = GenlabApp(ScriptedSource(root), open_run="a", load_models=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        bar = str(app.screen.query_one(StatusBar).render())
        assert "cpu 180% · rss 980 MB · mem 40%" in bar
        await pilot.press("escape")
        screen = await mark_and_compare(app, pilot, 2)
        assert [p.title_text for p in screen.query(CurvesPlot)][0] == "d_loss, nats"
        await pilot.press("v")
        await until(pilot, lambda: [p.title_text for p in screen.query(CurvesPlot)][:2] == [
            "cpu, % (100 = one core)", "rss, MB"])
        plots = list(screen.query(CurvesPlot))
        await until(pilot, lambda: plots[0].snapshot is not None and set(plots[0].snapshot.curves) == set(screen.comparison.labels))
        first = screen.run_ids[0]
        curve = plots[0].snapshot.curves[screen.comparison.labels[0]]
        cpu = {"a": 180.0, "b": 95.0, "c": 120.0, "d": 60.0}[first]
        assert curve.x[0] == 100 and curve.y[:2] == [cpu, cpu + 1]
        assert "vital signs" in str(screen.query_one("#compare-title").render())
        await pilot.press("v")
        await until(pilot, lambda: [p.title_text for p in screen.query(CurvesPlot)][0] == "d_loss, nats")
