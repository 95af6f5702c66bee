"""Reproductions of the papers' experiments (``robustsk reproduce NAME``)."""

from ._aqpl import AQPLConfig, plot_noise_sweep, run_aqpl, run_aqpl_seeds
from ._budgets import BudgetsConfig, plot_budgets, run_budgets
from ._robust_al import (
    RobustALConfig,
    paired_differences,
    run_robust_al,
    run_robust_al_seeds,
    run_stage_loop,
    summarize_seeds,
)
from ._rpr import RPRConfig, run_rpr, run_rpr_seeds, summarize_rpr_seeds

__all__ = [
    "AQPLConfig",
    "BudgetsConfig",
    "RPRConfig",
    "RobustALConfig",
    "paired_differences",
    "plot_budgets",
    "plot_noise_sweep",
    "run_aqpl",
    "run_aqpl_seeds",
    "run_budgets",
    "run_robust_al",
    "run_robust_al_seeds",
    "run_rpr",
    "run_rpr_seeds",
    "run_stage_loop",
    "summarize_rpr_seeds",
    "summarize_seeds",
]
