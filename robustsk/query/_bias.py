"""Selection bias: how far a selected set's characteristics are from the pool's (section 6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import Interval, declare_params
from ._base import check_pool, predict_proba_batched, unwrap_classifier
from ._scores import entropy_scores, gini_scores, least_confidence_scores, margin_scores

CHARACTERISTICS = {
    "entropy": entropy_scores,
    "gini": gini_scores,
    "least_confidence": least_confidence_scores,
    "margin": margin_scores,
}


def jensen_shannon(p: ArrayLike, q: ArrayLike) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two histograms.

    Parameters
    ----------
    p : array-like of shape (n_bins,)
        Counts or probabilities of the first distribution (normalized here).
    q : array-like of shape (n_bins,)
        The second distribution, on the same bins.

    Returns
    -------
    jsd : float
    """
    pa = np.asarray(p, dtype=np.float64)
    qa = np.asarray(q, dtype=np.float64)
    pa, qa = pa / pa.sum(), qa / qa.sum()
    m = (pa + qa) / 2

    def kl(a, b):
        mask = a > 0
        return float((a[mask] * np.log2(a[mask] / b[mask])).sum())

    return 0.5 * kl(pa, m) + 0.5 * kl(qa, m)


@declare_params({"n_bins": [Interval(1, integer=True)]})
def selection_bias(
    classifier: Any,
    X_pool: ArrayLike,
    indices: ArrayLike,
    *,
    y_pool: ArrayLike | None = None,
    proba: ArrayLike | None = None,
    characteristics: Sequence[str] | None = None,
    n_bins: int = 50,
) -> dict:
    """Jensen-Shannon divergence between the selected set's and the pool's characteristics.

    For each characteristic (the predictive entropy, Gini impurity, least
    confidence and margin of the classifier's probabilities, and the true
    label), both the pool's and the selection's values are turned into
    histograms with ``n_bins`` shared bins spanning the pool's range (one bin
    per class for the label), and their divergence is reported (Eq. 12).
    0 means the selection is representative; 1 is the maximum.

    Parameters
    ----------
    classifier : fitted classifier with ``predict_proba`` (or a learner), or None
        Not needed when ``proba`` is given.
    X_pool : array-like of shape (n_pool, ...)
        The pool the selection was made from.
    indices : array-like of int
        Positions of the selected examples in ``X_pool``.
    y_pool : array-like of shape (n_pool,), default=None
        True labels; required for the "label" characteristic.
    proba : array-like of shape (n_pool, n_classes), default=None
        Precomputed probabilities for the pool.
    characteristics : list of str, default=None
        From "entropy", "gini", "least_confidence", "margin", "label"; by
        default all four probability characteristics, plus "label" when
        ``y_pool`` is given.
    n_bins : int, default=50
        Histogram bins.

    Returns
    -------
    bias : dict
        ``{characteristic: JSD}``.
    """
    if characteristics is None:
        characteristics = list(CHARACTERISTICS) + (["label"] if y_pool is not None else [])
    unknown = [c for c in characteristics if c not in CHARACTERISTICS and c != "label"]
    if unknown:
        raise ValueError(
            f"characteristics must be from {list(CHARACTERISTICS) + ['label']}, got {unknown!r}."
        )
    if "label" in characteristics and y_pool is None:
        raise ValueError("the 'label' characteristic needs y_pool.")
    needs_proba = proba is None and any(c != "label" for c in characteristics)
    estimator = unwrap_classifier(classifier)
    if needs_proba:  # the model sees the pool: check it first
        X_pool = check_pool(X_pool, estimator, caller="selection_bias")
    else:
        X_pool = np.asarray(X_pool)
    proba = None if proba is None else np.asarray(proba)
    n_pool = len(X_pool) if proba is None else len(proba)
    indices = np.asarray(indices)
    if (
        indices.dtype.kind not in "iu"
        or indices.ndim != 1
        or indices.size == 0
        or indices.min() < 0
        or indices.max() >= n_pool
    ):
        raise ValueError(
            f"indices must be a non-empty 1-d array of integer positions in [0, {n_pool}), "
            f"got dtype {indices.dtype}, shape {indices.shape}."
        )
    if needs_proba:
        proba = predict_proba_batched(estimator, X_pool)
    bias = {}
    for name in characteristics:
        if name == "label":
            labels, codes = np.unique(np.asarray(y_pool), return_inverse=True)
            pool_hist = np.bincount(codes, minlength=len(labels))
            sel_hist = np.bincount(codes[indices], minlength=len(labels))
        else:
            assert proba is not None  # computed above for every probability characteristic
            values = CHARACTERISTICS[name](proba)
            edges = np.histogram_bin_edges(values, bins=n_bins)
            pool_hist, _ = np.histogram(values, bins=edges)
            sel_hist, _ = np.histogram(values[indices], bins=edges)
        bias[name] = jensen_shannon(sel_hist, pool_hist)
    return bias
