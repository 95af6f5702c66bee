"""Verified error: the share of examples whose prediction cannot be certified in their box."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from torch import nn

from ..certify import check_module, margin_lower_bounds
from ..utils import TorchClassifier, check_clip, check_options
from ._adversarial import encode_labels


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
    ValueError
        When ``budget`` is missing, negative or not finite.
    """
    check_options(bound, "bound", {"crown-ibp", "ibp", "crown", "best"})
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
    X = np.asarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity.")
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
