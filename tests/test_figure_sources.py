"""A held-out figure is one series, measured one way: a PixelCNN's test NLL comes from its epoch-end
evaluations and from its quality checks, on different digits; once a quality check carries it, it is
read from the checks alone, by every reader (genlab/run/figure_sources.py)."""

from __future__ import annotations

from scripted import make_run

from genlab.health import history, judge_run
from genlab.run import compare
from genlab.run.figure_sources import series
from genlab.run.follow import RunFollower
from genlab.run.summary import summarise

CHECK_EVERY = 100


def check_nll(step: int) -> float:
    """The quality checks' test NLL (300 digits): falling 1% a check, never flat."""
    return 100.0 * 0.99 ** (step // CHECK_EVERY)


def epoch_nll(step: int) -> float:
    """An epoch-end evaluation's test NLL (64 other digits, every 2 steps): lower, and zigzagging by 3%."""
    return 85.0 + (1.3 if step // 2 % 2 else -1.3)


def small_data_pixelcnn(root):
    """A PixelCNN on 100 digits, as bench/health.py's pixelcnn-overfit: an epoch every 2 steps."""
    def evals(step):
        if step % CHECK_EVERY == 0:
            return {"quality": True, "n": 300, "test_nll": check_nll(step)}
        return {"n": 64, "test_nll": epoch_nll(step)}
    return make_run(root, "small", "pixelcnn", steps=1500, eval_every=2, evals=evals)


def test_evaluations_count_until_the_first_quality_check_carries_the_figure():
    events = [{"kind": "eval", "step": 2, "test_nll": 80.0}, {"kind": "eval", "step": 4, "test_nll": 81.0},
              {"kind": "metrics", "step": 5, "test_nll": 1.0},
              {"kind": "eval", "step": 6, "quality": True, "test_nll": 95.0, "test_other": 1.0},
              {"kind": "eval", "step": 8, "test_nll": 79.0}, {"kind": "eval", "step": 10, "quality": True, "test_nll": 94.0}]
    assert [e["step"] for e in series(events, "test_nll")] == [6, 10]
    assert [e["step"] for e in series(events[:2], "test_nll")] == [2, 4]  # no check yet: the evaluations
    only_evaluated = [{"kind": "eval", "step": 2, "test_loss": 1.0}, {"kind": "eval", "step": 4, "quality": True, "x": 1}]
    assert [e["step"] for e in series(only_evaluated, "test_loss")] == [2]


def test_every_reader_reads_a_pixelcnns_test_nll_from_its_quality_checks(tmp_path):
    run = small_data_pixelcnn(tmp_path / "runs")
    checks = [(s, check_nll(s)) for s in range(CHECK_EVERY, 1501, CHECK_EVERY)]

    s = summarise(run)  # `genlab runs`, compare, the ranking
    assert (s.figure, s.figure_latest, s.figure_best, s.checks) == ("test_nll", checks[-1][1], checks[-1][1], len(checks))
    xs, ys = compare.curve(run, "test_nll")  # compare's curves, a report's figures
    assert list(zip(xs, ys)) == checks
    follower = RunFollower(run)  # the cockpit, notifications' thresholds
    follower.poll()
    assert follower.view.evals["test_nll"] == checks

    # its health: the checks fall steadily, so no plateau and no overfitting; the evaluations'
    # zigzag (3% every 2 steps) read as checks made the verdict flicker between the two
    assert judge_run(run).name == "healthy"
    assert history(run) == []
