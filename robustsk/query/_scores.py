"""Per-example scores on arrays of probabilities: the maths of the strategies, kept apart.

Each function takes probabilities of shape ``(n, C)`` (or Monte Carlo samples
``(T, n, C)``) and returns one score per example, shape ``(n,)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..utils import Interval, declare_params


def entropy_scores(proba: ArrayLike) -> np.ndarray:
    """Shannon entropy ``-sum_c p_c log p_c`` (natural log), Eq. 4 of the robust-AL paper.

    Parameters
    ----------
    proba : array-like of shape (n, C)
        Class probabilities, one row per example.

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    p = np.asarray(proba, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.where(p > 0, np.log(p), 0.0)
    return -(p * logp).sum(axis=-1)


def gini_scores(proba: ArrayLike) -> np.ndarray:
    """Gini impurity ``1 - sum_c p_c^2`` (DeepGini, Eq. 5).

    Parameters
    ----------
    proba : array-like of shape (n, C)
        Class probabilities, one row per example.

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    p = np.asarray(proba, dtype=np.float64)
    return 1.0 - (p * p).sum(axis=-1)


def least_confidence_scores(proba: ArrayLike) -> np.ndarray:
    """``1 - max_c p_c`` (Eq. 8).

    Parameters
    ----------
    proba : array-like of shape (n, C)
        Class probabilities, one row per example.

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    return 1.0 - np.asarray(proba, dtype=np.float64).max(axis=-1)


def margin_scores(proba: ArrayLike) -> np.ndarray:
    """Top-1 minus top-2 probability (Eq. 9); small means close to the boundary.

    Parameters
    ----------
    proba : array-like of shape (n, C)
        Class probabilities, one row per example.

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    p = np.asarray(proba, dtype=np.float64)
    top2 = np.partition(p, -2, axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def bald_scores(mc_proba: ArrayLike) -> np.ndarray:
    """Mutual information from Monte Carlo samples ``(T, n, C)`` (Eq. 6).

    Entropy of the mean prediction minus the mean entropy of the samples.

    Parameters
    ----------
    mc_proba : array-like of shape (T, n, C)
        Probabilities from T stochastic forward passes.

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    mc = np.asarray(mc_proba, dtype=np.float64)
    return entropy_scores(mc.mean(axis=0)) - entropy_scores(mc).mean(axis=0)


@declare_params({"n_classes": [Interval(1, integer=True)]})
def label_entropy_scores(labels: ArrayLike, n_classes: int) -> np.ndarray:
    """Entropy of the empirical distribution of hard labels ``(n, M)`` (AQPL Eq. 5).

    Parameters
    ----------
    labels : array-like of int, shape (n, M)
        Predicted labels of M perturbed copies of each example.
    n_classes : int
        Number of classes (labels are in ``[0, n_classes)``).

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    labels = np.asarray(labels)
    n, m = labels.shape
    flat = (np.arange(n)[:, None] * n_classes + labels).ravel()
    counts = np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes)
    return entropy_scores(counts / m)


def top2_classes(proba: ArrayLike):
    """Most and second most probable classes and their probabilities, each ``(n,)``."""
    p = np.asarray(proba)
    order = np.argpartition(-p, 1, axis=-1)[:, :2]
    first_is_top = (
        np.take_along_axis(p, order[:, :1], 1)[:, 0] >= np.take_along_axis(p, order[:, 1:], 1)[:, 0]
    )
    c1 = np.where(first_is_top, order[:, 0], order[:, 1])
    c2 = np.where(first_is_top, order[:, 1], order[:, 0])
    rows = np.arange(p.shape[0])
    return c1, c2, p[rows, c1], p[rows, c2]
