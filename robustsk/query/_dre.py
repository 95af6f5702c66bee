"""DRE: density-based robust sampling with entropy (robust-AL paper, Algorithm 1)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    InstanceOf,
    Interval,
    RandomStateLike,
    declare_params,
    fill_doc,
    proportional_quotas,
    stratified_sample,
)
from ._base import check_points, check_query, predict_proba_batched, query_strategy
from ._docstrings import PARTS
from ._scores import entropy_scores


@query_strategy({"n_bins": [Interval(1, integer=True)]})
@fill_doc(**PARTS)
def dre(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    n_bins: int = 50,
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select a sample whose entropy distribution matches the pool's (DRE).

    The pool's predictive entropies are binned into a histogram of ``n_bins``
    equal-width bins spanning [min, max] -- the last bin is closed, so the
    maximum-entropy example is eligible -- and each bin receives a share of
    ``n_instances`` proportional to its count (largest-remainder rounding),
    drawn uniformly at random within the bin.

    Parameters
    ----------
    {proba_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seed of the within-bin sampling.
    n_bins : int, default=50
        Histogram bins (the paper uses 50).
    batch_size : int, default=1024
        Rows per ``predict_proba`` call.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions in ``X_pool``, grouped by entropy bin.
    scores : ndarray of shape (n_instances,)
        Entropy of each selected example.

    References
    ----------
    .. [1] Guo et al. "Robust Active Learning: Sample-Efficient Training of
       Robust Deep Learning Models", ICSE-SEIP 2022.
    """
    estimator, X_pool, rng = check_query(classifier, X_pool, n_instances, random_state, name="dre")
    entropy = entropy_scores(
        predict_proba_batched(estimator, X_pool, batch_size, n_jobs=n_jobs, block_size=block_size)
    )
    idx = dre_select(entropy, n_instances, rng, n_bins=n_bins)
    return idx, entropy[idx]


@declare_params(
    {
        "n_instances": [Interval(1, integer=True)],
        "rng": [InstanceOf(np.random.Generator, description="a numpy Generator")],
        "n_bins": [Interval(1, integer=True)],
    }
)
def dre_select(
    entropy: ArrayLike, n_instances: int, rng: np.random.Generator, *, n_bins: int = 50
) -> np.ndarray:
    """DRE's selection on precomputed entropies.

    Parameters
    ----------
    entropy : ndarray of shape (n_pool,)
        Predictive entropy of each pool example.
    n_instances : int
        How many to select.
    rng : numpy.random.Generator
        Source of the within-bin sampling.
    n_bins : int, default=50
        Histogram bins.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    """
    entropy = check_points(entropy, n_instances, "entropy", 1, count="n_instances")
    counts, edges = np.histogram(entropy, bins=n_bins)
    # np.histogram's bins are [e_i, e_i+1) except the last, which is closed.
    bin_of = np.clip(np.searchsorted(edges, entropy, side="right") - 1, 0, n_bins - 1)
    quotas = proportional_quotas(counts, n_instances, rng)
    return stratified_sample(bin_of, quotas, rng)
