"""Reproductions of the papers' experiments (``robustsk reproduce NAME``)."""

from ._robust_al import RobustALConfig, run_robust_al, run_stage_loop

__all__ = ["RobustALConfig", "run_robust_al", "run_stage_loop"]
