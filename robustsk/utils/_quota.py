"""Stratified sampling: a quota of each stratum, drawn uniformly without replacement.

The one sampler behind DRE's per-entropy-bin draw (:func:`robustsk.query.dre`) and the
per-class draw of :class:`robustsk.selection.RobustSubsetSelector`; what differs between
them is only how the quotas are set.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def proportional_quotas(counts: ArrayLike, n: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``n`` over strata in proportion to their sizes ``counts``.

    Largest-remainder rounding: each stratum gets ``floor(n * count / total)`` and the
    ``n`` left over go one each to the largest fractional parts, ties broken at random;
    a stratum never gets more than its size.

    Parameters
    ----------
    counts : array-like of int, shape (n_strata,)
        Size of each stratum; the total must be at least ``n`` and positive.
    n : int
        Quotas' total.
    rng : numpy.random.Generator
        Breaks ties between equal remainders.

    Returns
    -------
    quotas : ndarray of int64, shape (n_strata,)
        Summing to ``n``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    exact = n * counts / counts.sum()
    quotas = np.floor(exact).astype(np.int64)
    remainder = n - quotas.sum()
    if remainder:
        frac = exact - quotas
        frac[quotas >= counts] = -1.0  # a full stratum cannot take more
        order = np.lexsort((rng.random(len(counts)), -frac))
        quotas[order[:remainder]] += 1
    return quotas


def stratified_sample(strata: ArrayLike, quotas: ArrayLike, rng: np.random.Generator) -> np.ndarray:
    """Draw ``quotas[s]`` items of each stratum ``s``, uniformly without replacement.

    Every item gets a random rank within its stratum (one ``rng.random`` draw per item,
    in item order) and those ranked below their stratum's quota are kept; a quota above
    the stratum's size keeps the whole stratum.

    Parameters
    ----------
    strata : array-like of int, shape (n_items,)
        Stratum of each item, in ``[0, len(quotas))``.
    quotas : array-like of int, shape (n_strata,)
        How many to draw from each stratum.
    rng : numpy.random.Generator
        Source of the draw.

    Returns
    -------
    indices : ndarray of int64, shape (n_selected,)
        Positions of the drawn items, grouped by stratum (in stratum order), in random
        order within a stratum.
    """
    strata = np.asarray(strata)
    quotas = np.asarray(quotas)
    order = np.lexsort((rng.random(len(strata)), strata))  # strata in order, random within
    sorted_strata = strata[order]
    starts = np.searchsorted(sorted_strata, np.arange(len(quotas)))
    rank = np.arange(order.shape[0]) - starts[sorted_strata]
    return order[rank < quotas[sorted_strata]].astype(np.int64)
