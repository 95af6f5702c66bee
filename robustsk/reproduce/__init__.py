"""Reproductions of the papers' experiments (``robustsk reproduce NAME``).

The public names (``__all__``) are imported on first use, so that the command line reads
the options of every reproduction (the ``_<paper>_cli`` modules) without importing torch.
The names re-exported as ``name as name`` below are light and shared with the rest of
robustsk only: the registry of reproductions for the command line, its option types and
data checks, and the figure helper.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._argtypes import (
    nonnegative_int as nonnegative_int,
    port as port,
    positive_int as positive_int,
)
from ._data import (
    DATASETS as DATASETS,
    DIGITS_N_TEST as DIGITS_N_TEST,
    DIGITS_N_TRAIN as DIGITS_N_TRAIN,
    data_problem as data_problem,
    dataset_title as dataset_title,
    digits_as_mnist as digits_as_mnist,
    load_mnist_split as load_mnist_split,
    load_split as load_split,
    mnist_problem as mnist_problem,
)
from ._plots import subplots as subplots
from ._registry import Reproduction as Reproduction, reproductions as reproductions

if TYPE_CHECKING:
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
    from ._robust_al_stages import selection_bias_summary, stagewise_differences
    from ._rpr import RPRConfig, run_rpr, run_rpr_seeds, summarize_rpr_seeds

#: The module that defines each public name.
_MODULES = {
    "AQPLConfig": "_aqpl",
    "plot_noise_sweep": "_aqpl",
    "run_aqpl": "_aqpl",
    "run_aqpl_seeds": "_aqpl",
    "BudgetsConfig": "_budgets",
    "plot_budgets": "_budgets",
    "run_budgets": "_budgets",
    "RobustALConfig": "_robust_al",
    "paired_differences": "_robust_al",
    "run_robust_al": "_robust_al",
    "run_robust_al_seeds": "_robust_al",
    "run_stage_loop": "_robust_al",
    "summarize_seeds": "_robust_al",
    "selection_bias_summary": "_robust_al_stages",
    "stagewise_differences": "_robust_al_stages",
    "RPRConfig": "_rpr",
    "run_rpr": "_rpr",
    "run_rpr_seeds": "_rpr",
    "summarize_rpr_seeds": "_rpr",
}

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
    "selection_bias_summary",
    "stagewise_differences",
    "summarize_rpr_seeds",
    "summarize_seeds",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULES[name]}", __name__), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
