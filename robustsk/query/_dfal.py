"""DFAL: DeepFool active learning (Ducoffe & Precioso 2018)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..attacks import deepfool
from ..utils import (
    DEFAULT_BLOCK_SIZE,
    Interval,
    RandomStateLike,
    TorchClassifier,
    batches,
    fill_doc,
    map_pool,
)
from ._base import check_query, query_strategy, select_top
from ._docstrings import PARTS


@query_strategy(
    {
        "candidates_factor": [Interval(1, integer=True)],
        "max_iter": [Interval(1, integer=True)],
        "overshoot": [Interval(0.0)],
    }
)
@fill_doc(**PARTS)
def dfal(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    candidates_factor: int = 10,
    max_iter: int = 50,
    overshoot: float = 0.02,
    batch_size: int = 256,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select the examples closest to the decision boundary by DeepFool's L2 distance.

    As in the paper's setting, DeepFool runs on a random subset of
    ``candidates_factor * n_instances`` candidates (the whole pool if smaller),
    and the candidates with the smallest perturbation norm are selected; the
    adversarial examples themselves are discarded.

    Parameters
    ----------
    {torch_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seeds the candidate subset and tie breaking.
    candidates_factor : int, default=10
        Size of the random subset, as a multiple of ``n_instances``.
    max_iter : int, default=50
        DeepFool iterations.
    overshoot : float, default=0.02
        DeepFool overshoot.
    batch_size : int, default=256
        Examples attacked together.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
        DeepFool L2 distances (``inf`` where the decision never flipped).
    """
    estimator, X_pool, rng = check_query(classifier, X_pool, n_instances, random_state, name="dfal")
    TorchClassifier(estimator, "dfal")  # a torch network, or a TypeError before any work
    n_cand = min(X_pool.shape[0], candidates_factor * n_instances)
    cand = np.sort(rng.choice(X_pool.shape[0], size=n_cand, replace=False))
    dist = map_pool(
        deepfool_distances,
        X_pool[cand],
        n_jobs=n_jobs,
        block_size=block_size,
        estimator=estimator,
        max_iter=max_iter,
        overshoot=overshoot,
        batch_size=batch_size,
    )
    pick, scores = select_top(dist, n_instances, rng, largest=False)
    return cand[pick], scores


def deepfool_distances(
    X: np.ndarray,
    *,
    estimator: Any,
    max_iter: int = 50,
    overshoot: float = 0.02,
    batch_size: int = 256,
) -> np.ndarray:
    """DeepFool's L2 distance of every row of ``X`` (``inf`` where the label never flipped)."""
    net = TorchClassifier(estimator, "dfal")
    clip = getattr(estimator, "clip", (0.0, 1.0))

    def model(x):
        return net.log_proba(net.module(x))

    dist = np.empty(X.shape[0])
    with net.evaluating():
        for s in batches(X.shape[0], batch_size):
            _, d, fooled = deepfool(
                model, net.tensor(X[s]), overshoot=overshoot, max_iter=max_iter, clip=clip
            )
            di = d.double().cpu().numpy()
            di[~fooled.cpu().numpy()] = np.inf
            dist[s] = di
    return dist
