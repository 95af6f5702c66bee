"""ProbCover: greedy maximum coverage of the pool by balls of radius delta (Yehuda et al. 2022)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    Boolean,
    Interval,
    Options,
    RandomStateLike,
    declare_params,
    fill_doc,
)
from ._base import check_points, check_query, query_strategy
from ._docstrings import PARTS
from ._typiclust import labeled_embeddings


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


#: The purity ProbCover's rule for delta asks of the balls.
ALPHA = [Interval(0.0, 1.0, closed="right")]


@declare_params(
    {
        "n_clusters": [Interval(1, integer=True)],
        "alpha": ALPHA,
        "random_state": [None, Interval(0, 2**32 - 1, integer=True)],
        "n_candidates": [Interval(1, integer=True)],
    }
)
def purity_delta(
    embeddings: np.ndarray,
    n_clusters: int,
    *,
    alpha: float = 0.95,
    random_state: int = 0,
    n_candidates: int = 20,
) -> float:
    """The largest radius whose balls are ``alpha``-pure under k-means pseudo-labels.

    ProbCover's rule for delta: cluster the (normalised) embeddings into
    ``n_clusters`` clusters; a ball is pure when every point in it shares its
    centre's cluster; return the largest candidate radius (quantiles of the
    nearest-neighbour distances up to the median pairwise scale) at which at
    least a fraction ``alpha`` of the balls are pure.

    Parameters
    ----------
    embeddings : ndarray of shape (n, d)
        The points.
    n_clusters : int
        Pseudo-label clusters (the number of classes).
    alpha : float, default=0.95
        Required fraction of pure balls.
    random_state : int, default=0
        Seeds k-means.
    n_candidates : int, default=20
        Radii tried.

    Returns
    -------
    delta : float
        The smallest candidate when none is pure enough.
    """
    embeddings = check_points(embeddings, n_clusters, "embeddings", 2, count="n_clusters")
    labels = KMeans(n_clusters=n_clusters, n_init=1, random_state=random_state).fit_predict(
        embeddings
    )
    nn = NearestNeighbors().fit(embeddings)
    d1 = nn.kneighbors(embeddings, n_neighbors=min(2, len(embeddings)))[0][:, -1]
    high = float(
        np.quantile(nn.kneighbors(embeddings, n_neighbors=min(20, len(embeddings)))[0][:, -1], 0.9)
    )
    grid = np.linspace(float(np.quantile(d1, 0.1)), max(high, 1e-9), n_candidates)
    best = float(grid[0])
    for delta in grid:
        graph = nn.radius_neighbors_graph(embeddings, radius=float(delta)).tocoo()
        impure = np.zeros(len(embeddings), dtype=bool)
        bad = labels[graph.row] != labels[graph.col]
        impure[graph.row[bad]] = True
        if 1.0 - impure.mean() >= alpha:
            best = float(delta)
        else:
            break
    return best


@query_strategy(
    {
        "delta": [Options(["auto"]), Interval(0.0, closed="neither")],
        "alpha": ALPHA,
        "normalize": [Boolean()],
    }
)
@fill_doc(**PARTS)
def probcover(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    X_labeled: ArrayLike | None = None,
    delta: float | str = "auto",
    alpha: float = 0.95,
    normalize: bool = True,
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select by ProbCover: the examples whose delta-balls cover the most uncovered pool.

    On the unit-normalised embeddings (penultimate layer of a torch network,
    probabilities of other classifiers), each example covers the pool examples
    within ``delta`` of it; the labelled set's balls are covered from the
    start. Each pick takes the example covering the most still-uncovered
    examples (ties at random), and a random one once everything is covered.
    ``delta="auto"`` is the paper's rule (:func:`purity_delta`): the largest
    radius at which a fraction ``alpha`` of the balls are pure under k-means
    pseudo-labels with as many clusters as classes. The low-budget strategy of
    Yehuda et al. (2022).

    Parameters
    ----------
    classifier : fitted classifier, or an active learner wrapping one
        Gives the embeddings (and ``classes_`` for ``delta="auto"``); an active
        learner supplies its ``X_training`` as ``X_labeled``.
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seeds k-means and ties.
    X_labeled : array-like of shape (n_labeled, ...) or None, default=None
        The labelled set.
    delta : float or "auto", default="auto"
        Ball radius on the unit-normalised embeddings.
    alpha : float, default=0.95
        Purity required by ``delta="auto"``.
    normalize : bool, default=True
        Scale each embedding to unit length first (the paper's setting); False
        measures raw Euclidean distances (as scikit-activeml's ``ProbCover``).
    batch_size : int, default=1024
        Rows per forward pass.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        In selection order.
    scores : ndarray of shape (n_instances,)
        Pool examples newly covered by each pick (0 after full coverage).
    """
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="probcover"
    )
    par = dict(n_jobs=n_jobs, block_size=block_size, estimator=estimator, batch_size=batch_size)
    pool, labeled = labeled_embeddings(classifier, X_labeled, X_pool, estimator, par, "probcover")
    if normalize:
        pool = _normalised(pool)
        labeled = None if labeled is None else _normalised(labeled)
    if isinstance(delta, str):
        n_classes = len(getattr(estimator, "classes_", [])) or 10
        delta = purity_delta(
            pool,
            min(n_classes, len(pool)),
            alpha=alpha,
            random_state=int(rng.integers(2**31 - 1)),
        )
    nn = NearestNeighbors(radius=float(delta)).fit(pool)
    graph = nn.radius_neighbors_graph(pool, radius=float(delta)).tocsr()  # row i: i's ball
    graph.data[:] = 1.0
    uncovered = np.ones(len(pool))
    if labeled is not None:
        covered = nn.radius_neighbors_graph(labeled, radius=float(delta))
        uncovered[np.unique(covered.indices)] = 0.0
    taken = np.zeros(len(pool), dtype=bool)
    chosen = np.empty(int(n_instances), dtype=np.int64)
    scores = np.empty(int(n_instances))
    for k in range(int(n_instances)):
        gain = graph @ uncovered
        gain[taken] = -1.0
        best = gain.max()
        if best > 0:
            i = int(rng.choice(np.flatnonzero(gain == best)))
        else:  # everything covered: any example not picked yet
            i = int(rng.choice(np.flatnonzero(~taken)))
            best = 0.0
        chosen[k], scores[k] = i, best
        taken[i] = True
        uncovered[graph.indices[graph.indptr[i] : graph.indptr[i + 1]]] = 0.0
    return chosen, scores
