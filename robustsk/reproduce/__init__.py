"""Reproductions of the papers' experiments (``robustsk reproduce NAME``)."""

from ._aqpl import AQPLConfig, plot_noise_sweep, run_aqpl, run_aqpl_seeds
from ._budgets import BudgetsConfig, plot_budgets, run_budgets
from ._robust_al import RobustALConfig, run_robust_al, run_stage_loop
from ._rpr import RPRConfig, run_rpr

__all__ = [
    "AQPLConfig",
    "BudgetsConfig",
    "RPRConfig",
    "RobustALConfig",
    "plot_budgets",
    "plot_noise_sweep",
    "run_aqpl",
    "run_aqpl_seeds",
    "run_budgets",
    "run_robust_al",
    "run_rpr",
    "run_stage_loop",
]
