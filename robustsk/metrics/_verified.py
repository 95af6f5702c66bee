"""Verified error: the share of examples whose prediction cannot be certified in their box."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from ..certify import check_module, margin_lower_bounds
from ..utils import (
    Constraint,
    Interval,
    Options,
    ParameterConstraints,
    TorchClassifier,
    check_batch,
    check_clip,
    declare_params,
)
from ._adversarial import encode_labels

_BUDGET_KINDS = (
    "None, 'learned', 'uniform', a non-negative number, an array of non-negative budgets "
    "or a fitted CertifiedBudgetClassifier"
)


class Budgets(Constraint):
    """Budgets given as numbers: a finite number >= 0 (not a bool: ``True`` is no radius),
    an array of them (numeric dtype, not bool), or a fitted model lending its budgets
    (a ``budgets`` method, as a CertifiedBudgetClassifier has)."""

    def check(self, value: Any, name: str) -> None:
        if callable(getattr(value, "budgets", None)):
            return
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be {_BUDGET_KINDS}, got {value!r} (bool).")
        if isinstance(value, numbers.Real):
            _check_radius(float(value), value, name)
            return
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):  # ragged
            arr = np.asarray(None)
        if arr.dtype.kind not in "iuf":
            raise TypeError(
                f"{name} must be {_BUDGET_KINDS}, got {type(value).__name__} of dtype {arr.dtype}."
            )
        if arr.ndim == 0:
            _check_radius(float(arr), value, name)
        elif not np.isfinite(arr).all() or (arr < 0).any():
            raise ValueError(f"{name} arrays must hold finite non-negative budgets.")

    def describe(self) -> str:
        return "a non-negative number, an array of non-negative budgets or a fitted model"

    def matches_type(self, value: Any) -> bool:
        return value is not None and not isinstance(value, str)

    def invalid_values(self) -> list[Any]:
        return [True, -0.1, float("nan"), float("inf"), np.array([0.1, -0.1]), np.array(["a"])]


def _check_radius(radius: float, value: Any, name: str) -> None:
    if not (np.isfinite(radius) and radius >= 0):
        raise ValueError(f"{name} must be a finite non-negative budget, got {value!r}.")


#: What verified_error's parameters accept.
VERIFIED_CONSTRAINTS: ParameterConstraints = {
    "budget": [None, Options(["learned", "uniform"]), Budgets()],
    "bound": [Options({"crown-ibp", "ibp", "crown", "best"})],
    "batch_size": [Interval(1, integer=True)],
}


@declare_params(VERIFIED_CONSTRAINTS)
def verified_error(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    budget: Any = None,
    bound: str = "crown-ibp",
    batch_size: int = 256,
) -> float:
    """Fraction of examples not verified robust: some margin's lower bound is <= 0.

    Parameters
    ----------
    estimator : fitted CertifiedBudgetClassifier, or a robustsk / skorch net
        A :class:`~robustsk.estimators.CertifiedBudgetClassifier` is verified
        under its own budgets by default; any other net needs ``budget`` and a
        ``torch.nn.Sequential`` module of supported layers returning logits.
    X : array-like of shape (n_samples, ...)
        Inputs.
    y : array-like of shape (n_samples,)
        True labels.
    budget : None, "learned", "uniform", float, ndarray or fitted CertifiedBudgetClassifier
        Budgets of the boxes (see
        :meth:`~robustsk.estimators.CertifiedBudgetClassifier.margin_bounds`);
        a float is a uniform radius.
    bound : {"crown-ibp", "ibp", "crown", "best"}, default="crown-ibp"
        Bound method.
    batch_size : int, default=256
        Examples per bound computation (other nets; a CertifiedBudgetClassifier
        uses its ``eval_batch_size``).

    Returns
    -------
    error : float
        In [0, 1]; a verified example is also correctly classified (each
        margin bound is capped by the clean input's own margin).

    Raises
    ------
    TypeError
        When ``estimator`` is not a fitted torch network (e.g. a random
        forest), or its module is one the bounds cannot follow exactly (see
        :func:`~robustsk.certify.compute_bounds`); the message names it.
    TypeError, ValueError
        A bad ``budget`` (a bool, a string other than "learned" and "uniform",
        a negative or non-finite number), ``bound`` or ``batch_size``, before
        any work; the message names the parameter.
    ValueError
        When ``budget`` is missing for a net without its own budgets, or ``X``
        holds NaN or infinity.
    """
    if hasattr(estimator, "certify"):
        if isinstance(budget, (int, float)) and not isinstance(budget, bool):
            budget = np.float32(budget)
        return float(1.0 - estimator.certify(X, y, budget=budget, bound=bound).mean())
    module = _torch_module(estimator)
    if budget is None or isinstance(budget, str):
        raise ValueError(
            "verified_error of a net without its own budgets needs budget= a "
            f"float or an array of per-element budgets, got {budget!r}."
        )
    net = TorchClassifier(estimator, "verified_error")
    check_module(module, net.input_shape)
    X = np.asarray(check_batch(X, "X"), dtype=np.float32)
    codes = encode_labels(estimator, y)
    clip = check_clip(getattr(estimator, "clip", (0.0, 1.0)))
    if net.input_shape is not None:
        X = X.reshape((X.shape[0], *net.input_shape))
    with net.evaluating():
        lb = margin_lower_bounds(
            net.module,
            X,
            codes,
            budget,
            len(estimator.classes_),
            clip=clip,
            method=bound,
            batch_size=batch_size,
            device=net.device,
        )
    return float(1.0 - (lb > 0).all(axis=1).mean())


def _torch_module(estimator):
    """The fitted torch module of ``estimator``, or a TypeError saying what is needed."""
    module = getattr(estimator, "module_", None)
    if isinstance(module, nn.Module):
        return module
    if module is not None:
        got = f"a {type(estimator).__name__} whose module_ is a {type(module).__name__}"
    elif hasattr(estimator, "module") and hasattr(estimator, "initialize"):
        got = f"an unfitted {type(estimator).__name__} (no module_; fit it first)"
    else:
        got = f"a {type(estimator).__name__}"
    raise TypeError(
        "verified_error needs a fitted torch network: a CertifiedBudgetClassifier, or a "
        "robustsk estimator or skorch net whose module_ is a torch.nn.Sequential of layers "
        f"the bounds support; got {got}. Certificates are computed through the network's "
        "layers, so other models cannot be verified."
    )


class VerifiedErrorScorer:
    """A scorer ``scorer(estimator, X, y) -> -verified error`` for GridSearchCV and
    cross_val_score.

    Like scikit-learn's ``neg_*`` scorers it returns the negated error, so
    greater is better.

    Parameters
    ----------
    budget : None, "learned", "uniform", float or ndarray, default=None
        As in :func:`verified_error`.
    bound : {"crown-ibp", "ibp", "crown", "best"}, default="crown-ibp"
        Bound method.
    """

    def __init__(self, budget: Any = None, bound: str = "crown-ibp"):
        self.budget = budget
        self.bound = bound

    def __call__(self, estimator: Any, X: ArrayLike, y: ArrayLike) -> float:
        return -verified_error(estimator, X, y, budget=self.budget, bound=self.bound)

    def __repr__(self):
        return f"VerifiedErrorScorer(budget={self.budget!r}, bound={self.bound!r})"
