"""Conditional GAN (Mirza & Osindero 2014): the seed's third remedy, conditioning on the label.

The DCGAN networks with a one-hot label next to z in G, and D's features projected onto a learned
embedding of the label (the projection discriminator, Miyato & Koyama 2018); the same reference
hyperparameters as dcgan (Adam 2e-4, beta1 0.5, batch 128) and its ``cpu`` preset. Sample grids
are conditioned on the digit: row after row of 0s, 1s, ... 9s.
"""

from __future__ import annotations

from genlab.models.dcgan import DCGAN
from genlab.models.specs import gan as specs


class CGAN(DCGAN):
    spec = specs.CGAN
    conditional = True
