"""genlab: train and watch generative models on MNIST-style digits from a terminal.

The package is the domain: data, models, the training engine, the run directory and rendering.
It never imports Textual; the cockpit in ``tui/`` builds on it.
"""

__version__ = "0.1.0"
