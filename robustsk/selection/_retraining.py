"""Test selection for retraining (robust-AL paper, section 8)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import clone
from sklearn.utils import Bunch

from ..metrics import adversarial_examples
from ..query import dre
from ..utils import check_number, check_options, draw_seed, renamed_kwargs


@renamed_kwargs({"epochs": "max_epochs"})
def select_for_retraining(
    estimator: Any,
    X_candidates: ArrayLike,
    y_candidates: ArrayLike,
    n_instances: int,
    *,
    strategy: Callable[..., tuple[np.ndarray, np.ndarray]] = dre,
    X_train: ArrayLike | None = None,
    y_train: ArrayLike | None = None,
    eps: float = 0.3,
    alpha: float = 0.01,
    steps: int = 40,
    retrain: str = "continue",
    max_epochs: int | None = None,
    batch_size: int = 256,
    random_state: int | np.random.Generator | None = None,
    **strategy_params: Any,
) -> Bunch:
    """Select test inputs, attack them and retrain on the adversarial examples.

    The three steps of section 8: (1) ``strategy`` selects ``n_instances`` of
    the labelled candidates, (2) PGD crafts an adversarial example of each
    against the current model, (3) the model is retrained on the original
    training data (if given) plus these adversarial examples. The estimator
    passed in is left untouched.

    Parameters
    ----------
    estimator : fitted robustsk estimator or skorch net
        The model under test.
    X_candidates : array-like of shape (n, ...)
        Labelled inputs to select from (e.g. a test set).
    y_candidates : array-like of shape (n,)
        Their labels.
    n_instances : int
        Selection budget.
    strategy : callable, default=robustsk.query.dre
        Any acquisition strategy.
    X_train : array-like, default=None
        Original training inputs to retrain with.
    y_train : array-like, default=None
        Their labels.
    eps : float, default=0.3
        PGD radius (Linf).
    alpha : float, default=0.01
        PGD step size.
    steps : int, default=40
        PGD steps.
    retrain : {"continue", "scratch"}, default="continue"
        Fine-tune a copy of the model (``partial_fit``), or fit a clone from scratch.
    max_epochs : int or None, default=None
        Epochs of retraining; None keeps the estimator's ``max_epochs``.
    batch_size : int, default=256
        Examples attacked together.
    random_state : None, int or numpy Generator, default=None
        Seeds the selection and the attack.
    **strategy_params
        Passed to ``strategy``.

    Returns
    -------
    result : Bunch
        ``estimator`` (the retrained model), ``indices`` (selected positions in
        ``X_candidates``), ``scores`` and ``X_adv`` (the adversarial examples).
    """
    check_options(retrain, "retrain", {"continue", "scratch"})
    check_number(eps, "eps", low=0.0)
    if (X_train is None) != (y_train is None):
        raise ValueError("X_train and y_train must be given together.")
    seed = draw_seed(random_state)
    X_candidates = np.asarray(X_candidates, dtype=np.float32)
    y_candidates = np.asarray(y_candidates)
    indices, scores = strategy(
        estimator, X_candidates, n_instances, random_state=seed, **strategy_params
    )
    X_sel = X_candidates[indices]
    X_adv = adversarial_examples(
        estimator,
        X_sel,
        y_candidates[indices],
        eps=eps,
        alpha=alpha,
        steps=steps,
        batch_size=batch_size,
        random_state=seed,
    )
    X_fit, y_fit = X_adv, y_candidates[indices]
    if X_train is not None:
        X_fit = np.concatenate(
            [np.asarray(X_train, dtype=np.float32).reshape((-1,) + X_adv.shape[1:]), X_adv]
        )
        y_fit = np.concatenate([np.asarray(y_train), y_fit])
    if retrain == "continue":
        model_out = copy.deepcopy(estimator)
        if max_epochs is not None:
            model_out.set_params(max_epochs=max_epochs)
        model_out.partial_fit(X_fit, y_fit)
    else:
        model_out = clone(estimator)
        if max_epochs is not None:
            model_out.set_params(max_epochs=max_epochs)
        model_out.fit(X_fit, y_fit)
    return Bunch(
        estimator=model_out, indices=np.asarray(indices), scores=np.asarray(scores), X_adv=X_adv
    )
