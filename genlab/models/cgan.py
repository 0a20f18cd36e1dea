"""Conditional GAN (Mirza & Osindero 2014): the seed's third remedy, conditioning on the label.

The DCGAN networks with a one-hot label next to z in G, and D's features projected onto a learned
embedding of the label (the projection discriminator, Miyato & Koyama 2018); the same reference
hyperparameters as dcgan (Adam 2e-4, beta1 0.5, batch 128). Its ``cpu`` preset: width 22, lr 1.2e-3,
D's learning rate 0.55 of G's, batch 64, EMA 0.99, the hinge loss and one more convolution in G
(``g_blocks`` 1: FLD 8.5 to 6.7 at 5 minutes, bench/results/quality-cpu-g-blocks-5min.txt). No R1:
it held the FLD near 30 where EMA alone reached 11 (bench/results/sweep-cgan-options-cpu.txt); width
and learning rates: sweep-cgan-tpe-cpu.txt. Sample grids are conditioned on the digit: row after
row of 0s, 1s, ... 9s.
"""

from __future__ import annotations

from genlab.models.dcgan import DCGAN
from genlab.models.specs import gan as specs


class CGAN(DCGAN):
    spec = specs.CGAN
    conditional = True
