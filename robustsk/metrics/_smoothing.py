"""Certified accuracy of a smoothed classifier: at a radius, over radii, and as a scorer."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import check_number


def _certified(smoothed: Any, X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per example: certified correctly (bool) and the radius (NaN where abstained)."""
    if not hasattr(smoothed, "certify"):
        raise TypeError(
            "certified accuracy needs a fitted SmoothedClassifier (a model with certify(X) "
            f"returning labels and radii), got a {type(smoothed).__name__}; wrap the model: "
            "SmoothedClassifier(FrozenEstimator(model), sigma=...).fit(X, y)."
        )
    y = np.asarray(y)
    labels, radius = smoothed.certify(X)
    if len(labels) != len(y):
        raise ValueError(f"X has {len(labels)} examples but y has {len(y)} labels.")
    correct = np.asarray(labels == y, dtype=bool) & ~np.isnan(radius)
    return correct, radius


def certified_accuracy(smoothed: Any, X: ArrayLike, y: ArrayLike, *, radius: float = 0.0) -> float:
    """Share of examples certified correct with an L2 radius of at least ``radius``.

    Parameters
    ----------
    smoothed : fitted SmoothedClassifier
        The smoothed classifier (:class:`~robustsk.estimators.SmoothedClassifier`).
    X : array-like of shape (n_examples, ...)
        Examples.
    y : array-like of shape (n_examples,)
        True labels.
    radius : float, default=0.0
        L2 radius; 0 counts every correct certified prediction.

    Returns
    -------
    accuracy : float
    """
    check_number(radius, "radius", low=0.0)
    correct, radii = _certified(smoothed, X, y)
    return float(np.mean(correct & (np.nan_to_num(radii, nan=-1.0) >= radius)))


def certified_accuracy_curve(
    smoothed: Any, X: ArrayLike, y: ArrayLike, *, radii: ArrayLike | None = None
) -> dict[str, np.ndarray]:
    """Certified accuracy at every radius of ``radii``, from one certification of ``X``.

    Parameters
    ----------
    smoothed : fitted SmoothedClassifier
        The smoothed classifier.
    X : array-like of shape (n_examples, ...)
        Examples.
    y : array-like of shape (n_examples,)
        True labels.
    radii : array-like or None, default=None
        Radii; None takes 0 to the largest certified radius in 50 steps.

    Returns
    -------
    curve : dict
        ``radius`` and ``accuracy`` (same length), and ``radii_per_example`` (NaN
        for abstentions and wrong predictions).
    """
    correct, per_example = _certified(smoothed, X, y)
    ok = np.where(correct, per_example, np.nan)
    if radii is None:
        top = np.nanmax(ok) if np.isfinite(ok).any() else 0.0
        radii = np.linspace(0.0, float(top), 50)
    r = np.asarray(radii, dtype=np.float64)
    if r.ndim != 1 or not np.isfinite(r).all() or (r < 0).any():
        raise ValueError(f"radii must be a 1-d array of radii >= 0, got {radii!r}.")
    filled = np.nan_to_num(ok, nan=-1.0)
    accuracy = (filled[None, :] >= r[:, None]).mean(axis=1)
    return {"radius": r, "accuracy": accuracy, "radii_per_example": ok}


class CertifiedAccuracyScorer:
    """A scorer ``scorer(smoothed, X, y) -> certified accuracy at radius`` for GridSearchCV.

    Greater is better. With :class:`~robustsk.estimators.SmoothedClassifier` in
    a grid search, ``estimator__sigma`` tunes the base model's training noise and
    ``sigma`` the smoothing noise.

    Parameters
    ----------
    radius : float, default=0.0
        L2 radius at which the accuracy is certified.
    """

    def __init__(self, radius: float = 0.0):
        self.radius = radius

    def __call__(self, smoothed: Any, X: ArrayLike, y: ArrayLike) -> float:
        return certified_accuracy(smoothed, X, y, radius=self.radius)

    def __repr__(self) -> str:
        return f"CertifiedAccuracyScorer(radius={self.radius!r})"


def plot_certified_accuracy(
    curve: dict[str, np.ndarray],
    *,
    label: str | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
    **line_kw: Any,
) -> Any:
    """Certified accuracy against the L2 radius (Cohen et al.'s figures), from
    :func:`certified_accuracy_curve`; call it once per model on the same ``ax`` to compare.

    Parameters
    ----------
    curve : dict
        What :func:`certified_accuracy_curve` returns.
    label : str or None, default=None
        Legend label.
    ax : matplotlib Axes or None, default=None
        Where to draw; a new figure (drawn off pyplot) when None.
    path : str, path-like or None, default=None
        Save the figure there (PNG, PDF, ... by extension).
    **line_kw
        Passed to ``ax.plot``.

    Returns
    -------
    ax : matplotlib Axes
    """
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(6, 4)).subplots()
    ax.plot(curve["radius"], curve["accuracy"], label=label, **line_kw)
    ax.set_xlabel("L2 radius")
    ax.set_ylabel("certified accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    if label is not None:
        ax.legend()
    if path is not None:
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    return ax
