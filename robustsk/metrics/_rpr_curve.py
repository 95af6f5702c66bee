"""RPR curves: the robust ratio as a function of ``max_steps``, from one steps array."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import check_number


def _check_steps(steps, max_steps) -> tuple[np.ndarray, int]:
    steps = np.asarray(steps)
    if steps.ndim != 1 or steps.shape[0] == 0:
        raise ValueError(
            f"steps must be a non-empty 1-d array (from rpr_steps), got shape {steps.shape}."
        )
    if not np.issubdtype(steps.dtype, np.integer):
        if (
            not np.issubdtype(steps.dtype, np.number)
            or not np.isfinite(steps).all()
            or (steps != np.round(steps)).any()
        ):
            raise ValueError(f"steps must hold non-negative integers, got dtype {steps.dtype}.")
    steps = steps.astype(np.int64)
    if steps.min() < 0:
        raise ValueError(f"steps must be >= 0, got a minimum of {steps.min()}.")
    if max_steps is None:
        max_steps = int(steps.max())
    else:
        check_number(max_steps, "max_steps", low=1, integer=True)
    return steps, int(max_steps)


def rpr_curve(steps: ArrayLike, *, max_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Robust ratio against the number of draws, ``ratio(m) = mean(steps >= m)``.

    One :func:`rpr_steps` run at ``max_steps = M`` gives the whole curve for
    every ``m <= M``: a point is robust at ``MAX_STEPS = m`` exactly when its
    step count is at least ``m`` (the draws are the same, only the cap changes). The curve
    is non-increasing, flattens as the remaining points are the robust ones
    (the paper's Figures 3 and 5), and ends at :func:`rpr_score`.

    Parameters
    ----------
    steps : array-like of shape (n_samples,)
        Step counts from :func:`rpr_steps`.
    max_steps : int or None, default=None
        Last point of the curve: the ``max_steps`` the steps were computed with
        (``None``: ``steps.max()``, which is that value unless no point was
        robust). Values above it would overstate robustness.

    Returns
    -------
    n_steps : ndarray of shape (max_steps,)
        ``1, 2, ..., max_steps``.
    robust_ratio : ndarray of shape (max_steps,)
        Fraction of points that withstand ``n_steps[i]`` draws.

    Examples
    --------
    >>> from robustsk.metrics import rpr_curve
    >>> m, ratio = rpr_curve([0, 1, 3, 3], max_steps=3)
    >>> m.tolist(), ratio.tolist()
    ([1, 2, 3], [0.75, 0.5, 0.5])
    """
    steps, max_steps = _check_steps(steps, max_steps)
    counts = np.bincount(np.minimum(steps, max_steps), minlength=max_steps + 1)  # (M + 1,)
    at_least = counts[::-1].cumsum()[::-1]  # at_least[m] = #(steps >= m)
    return np.arange(1, max_steps + 1), at_least[1:] / steps.shape[0]


def plot_rpr_curve(
    steps: ArrayLike,
    *,
    max_steps: int | None = None,
    label: str | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
    **line_kw: Any,
) -> Any:
    """Plot the robust ratio against the number of draws (the paper's Figures 3 and 5).

    Call it once per model on the same ``ax`` to compare models.

    Parameters
    ----------
    steps : array-like of shape (n_samples,)
        Step counts from :func:`rpr_steps`.
    max_steps : int or None, default=None
        As in :func:`rpr_curve`.
    label : str or None, default=None
        Legend label; the final robust ratio is appended.
    ax : matplotlib Axes or None, default=None
        Where to draw; a new figure when None.
    path : str, path-like or None, default=None
        Save the figure there (PNG, PDF, ... by extension).
    **line_kw
        Passed to ``ax.plot`` (``color``, ``linestyle``, ...).

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from robustsk.metrics import plot_rpr_curve
    >>> ax = plot_rpr_curve([0, 5, 10, 10], max_steps=10, label="model")
    >>> ax.get_xlabel()
    'perturbation draws (max_steps)'
    """
    m, ratio = rpr_curve(steps, max_steps=max_steps)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    if label is not None:
        label = f"{label} (robust ratio {ratio[-1]:.3f})"
    ax.plot(m, ratio, label=label, **line_kw)
    ax.set_xlabel("perturbation draws (max_steps)")
    ax.set_ylabel("robust ratio")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, m[-1])
    ax.grid(True, alpha=0.3)
    if label is not None:
        ax.legend()
    if path is not None:
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    return ax
