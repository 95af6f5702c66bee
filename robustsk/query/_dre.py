"""DRE: density-based robust sampling with entropy (robust-AL paper, Algorithm 1)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    InstanceOf,
    Interval,
    Options,
    RandomStateLike,
    declare_params,
    fill_doc,
    proportional_quotas,
    stratified_sample,
)
from ._base import check_points, check_query, predict_proba_batched, query_strategy
from ._docstrings import PARTS
from ._scores import entropy_scores

#: How a bin's share of the batch is counted (see :func:`dre`).
QUOTAS = ("proportional", "reference")


@query_strategy({"n_bins": [Interval(1, integer=True)], "quota": [Options(set(QUOTAS))]})
@fill_doc(**PARTS)
def dre(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    n_bins: int = 50,
    quota: str = "proportional",
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select a sample whose entropy distribution matches the pool's (DRE).

    The pool's predictive entropies are binned into a histogram of ``n_bins``
    equal-width bins spanning [min, max], and each bin gets a share of
    ``n_instances`` drawn uniformly at random within it. ``quota`` says how the
    shares are counted:

    * ``"proportional"`` (what the paper's text describes: the sample's entropy
      distribution matches the pool's): exact proportional quotas,
      ``n_instances * count / n_pool`` rounded by largest remainders (ties at
      random); the last bin is closed, so the maximum-entropy example is eligible.
    * ``"reference"`` (what the paper's public code, ``dreSel``, runs to produce
      its Table 5): every occupied bin gets ``ceil(n_instances * count / n_pool)``
      picks (at most its members), the bins' picks are concatenated from low to
      high entropy and the last ``n_instances`` kept, so the surplus is always cut
      from the most confident bins and every occupied high-entropy bin keeps at
      least one pick. Its bins are all half-open, ``[e_i, e_i+1)``, so the pool's
      maximum is in none of them; in the rare case that leaves the batch short (a
      batch as large as the pool), it is topped up with the highest-entropy
      examples not picked. Its batches therefore lean to higher entropy than the
      proportional quota's.

    Parameters
    ----------
    {proba_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seed of the within-bin sampling.
    n_bins : int, default=50
        Histogram bins (the paper uses 50).
    quota : {{"proportional", "reference"}}, default="proportional"
        How a bin's share is counted: the paper's text or its code (above).
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
    idx = dre_select(entropy, n_instances, rng, n_bins=n_bins, quota=quota)
    return idx, entropy[idx]


@declare_params(
    {
        "n_instances": [Interval(1, integer=True)],
        "rng": [InstanceOf(np.random.Generator, description="a numpy Generator")],
        "n_bins": [Interval(1, integer=True)],
        "quota": [Options(set(QUOTAS))],
    }
)
def dre_select(
    entropy: ArrayLike,
    n_instances: int,
    rng: np.random.Generator,
    *,
    n_bins: int = 50,
    quota: str = "proportional",
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
    quota : {"proportional", "reference"}, default="proportional"
        How a bin's share is counted (see :func:`dre`).

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Grouped by bin, from low to high entropy.
    """
    entropy = np.asarray(check_points(entropy, n_instances, "entropy", 1, count="n_instances"))
    counts, edges = np.histogram(entropy, bins=n_bins)
    bin_of = np.searchsorted(edges, entropy, side="right") - 1  # [e_i, e_i+1): max -> n_bins
    if quota == "proportional":
        # np.histogram's last bin is closed: the maximum belongs to it
        quotas = proportional_quotas(counts, n_instances, rng)
        return stratified_sample(np.minimum(bin_of, n_bins - 1), quotas, rng)
    members = np.bincount(bin_of, minlength=n_bins + 1)[:n_bins]  # the max in no bin
    quotas = np.minimum(-(-counts * n_instances // len(entropy)), members)  # exact ceil
    picked = stratified_sample(bin_of, np.append(quotas, 0), rng)[-n_instances:]
    short = n_instances - len(picked)
    if short:  # the max's bin lost a pick: the highest-entropy examples left
        rest = np.setdiff1d(np.arange(len(entropy)), picked)
        top = rest[np.argsort(entropy[rest], kind="stable")[len(rest) - short :]]
        picked = np.concatenate([picked, top])
    return picked
