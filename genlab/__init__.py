"""genlab: train and watch generative models on MNIST-style digits from a terminal.

The package is the domain: data, models, the training engine, the run directory and rendering.
It never imports Textual; the cockpit in ``tui/`` builds on it. ``genlab.init`` makes a run of
your own training loop (genlab/api.py).
"""

__version__ = "0.1.0"


def init(*args, **kwargs):
    """A genlab run from your own training loop (genlab/api.py): ``run = genlab.init(...)``,
    ``run.log({...}, step=...)``, ``run.log_images(...)``, ``run.finish()``."""
    from genlab.api import init as start

    return start(*args, **kwargs)
