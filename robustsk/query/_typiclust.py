"""TypiClust: the most typical example of the largest uncovered cluster (Hacohen et al. 2022)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    Interval,
    RandomStateLike,
    declare_params,
    fill_doc,
    map_pool,
)
from ._base import check_labeled, check_points, check_query, query_strategy
from ._coreset import _embed
from ._docstrings import PARTS


@declare_params({"k": [Interval(1, integer=True)]})
def typicality(embeddings: np.ndarray, k: int) -> np.ndarray:
    """``1 / mean distance to the k nearest neighbours`` (among ``embeddings``), per row.

    Parameters
    ----------
    embeddings : ndarray of shape (n, d)
        The points (one cluster's, for TypiClust).
    k : int
        Neighbours (fewer when the cluster is smaller).

    Returns
    -------
    typicality : ndarray of shape (n,)
        1 for a lone point.
    """
    embeddings = check_points(embeddings, 1, "embeddings", 2)
    n = len(embeddings)
    if n == 1:
        return np.ones(1)
    k = min(k, n - 1)
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(embeddings).kneighbors(embeddings)
    return 1.0 / np.maximum(dist[:, 1:].mean(axis=1), 1e-12)


def labeled_embeddings(classifier, X_labeled, X_pool, estimator, par, caller):
    """The pool's embeddings and the labelled set's (None when there is none)."""
    if X_labeled is None and hasattr(classifier, "teach"):
        X_labeled = getattr(classifier, "X_training", None)
    X_labeled = check_labeled(X_labeled, estimator, caller=caller)  # before any model call
    pool = map_pool(_embed, X_pool, **par)
    labeled = None
    if X_labeled is not None:
        labeled = map_pool(_embed, X_labeled, **par)
    return pool.astype(np.float64), None if labeled is None else labeled.astype(np.float64)


@query_strategy({"k_neighbors": [Interval(1, integer=True)]})
@fill_doc(**PARTS)
def typiclust(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    X_labeled: ArrayLike | None = None,
    k_neighbors: int = 20,
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select by TypiClust: typical examples of the clusters the labels do not cover yet.

    The embeddings of the pool and the labelled set (penultimate layer of a
    torch network, probabilities of other classifiers) are clustered by k-means
    into ``n_labeled + n_instances`` clusters. Each pick takes the cluster with
    the fewest labelled or picked examples (the largest among equals) and, in
    it, the pool example of highest typicality, the inverse of its mean
    distance to its ``k_neighbors`` nearest neighbours in the cluster. The
    low-budget strategy of Hacohen et al. (2022), for the first rounds when
    uncertainty is not yet informative.

    Parameters
    ----------
    classifier : fitted classifier, or an active learner wrapping one
        Gives the embeddings; an active learner supplies its ``X_training`` as
        ``X_labeled``.
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seeds k-means and ties.
    X_labeled : array-like of shape (n_labeled, ...) or None, default=None
        The labelled set.
    k_neighbors : int, default=20
        Neighbours of the typicality (the paper's 20).
    batch_size : int, default=1024
        Rows per forward pass.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        In selection order.
    scores : ndarray of shape (n_instances,)
        Each pick's typicality in its cluster.
    """
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="typiclust"
    )
    par = dict(n_jobs=n_jobs, block_size=block_size, estimator=estimator, batch_size=batch_size)
    pool, labeled = labeled_embeddings(classifier, X_labeled, X_pool, estimator, par, "typiclust")
    n_labeled = 0 if labeled is None else len(labeled)
    data = pool if labeled is None else np.vstack([pool, labeled])
    n_clusters = min(len(data), n_labeled + int(n_instances))
    km = KMeans(n_clusters=n_clusters, n_init=1, random_state=int(rng.integers(2**31 - 1)))
    assign = km.fit_predict(data)
    pool_cluster = assign[: len(pool)]
    count = np.bincount(assign[len(pool) :], minlength=n_clusters).astype(np.int64)
    size = np.bincount(assign, minlength=n_clusters)
    typical = np.empty(len(pool))
    for c in range(n_clusters):
        members = np.flatnonzero(pool_cluster == c)
        if len(members):
            typical[members] = typicality(pool[members], k_neighbors)
    left = np.bincount(pool_cluster, minlength=n_clusters)  # unpicked pool rows per cluster
    taken = np.zeros(len(pool), dtype=bool)
    chosen = np.empty(int(n_instances), dtype=np.int64)
    scores = np.empty(int(n_instances))
    for k in range(int(n_instances)):
        open_ = np.flatnonzero(left > 0)
        fewest = open_[count[open_] == count[open_].min()]
        c = int(fewest[np.argmax(size[fewest])])
        members = np.flatnonzero((pool_cluster == c) & ~taken)
        i = int(members[np.argmax(typical[members])])
        chosen[k], scores[k] = i, typical[i]
        taken[i] = True
        left[c] -= 1
        count[c] += 1
    return chosen, scores
