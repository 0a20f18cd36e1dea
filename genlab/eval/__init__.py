"""Judging trained models: quality figures, the digit classifier, CAS, anomaly scores, latent maps."""
