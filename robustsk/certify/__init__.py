"""Certified robustness: IBP, CROWN-IBP and CROWN bounds, and learned perturbation budgets."""

from ._bounds import (
    METHODS,
    compute_bounds,
    crown_bounds,
    input_box,
    interval_bounds,
    margin_matrix,
)
from ._budgets import BudgetGenerator, budget_image_dependence, budget_range, refine_budgets
from ._loss_fusion import cross_entropy_upper_bound

__all__ = [
    "METHODS",
    "BudgetGenerator",
    "budget_image_dependence",
    "budget_range",
    "compute_bounds",
    "cross_entropy_upper_bound",
    "crown_bounds",
    "input_box",
    "interval_bounds",
    "margin_matrix",
    "refine_budgets",
]
