"""Digits and plots drawn as text or images."""
