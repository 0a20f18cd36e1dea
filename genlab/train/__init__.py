"""Training a run: the loop, its units, checkpoints and exact resume, distributed training."""
