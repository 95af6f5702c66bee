"""Certified robustness: IBP, CROWN-IBP and CROWN bounds, learned perturbation budgets, and
randomized smoothing's statistics."""

from ._bounds import (
    METHODS,
    compute_bounds,
    crown_bounds,
    input_box,
    interval_bounds,
    margin_matrix,
)
from ._budgets import BudgetGenerator, budget_image_dependence, budget_range, refine_budgets
from ._conflicts import boxes_intersect
from ._loss_fusion import cross_entropy_upper_bound
from ._smoothing import (
    ABSTAIN,
    certify_counts,
    clopper_pearson_lower,
    predict_counts,
    smoothed_counts,
)

# isort: split
# Shared with the other subpackages, not public API (hence not in __all__): the margin
# bounds and loss fusion certified training and verified error are built on, and the
# check that a module is one the bounds support.
from ._bounds import (
    crown_ibp_and_ibp_lower as crown_ibp_and_ibp_lower,
    ibp_lower as ibp_lower,
    margin_lower_bounds as margin_lower_bounds,
)
from ._layers import check_module as check_module
from ._loss_fusion import fused_and_ibp_cross_entropy as fused_and_ibp_cross_entropy

__all__ = [
    "ABSTAIN",
    "METHODS",
    "BudgetGenerator",
    "budget_image_dependence",
    "boxes_intersect",
    "budget_range",
    "certify_counts",
    "clopper_pearson_lower",
    "compute_bounds",
    "cross_entropy_upper_bound",
    "crown_bounds",
    "input_box",
    "interval_bounds",
    "margin_matrix",
    "predict_counts",
    "refine_budgets",
    "smoothed_counts",
]
