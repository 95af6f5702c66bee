"""BADGE: k-means++ seeding on the last layer's gradient embeddings (Ash et al. 2020).

An example's gradient embedding is the gradient of the loss, at the label the
model predicts, with respect to the last linear layer's weights and bias:
``(p - e_yhat) (x) [h, 1]``, with ``p`` the predicted probabilities and ``h`` the
layer's input. Its norm is large where the model is unsure (uncertainty); k-means++
seeding then picks examples far from those already picked (diversity). The
embeddings are never built: with ``g = a (x) b``,
``<g_i, g_j> = <a_i, a_j> <b_i, b_j>``, so every squared distance to a new centre
comes from two small matrix-vector products, ``O(n (C + d))`` per pick.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    InstanceOf,
    Interval,
    RandomStateLike,
    TorchClassifier,
    declare_params,
    fill_doc,
    map_pool,
)
from ._base import _proba_block, check_points, check_query, query_strategy
from ._docstrings import PARTS
from ._embeddings import penultimate_embeddings


def _factors(X, *, estimator, batch_size):
    """The two factors of each gradient embedding: ``p - e_yhat`` and ``[h, 1]``."""
    h = penultimate_embeddings(estimator, X, batch_size=batch_size).astype(np.float64)
    p = _proba_block(X, estimator=estimator, batch_size=batch_size).astype(np.float64)
    a = p.copy()
    a[np.arange(len(p)), p.argmax(axis=1)] -= 1.0
    return a, np.hstack([h, np.ones((len(h), 1))])


@declare_params(
    {
        "a": [InstanceOf(np.ndarray)],
        "b": [InstanceOf(np.ndarray)],
        "n": [Interval(1, integer=True)],
        "rng": [InstanceOf(np.random.Generator, description="a numpy Generator")],
    }
)
def kmeans_pp_factored(
    a: np.ndarray, b: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding of the points ``a_i (x) b_i`` without building them.

    The first centre is the point of largest norm (as BADGE's reference code);
    each next one is drawn with probability proportional to its squared
    distance to the nearest centre chosen so far (uniformly among the points
    not yet chosen when every distance is 0).

    Parameters
    ----------
    a : ndarray of shape (n_points, p)
        First factors.
    b : ndarray of shape (n_points, q)
        Second factors.
    n : int
        Centres to pick.
    rng : numpy.random.Generator
        Draws the centres.

    Returns
    -------
    indices : ndarray of shape (n,)
        In selection order.
    d2 : ndarray of shape (n,)
        Each pick's squared distance to its nearest earlier centre (its squared
        norm for the first).
    """
    check_points(a, n, "a", 2)
    if b.ndim != 2 or b.shape[0] != a.shape[0]:
        raise ValueError(
            f"b must have shape (n_points, q) with the {a.shape[0]} points of a, got {b.shape}."
        )
    aa, bb = (a * a).sum(axis=1), (b * b).sum(axis=1)
    norms2 = aa * bb
    chosen = np.empty(n, dtype=np.int64)
    picked_d2 = np.empty(n)
    first = int(np.argmax(norms2))
    chosen[0], picked_d2[0] = first, norms2[first]
    nearest = np.full(len(a), np.inf)
    taken = np.zeros(len(a), dtype=bool)
    for k in range(n):
        if k:
            weights = np.where(taken, 0.0, nearest)
            total = weights.sum()
            if total > 0:
                i = int(rng.choice(len(a), p=weights / total))
            else:  # duplicates of the centres only: any point not chosen yet
                i = int(rng.choice(np.flatnonzero(~taken)))
            chosen[k], picked_d2[k] = i, nearest[i]
        i = int(chosen[k])
        taken[i] = True
        d2 = norms2 + norms2[i] - 2.0 * (a @ a[i]) * (b @ b[i])
        nearest = np.minimum(nearest, np.clip(d2, 0.0, None))
    return chosen, picked_d2


@query_strategy()
@fill_doc(**PARTS)
def badge(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select by BADGE: k-means++ seeding on gradient embeddings (Ash et al. 2020).

    Needs a torch network whose last layer is linear (robustsk estimator or
    skorch net). Each pool example's embedding is the loss gradient with
    respect to that layer's weights and bias at the predicted label,
    ``(p - e_yhat) (x) [h, 1]``; k-means++ seeding on them picks a batch that is
    both uncertain (large gradients) and diverse (far apart). Memory is
    ``O(n_pool (C + d))``: the ``C x (d + 1)`` embeddings are never built.

    Parameters
    ----------
    {torch_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Draws the k-means++ centres.
    batch_size : int, default=1024
        Rows per forward pass.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        In selection order.
    scores : ndarray of shape (n_instances,)
        Each pick's squared distance to the nearest earlier pick in the gradient
        embedding (its squared gradient norm for the first).
    """
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="badge"
    )
    TorchClassifier(estimator, "badge")  # a torch network, or a TypeError before any work
    a, b = map_pool(
        _factors,
        X_pool,
        n_jobs=n_jobs,
        block_size=block_size,
        estimator=estimator,
        batch_size=batch_size,
    )
    return kmeans_pp_factored(a, b, int(n_instances), rng)
