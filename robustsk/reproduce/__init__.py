"""Reproductions of the papers' experiments (``robustsk reproduce NAME``)."""

from ._aqpl import AQPLConfig, run_aqpl
from ._robust_al import RobustALConfig, run_robust_al, run_stage_loop

__all__ = ["AQPLConfig", "RobustALConfig", "run_aqpl", "run_robust_al", "run_stage_loop"]
