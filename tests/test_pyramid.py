"""The bucket summaries a run's writer keeps beside metrics.bin (genlab/run/pyramid.py): a long
run opened from them has the curves, newest values and verdict of the same run read whole, at
any width and while it grows; a run without them (written before they existed) opens as it
always did; a rewrite of metrics.bin (a resume's cut, a new metric, the aggregated layout) makes
them again; and a follower reads only the rows that are new."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scripted import make_run

from genlab.run import follow, metrics_log, pyramid
from genlab.run.follow import RunFollower
from genlab.run.metrics_log import MetricsBinSink
from genlab.run.sinks import JsonlSink

BULK = 2_000  # (a "long" history from this many rows on: the tests stay quick)


@pytest.fixture(autouse=True)
def long_from_fewer_rows(monkeypatch):
    monkeypatch.setattr(follow, "BULK_ROWS", BULK)


def metrics(step: int) -> dict:
    m = {"d_loss": 1.2 + 0.2 * math.sin(step / 100) + (5.0 if step % 9_973 == 0 else 0.0),
         "g_loss": 0.9 + 0.3 * math.cos(step / 50), "d_real": 0.6, "d_fake": 0.4}
    if step % 777 == 0:
        m["g_loss"] = float("nan")  # a value that is not finite counts in no bucket
    return m


def grow(run: Path, first: int, last: int, aggregated: bool = False, extra: bool = False) -> None:
    """Rows of steps ``first``..``last`` appended through the trainer's sinks (a fresh sink each
    time, as a resumed run opens one); ``extra``: a metric first logged now (a new column)."""
    sinks = [JsonlSink(run / "events.jsonl"), MetricsBinSink(run)]
    for step in range(first, last + 1):
        e = {"t": 1e9 + step * 0.02, "step": step, "kind": "metrics", "epoch": 1 + step // 937, **metrics(step)}
        if extra:
            e["lr_now"] = 1e-3 / (1 + step)
        if aggregated:  # a row of 4 steps: their mean and extremes (genlab/record.py)
            if step % 4:
                continue
            e["n"] = 4
            e["min"] = {k: v - 0.1 for k, v in metrics(step).items()}
            e["max"] = {k: v + 0.1 for k, v in metrics(step).items()}
        for s in sinks:
            s.event(e)
        if step % 1000 == 0:
            for s in sinks:
                s.progress(None)
    for s in sinks:
        s.close()


def drawn(view) -> dict:
    """Every series' buckets as a viewer draws them, and the newest values."""
    out = {"latest": {k: repr(v) for k, v in view.latest.items()}}  # (NaN equal to NaN)
    for name, s in [("t", view.times), *view.series.items()]:
        out[name] = (s.width, s.idx.tolist(), s.lo.tolist(), s.hi.tolist(), s.cnt.tolist(), s.last, s.last_step)
    return out


def sums(view) -> dict:
    return {name: s.sum for name, s in [("t", view.times), *view.series.items()]}


def read_whole(run: Path, capacity: int) -> RunFollower:
    """The run as a reader without summaries reads it (a run written before they existed)."""
    saved = {level: pyramid.level_path(run, level).read_bytes() for level in pyramid.LEVELS}
    pyramid.remove(run)
    try:
        f = RunFollower(run, capacity=capacity)
        f.poll()
    finally:
        for level, data in saved.items():
            pyramid.level_path(run, level).write_bytes(data)
    return f


def assert_same(a: RunFollower, b: RunFollower) -> None:
    assert drawn(a.view) == drawn(b.view)
    for name, s in sums(a.view).items():  # (sums added in another order: equal to rounding)
        np.testing.assert_allclose(s, sums(b.view)[name], rtol=1e-12)


def test_curves_from_the_summaries_are_the_curves_of_the_whole_run(tmp_path):
    run = make_run(tmp_path, "long", "gan", steps=10)
    grow(run, 11, 30_000)
    for capacity in (40, 64, 200, 1024):  # buckets of 1024, 512, 256 steps; 32: too fine for any level
        quick = RunFollower(run, capacity=capacity)
        quick.poll()
        whole = read_whole(run, capacity)
        assert_same(quick, whole)
        assert quick.view.health == whole.view.health and quick.view.health is not None
        assert whole.rows_read == 30_000
        if capacity < 1024:  # from the summaries: the newest rows only (what the judge reads)
            assert quick.rows_read <= follow.LONG_READ
    # growing while read: the rows that are new, and nothing else
    live = RunFollower(run, capacity=64, quick_open=True)
    live.poll()
    assert live.owed is not None and live.view.health is None  # judged at the next poll
    for upto in (31_000, 34_567, 40_000):
        before, last = live.rows_read, live.view.series["d_loss"].last_step
        grow(run, last + 1, upto)
        live.poll()
        assert live.owed is None and live.view.health is not None
        assert live.rows_read - before == upto - last  # the new rows, and nothing else
        assert len(live.view.series["d_loss"]) <= 64
    fresh = read_whole(run, 64)
    assert drawn(live.view)["d_loss"][:5] == drawn(fresh.view)["d_loss"][:5]
    assert live.view.health == fresh.view.health


def test_rows_read_while_a_run_grows_are_the_rows_appended(tmp_path):
    run = make_run(tmp_path, "long", "gan", steps=10)
    grow(run, 11, 20_000)
    f = RunFollower(run, capacity=128)
    f.poll()
    opened = f.rows_read
    for upto in range(21_000, 30_001, 1_000):
        grow(run, upto - 999, upto)
        f.poll()
    assert f.rows_read - opened == 10_000  # each row once, never the history again
    assert all(len(s) <= 128 for s in f.view.series.values())


def test_a_rewritten_metrics_bin_has_its_summaries_made_again(tmp_path):
    run = make_run(tmp_path, "long", "gan", steps=10)
    grow(run, 11, 12_000)
    metrics_log.cut(run, 9_000)  # a resume's cut: the summaries go with the rows cut
    assert not any(pyramid.level_path(run, level).exists() for level in pyramid.LEVELS)
    grow(run, 9_001, 15_000, extra=True)  # resumed, with a new metric (metrics.bin rewritten wider)
    assert metrics_log.columns(run)[-1] == "lr_now"
    grow(run, 15_001, 24_000, aggregated=True)  # then aggregated rows (rewritten in that layout)
    cols = metrics_log.columns(run)
    assert metrics_log.aggregated(cols)
    rows = 9_000 + 6_000 + 2_250  # (from step 15,001 on, a row stands for 4 steps)
    assert rows - 64 <= pyramid.read(run, cols, 6, rows)[2] <= rows  # made again: the whole file summarised
    for capacity in (16, 64, 100):
        quick = RunFollower(run, capacity=capacity)
        quick.poll()
        assert_same(quick, read_whole(run, capacity))


def test_summaries_of_another_file_are_not_trusted(tmp_path):
    """metrics.bin cut by a genlab that keeps no summaries, the old summaries left: read whole."""
    run = make_run(tmp_path, "long", "gan", steps=10)
    grow(run, 11, 12_000)
    saved = {level: pyramid.level_path(run, level).read_bytes() for level in pyramid.LEVELS}
    metrics_log.cut(run, 8_000)
    grow(run, 13_001, 13_100)  # (other steps where the old summaries end)
    for level, data in saved.items():
        pyramid.level_path(run, level).write_bytes(data)
    for capacity in (16, 64, 128):
        f = RunFollower(run, capacity=capacity)
        f.poll()
        assert f.view.series["d_loss"].last_step == 13_100
        assert drawn(f.view) == drawn(read_whole(run, capacity).view)


def test_summaries_that_cannot_be_written_are_dropped_and_the_run_goes_on(tmp_path, monkeypatch):
    """A full disk: the summaries go (their readers read metrics.bin whole), the run's rows stay."""
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    run = make_run(tmp_path, "long", "gan", steps=10)
    with monkeypatch.context() as m:
        m.setattr(pyramid, "atomic_write_bytes", full)
        grow(run, 11, 6_000)
    assert not any(pyramid.level_path(run, level).exists() for level in pyramid.LEVELS)
    f = RunFollower(run, capacity=64)
    f.poll()
    assert f.rows_read == 6_000 and f.view.series["d_loss"].last_step == 6_000
