"""Core-set selection: greedy k-center on penultimate embeddings (Sener & Savarese 2018)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    InstanceOf,
    Interval,
    RandomStateLike,
    declare_params,
    fill_doc,
    map_pool,
)
from ._base import (
    _proba_block,
    check_labeled,
    check_points,
    check_predict_proba,
    check_query,
    query_strategy,
)
from ._docstrings import PARTS
from ._embeddings import penultimate_embeddings


@declare_params(
    {
        "pool": [InstanceOf(torch.Tensor)],
        "centers": [None, InstanceOf(torch.Tensor)],
        "n": [Interval(1, integer=True)],
        "rng": [InstanceOf(np.random.Generator, description="a numpy Generator")],
        "chunk": [Interval(1, integer=True)],
    }
)
def greedy_k_center(
    pool: torch.Tensor,
    centers: torch.Tensor | None,
    n: int,
    rng: np.random.Generator,
    *,
    chunk: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center: repeatedly take the pool point farthest from all centres.

    Distances to the labelled centres are computed once, in chunks (memory
    ``chunk x n_centres``); each greedy step then updates every point's
    distance to its nearest centre in one vectorized operation.

    Parameters
    ----------
    pool : torch.Tensor of shape (n_pool, d)
        Embeddings of the candidates.
    centers : torch.Tensor of shape (n_centers, d) or None
        Embeddings of the labelled examples.
    n : int
        How many to choose.
    rng : numpy.random.Generator
        Picks the first point when there are no centres.
    chunk : int, default=2048
        Centres per distance block.

    Returns
    -------
    indices : ndarray of shape (n,)
        In selection order.
    gaps : ndarray of shape (n,)
        Each chosen point's distance to its nearest centre when chosen.
    """
    check_points(pool, n, "pool", 2)
    n_pool = pool.shape[0]
    min_dist = torch.full((n_pool,), float("inf"), dtype=pool.dtype, device=pool.device)
    if centers is not None and centers.shape[0]:
        for start in range(0, centers.shape[0], chunk):
            d = torch.cdist(pool, centers[start : start + chunk])  # (n_pool, chunk)
            min_dist = torch.minimum(min_dist, d.min(dim=1).values)
    chosen = np.empty(n, dtype=np.int64)
    gaps = np.empty(n)
    for k in range(n):
        if torch.isinf(min_dist).all():  # no centre yet: start from a random point
            i = int(rng.integers(n_pool))
            gaps[k] = np.inf
        else:
            i = int(torch.argmax(min_dist))
            gaps[k] = float(min_dist[i])
        chosen[k] = i
        min_dist = torch.minimum(min_dist, (pool - pool[i]).norm(dim=1))
        min_dist[i] = -1.0  # never chosen twice
    return chosen, gaps


@query_strategy()
@fill_doc(**PARTS)
def coreset(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    X_labeled: ArrayLike | None = None,
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select a core set: greedy k-center on the network's penultimate embeddings.

    Every labelled example is a centre; each step takes the pool example
    farthest from its nearest centre and makes it a centre. Embeddings are the
    input of the last linear layer for robustsk estimators and skorch nets, and
    the predicted probabilities for other classifiers.

    Parameters
    ----------
    classifier : fitted classifier, or an active learner wrapping one
        An active learner supplies its ``X_training`` as ``X_labeled``.
    {pool}
    random_state : None, int or numpy Generator, default=None
        Picks the first centre when there is no labelled data.
    X_labeled : array-like of shape (n_labeled, ...) or None, default=None
        The labelled set (the initial centres).
    batch_size : int, default=1024
        Rows per forward pass.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        In selection order.
    scores : ndarray of shape (n_instances,)
        Distance of each selected example to its nearest centre when chosen.
    """
    if X_labeled is None and hasattr(classifier, "teach"):
        X_labeled = getattr(classifier, "X_training", None)
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="coreset"
    )
    labeled = check_labeled(X_labeled, estimator, caller="coreset")
    par = dict(n_jobs=n_jobs, block_size=block_size, estimator=estimator, batch_size=batch_size)
    pool = torch.from_numpy(map_pool(_embed, X_pool, **par))
    centers = None
    if labeled is not None:
        centers = torch.from_numpy(map_pool(_embed, labeled, **par))
    return greedy_k_center(pool, centers, n_instances, rng)


def _embed(X, *, estimator, batch_size):
    if hasattr(estimator, "module_"):
        return penultimate_embeddings(estimator, X, batch_size=batch_size)
    check_predict_proba(estimator)
    return _proba_block(X, estimator=estimator, batch_size=batch_size).astype(np.float32)
