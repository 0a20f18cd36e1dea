"""Conditional GAN (Mirza & Osindero 2014): the seed's third remedy, conditioning on the label.

The DCGAN networks with a one-hot label next to z in G, and D's features projected onto a learned
embedding of the label (the projection discriminator, Miyato & Koyama 2018); the same reference
hyperparameters as dcgan (Adam 2e-4, beta1 0.5, batch 128) and its ``cpu`` preset. Sample grids
are conditioned on the digit: row after row of 0s, 1s, ... 9s.
"""

from __future__ import annotations

from dataclasses import replace

from genlab.models.dcgan import DCGAN
from genlab.models.gan import GAN_VIEW


class CGAN(DCGAN):
    name = "cgan"
    description = "conditional DCGAN (Mirza & Osindero 2014), projection D: samples in rows of 0 to 9"
    conditional = True
    sample_count = 80  # 8 of each digit: the grid's rows are 0 to 9
    view = replace(GAN_VIEW, sample_classes=10)  # a pane too small for the grid shows every digit
    presets = {"cpu": {"batch_size": 64, "lr": 1e-3, "width": 16}}  # measured: bench/results/quality-cpu-60s.txt
