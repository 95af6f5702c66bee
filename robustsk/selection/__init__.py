"""Choosing data to (re)train on for robustness."""

from ._retraining import select_for_retraining
from ._robust_subset import RobustSubsetSelector

__all__ = ["RobustSubsetSelector", "select_for_retraining"]
