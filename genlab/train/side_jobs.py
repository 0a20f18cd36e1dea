"""The jobs that run beside the steps: the sample grid, held-out evaluation, live quality.

Each emits one event and returns the seconds it took, or None when a waiting command
interrupted it (the steering's ``waiting``): an interrupted evaluation is done again at the next
step boundary, an interrupted grid or quality check at its next time.

Each runs on random streams of its own (genlab/streams.py: seeded from the run's seed, the step
and the job), so when the clocks ran them never changes what training draws, and their own
figures at a step are the same in every run of that seed.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from genlab.core import streams
from genlab.core.data import Digits
from genlab.models.base import GenModel, Interrupted
from genlab.render.grid import grid_png
from genlab.run.files import atomic_write_bytes
from genlab.run.rundir import RunDir
from genlab.train.emitter import Emitter
from genlab.train.state import TrainState

LATENT_POINTS = 2000  # held-out digits on it


class SideJobs:
    """The side jobs of training ``model`` on ``digits`` in ``run_dir``, at ``state``'s step;
    ``events`` hears of each; ``interrupt`` says whether a command is waiting (Steering.waiting)."""

    def __init__(self, run_dir: Path, state: TrainState, model: GenModel, digits: Digits, device: torch.device,
                 events: Emitter, interrupt: Callable[[], bool]):
        self.run_dir, self.state, self.model, self.digits, self.device = run_dir, state, model, digits, device
        self.events, self.interrupt = events, interrupt
        self.sample_seconds = 0.0
        self.eval_pending = False  # an evaluation was interrupted: do it at the next step boundary
        self.last_eval_step = -1
        self.last_sample_step = -1
        self.judge = None  # the digit classifier, loaded at a GAN's first live quality check

    def samples(self) -> float | None:
        """Decode the fixed latent; write samples/step-XXXXXXXX.png and .npy (once a step: the
        end's grid is not written again when the clock's was at the same step)."""
        s = self.state
        if s.step == self.last_sample_step:
            return 0.0
        start = time.perf_counter()
        try:
            with streams.apart(s.config.seed, s.step, "samples"):
                images = self.model.decode(s.fixed_latent, interrupt=self.interrupt)
        except Interrupted:
            return None
        stem = RunDir(self.run_dir).grid_path(s.step, suffix="")
        npy = io.BytesIO()
        np.save(npy, images.numpy())
        atomic_write_bytes(stem.with_suffix(".npy"), npy.getvalue(), durable=False)
        atomic_write_bytes(stem.with_suffix(".png"), grid_png(images.numpy(), per_row=8, padding=2), durable=False)
        seconds = time.perf_counter() - start
        self.sample_seconds += seconds
        self.last_sample_step = s.step
        rel = stem.relative_to(self.run_dir)  # paths in events are relative to the run directory
        self.events.emit("samples", png=str(rel.with_suffix(".png")), npy=str(rel.with_suffix(".npy")),
                         n=len(images), seconds=round(seconds, 3))
        return seconds

    def evaluate(self) -> float | None:
        """The model's held-out metrics on ``eval_size`` test digits."""
        s = self.state
        images, labels = self.digits.test_images, self.digits.test_labels
        left_out = None
        if s.config.exclude_digits:  # the digits it learnt, and apart the ones it never saw
            gone = torch.isin(labels, torch.tensor(s.config.exclude_digits, device=labels.device))
            left_out, images, labels = (images[gone], labels[gone]), images[~gone], labels[~gone]
        n = min(s.config.cadence.eval_size, len(images))
        start = time.perf_counter()
        try:
            with streams.apart(s.config.seed, s.step, "evaluate"):
                results = self.model.evaluate(images[:n], labels[:n], interrupt=self.interrupt)
                if left_out is not None:
                    m = min(n, len(left_out[0]))
                    apart = self.model.evaluate(left_out[0][:m], left_out[1][:m], interrupt=self.interrupt)
                    results.update({f"{k}_excluded": v for k, v in apart.items()})
        except Interrupted:
            self.eval_pending = True
            return None
        self.eval_pending = False
        if self.model.encodes:  # a latent map of what its encoder makes of the digits
            with streams.apart(s.config.seed, s.step, "latent map"):
                self.latent_map(images[:LATENT_POINTS], labels[:LATENT_POINTS])
        seconds = time.perf_counter() - start
        self.events.emit("eval", epoch=s.batches.epoch + (1 if s.batches.position else 0), n=n,
                         seconds=round(seconds, 3), **{k: round(v, 5) for k, v in results.items()})
        self.last_eval_step = s.step
        return seconds

    def latent_map(self, images, labels) -> None:
        """A VAE's 2-D map of held-out digits (genlab/latent.py), replaced at each evaluation as
        ``latent.npz`` (points, labels, step, how), for the cockpit's latent pane. A side
        picture: whatever goes wrong with it never touches training."""
        from genlab.eval import latent
        s = self.state
        try:
            m = latent.project(latent.encode(self.model, images))
            if not bool(torch.isfinite(m.points).all()):
                return
            buf = io.BytesIO()
            np.savez(buf, points=m.points.numpy().astype(np.float32), labels=labels.cpu().numpy().astype(np.uint8),
                     step=np.int64(s.step), how=np.str_(m.how))
            atomic_write_bytes(RunDir(self.run_dir).latent, buf.getvalue(), durable=False)
        except (RuntimeError, ValueError):
            return

    def quality(self) -> float | None:
        """Quality on a cadence, as an ``eval`` event with ``quality: true``. GANs: FLD, class
        histogram and confident share of ``quality_samples`` fresh digits. VAEs: importance-sampled
        NLL (``quality_k`` samples) of as many held-out digits. PixelCNNs: their test NLL on as
        many held-out digits."""
        from genlab.eval import quality as evaluate
        s = self.state
        c = s.config.cadence
        start = time.perf_counter()
        n = min(c.quality_samples, len(self.digits.test_images))
        try:
            with streams.apart(s.config.seed, s.step, "quality") as seed:
                if evaluate.needs_judge(self.model) and self.judge is None:  # (building a network draws)
                    self.judge = evaluate.Judge(self.digits.test_images, self.device)
                q = evaluate.measure(self.model, self.digits.test_images, self.digits.test_labels, n=n, k=c.quality_k,
                                     judge=self.judge, seed=seed, interrupt=self.interrupt)
        except Interrupted:
            return None
        fields = self.model.quality_fields(q)  # the figures under the model's own metric names
        seconds = time.perf_counter() - start
        self.events.emit("eval", quality=True, n=n, seconds=round(seconds, 3), **fields)
        return seconds

