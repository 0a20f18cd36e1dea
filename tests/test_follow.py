"""genlab.run.follow: bounded min/max history and the incremental reader of a run directory."""

import json

import numpy as np
from scripted import make_run

from genlab.run.follow import RunFollower
from genlab.run.series import MinMaxSeries, ema


def test_buckets_stay_bounded_and_spikes_survive():
    s = MinMaxSeries(capacity=64)
    steps = np.arange(1, 100_001)
    values = np.sin(steps / 500.0)
    values[77_777] = 50.0  # one spike in 100,000 steps
    for chunk in range(0, len(steps), 7_919):  # arrives in uneven pieces, as a run writes
        s.extend(steps[chunk : chunk + 7_919], values[chunk : chunk + 7_919])
    assert len(s) <= 64
    x, y = s.envelope()
    assert max(y) == 50.0 and min(y) == values.min()
    assert x[-1] == 100_000 and sorted(x) == x
    mx, my = s.means()
    assert abs(sum(my[i] * s.cnt[i] for i in range(len(my))) - values.sum()) < 1e-6  # nothing lost
    assert s.cnt.sum() == 100_000


def test_ema_is_bias_corrected():
    assert ema([4.0, 4.0, 4.0]) == [4.0, 4.0, 4.0]
    out = ema([0.0, 10.0], alpha=0.5)
    assert out[0] == 0.0 and 6.0 < out[1] < 7.0


def test_follower_reads_only_what_was_appended(tmp_path):
    run = make_run(tmp_path, "r", "vae", steps=1000)
    f = RunFollower(run)
    v = f.poll()
    assert v.series["loss"].cnt.sum() == 1000 and v.sample.shape == (64, 28, 28)
    assert [e["kind"] for e in v.events][:1] == ["state"]
    version, offset = v.version, f.tail.offset
    assert f.poll().version == version and f.tail.offset == offset  # nothing new: no change
    with open(run / "events.jsonl", "a") as fh:
        fh.write(json.dumps({"t": 1, "step": 1000, "kind": "warning", "message": "look"}) + "\n")
    v = f.poll()
    assert v.version > version and v.events[-1]["message"] == "look"


def test_follower_starts_over_when_a_resume_cut_the_history(tmp_path):
    from genlab.run.store import cut_events

    run = make_run(tmp_path, "r", "gan", steps=1000)
    f = RunFollower(run)
    assert f.poll().series["d_loss"].last_step == 1000
    cut_events(run, 400)
    v = f.poll()
    assert v.series["d_loss"].last_step == 400 and v.series["d_loss"].cnt.sum() == 400


def test_other_events_are_found_among_metric_lines_and_a_tricky_message_reads_right(tmp_path):
    """With metrics.bin, the follower picks the few non-metric lines out of a block without
    splitting it; a message that itself holds '"kind":"' makes it read that block line by line."""
    from genlab.run.follow import RunFollower

    run = make_run(tmp_path, "r", "gan", steps=3000)
    from genlab.run.sinks import JsonlSink

    sink = JsonlSink(run / "events.jsonl")
    sink.event({"t": 1.0, "step": 3000, "kind": "warning", "message": 'odd text: "kind":"eval" inside'})
    sink.event({"t": 2.0, "step": 3000, "kind": "eval", "epoch": 4, "test_d_real": 0.5})
    sink.close()
    view = RunFollower(run).poll()
    warnings = [e for e in view.events if e["kind"] == "warning"]
    assert [w["message"] for w in warnings][-1] == 'odd text: "kind":"eval" inside'
    assert view.evals["test_d_real"][-1] == (3000, 0.5)
    assert view.series["d_loss"].last_step == 3000


def test_a_long_first_read_makes_the_same_buckets_as_row_by_row(tmp_path, monkeypatch):
    """The bulk load of a long history (one pass over every column) and the incremental path
    agree bucket for bucket, NaNs and spikes included."""
    import numpy as np

    from genlab.run import follow
    from genlab.run.follow import RunFollower

    run = make_run(tmp_path, "r", "gan", steps=4000)
    bulk = RunFollower(run, capacity=256)
    monkeypatch.setattr(follow, "BULK_ROWS", 100)
    bulk.poll()
    monkeypatch.setattr(follow, "BULK_ROWS", 10**9)
    slow = RunFollower(run, capacity=256)
    slow.poll()
    for name, series in slow.view.series.items():
        other = bulk.view.series[name]
        assert series.width == other.width and np.array_equal(series.idx, other.idx), name
        for part in ("lo", "hi", "sum", "cnt"):
            assert np.allclose(getattr(series, part), getattr(other, part)), (name, part)
        assert (series.last, series.last_step) == (other.last, other.last_step)
    assert np.allclose(slow.view.times.sum, bulk.view.times.sum)


def test_the_events_index_gives_the_same_view_and_is_never_trusted_blindly(tmp_path):
    """events.idx lists the non-metric lines: a first read through it sees what a full scan
    sees; a garbage index, another writer's append and a resume's cut never make it lie."""
    from genlab.run import events_index
    from genlab.run.follow import RunFollower
    from genlab.run.rundir import RunDir
    from genlab.run.sinks import JsonlSink
    from genlab.run.store import cut_events

    def seen(run):
        v = RunFollower(run).poll()
        return [(e["kind"], e["step"], e.get("message")) for e in v.events], v.sample_step, v.evals

    run = make_run(tmp_path, "r", "gan", steps=3000)
    assert events_index.covered(run / RunDir.EVENTS_INDEX) == (run / "events.jsonl").stat().st_size
    with_index = seen(run)
    (run / RunDir.EVENTS_INDEX).rename(run / "saved.idx")
    assert seen(run) == with_index  # the full scan agrees
    (run / RunDir.EVENTS_INDEX).write_bytes(b"\x07" * 64)  # garbage: not trusted
    assert seen(run) == with_index
    (run / "saved.idx").rename(run / RunDir.EVENTS_INDEX)

    with open(run / "events.jsonl", "a") as f:  # another writer appends, then the sink again
        f.write('{"t":1,"step":3000,"kind":"warning","message":"from outside"}\n')
    sink = JsonlSink(run / "events.jsonl")
    sink.event({"t": 2.0, "step": 3000, "kind": "warning", "message": "from the sink"})
    sink.close()
    assert not (run / RunDir.EVENTS_INDEX).exists()  # dropped: it no longer covers the file
    messages = [m for _, _, m in seen(run)[0] if m]
    assert messages[-2:] == ["from outside", "from the sink"]

    cut_events(run, 1500)  # a resume's cut writes the index of the new file
    assert events_index.covered(run / RunDir.EVENTS_INDEX) == (run / "events.jsonl").stat().st_size
    kinds = seen(run)[0]
    assert kinds and all(step <= 1500 for _, step, _ in kinds)


def test_a_run_whose_status_cannot_be_read_is_unreadable_as_genlab_runs_says(tmp_path):
    from genlab.run.store import list_runs

    run = make_run(tmp_path, "broken", "gan", steps=10)
    (run / "status.json").write_text('{"state": "runn')
    view = RunFollower(run).poll()
    (listed,) = list_runs(tmp_path)
    assert view.state == listed.state == "unreadable" and "status.json" in view.problem
