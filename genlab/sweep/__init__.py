"""Sweeps: the spec, its plan, the Optuna study and the worker that runs its trials."""
