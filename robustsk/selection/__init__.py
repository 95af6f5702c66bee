"""Choosing data to (re)train on for robustness."""

from ._retraining import select_for_retraining

__all__ = ["select_for_retraining"]
