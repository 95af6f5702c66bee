"""The contract every acquisition strategy shares, and the helpers that enforce it.

A strategy is ``strategy(classifier, X_pool, n_instances=1, *, random_state=None,
**kw) -> (indices, scores)``: ``indices`` are unique positions in ``X_pool``
(int64), ``scores`` the strategy's score of each selected example. The
classifier may be a robustsk estimator, a skorch net, any scikit-learn
classifier with ``predict_proba``, or an active learner (modAL's or
robustsk's) wrapping one of these.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    batches,
    check_random_state_param,
    map_pool,
    numpy_generator,
)

#: Rows per forward pass when strategies stream the pool through a model.
DEFAULT_BATCH_SIZE = 1024


def unwrap_classifier(classifier):
    """Return the estimator inside an active learner, or the classifier itself."""
    if (
        hasattr(classifier, "query")
        and hasattr(classifier, "teach")
        and hasattr(classifier, "estimator")
    ):
        return classifier.estimator
    return classifier


def check_query(
    classifier: Any, X_pool: Any, n_instances: Any, random_state: Any, *, name: str
) -> tuple[Any, np.ndarray, np.random.Generator]:
    """Validate a strategy's common arguments; return ``(estimator, X_pool, rng)``."""
    if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral):
        raise TypeError(
            f"n_instances must be an int, got {n_instances!r} ({type(n_instances).__name__})."
        )
    if isinstance(X_pool, torch.Tensor):
        X_pool = X_pool.detach().cpu().numpy()
    X_pool = np.asarray(X_pool)
    if X_pool.ndim < 2:
        raise ValueError(f"X_pool must have shape (n_samples, ...), got shape {X_pool.shape}.")
    n_pool = X_pool.shape[0]
    if not 1 <= int(n_instances) <= n_pool:
        raise ValueError(
            f"n_instances must be in [1, {n_pool}] (the pool size), got {n_instances}."
        )
    check_random_state_param(random_state)
    estimator = unwrap_classifier(classifier)
    if estimator is None:
        raise TypeError(f"{name} needs a fitted classifier, got None.")
    return estimator, X_pool, numpy_generator(random_state)


def select_top(
    scores: np.ndarray, n_instances: int, rng: np.random.Generator, *, largest: bool = True
):
    """Indices of the ``n_instances`` highest (or lowest) scores, ties broken at random.

    Runs in O(n) with :func:`numpy.argpartition` on scores jittered only
    within ties (a random permutation decides the order of equal scores).
    """
    scores = np.asarray(scores, dtype=np.float64)
    key = scores if largest else -scores
    perm = rng.permutation(scores.shape[0])
    shuffled = key[perm]
    if n_instances < shuffled.shape[0]:
        part = np.argpartition(-shuffled, n_instances - 1)[:n_instances]
    else:
        part = np.arange(shuffled.shape[0])
    part = part[np.argsort(-shuffled[part], kind="stable")]
    idx = perm[part].astype(np.int64)
    return idx, scores[idx]


def predict_proba_batched(
    estimator,
    X,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> np.ndarray:
    """``estimator.predict_proba`` over ``X`` in batches (bounded memory).

    Blocks of ``block_size`` rows go through :func:`map_pool` (joblib tasks
    when ``n_jobs`` asks for more than one job), each predicted in batches of
    ``batch_size`` rows, so the result does not depend on ``n_jobs``.
    """
    check_predict_proba(estimator)
    return map_pool(
        _proba_block,
        X,
        n_jobs=n_jobs,
        block_size=block_size,
        estimator=estimator,
        batch_size=batch_size,
    )


def check_predict_proba(estimator) -> None:
    """TypeError unless ``estimator`` has ``predict_proba`` (or is a torch-backed net)."""
    if not hasattr(estimator, "predict_proba") and not hasattr(estimator, "module_"):
        raise TypeError(
            f"{type(estimator).__name__} has no predict_proba; probability-based strategies "
            "need a classifier with predict_proba."
        )


def _proba_block(X, *, estimator, batch_size):
    if X.shape[0] <= batch_size:
        return np.asarray(estimator.predict_proba(X))
    return np.concatenate(
        [np.asarray(estimator.predict_proba(X[s])) for s in batches(X.shape[0], batch_size)]
    )
