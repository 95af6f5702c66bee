"""Budget boxes that meet: pairs of inputs no classifier can be verified on together."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..utils import ClipRange, check_batch, check_clip


def _as_array(X, name: str) -> np.ndarray:
    X = check_batch(X, name)
    return X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)


def _as_budgets(eps, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A scalar, one budget per example, or one per element -> an array broadcastable to shape."""
    if isinstance(eps, torch.Tensor):
        eps = eps.detach().cpu().numpy()
    eps = np.asarray(eps)
    if not np.issubdtype(eps.dtype, np.number) or np.issubdtype(eps.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {eps.dtype}.")
    if eps.ndim == 1 and eps.shape[0] == shape[0]:
        eps = eps.reshape(-1, *([1] * (len(shape) - 1)))
    elif eps.ndim not in (0, len(shape)) or (eps.ndim and eps.shape != shape):
        raise ValueError(
            f"{name} must be a scalar, one budget per example (shape ({shape[0]},)) or one per "
            f"element (shape {shape}), got shape {eps.shape}."
        )
    if not np.isfinite(eps).all() or (eps < 0).any():
        raise ValueError(f"{name} must be finite and non-negative, got min {np.min(eps)!r}.")
    return eps


def boxes_intersect(
    X_a: ArrayLike | torch.Tensor,
    eps_a: float | ArrayLike | torch.Tensor,
    X_b: ArrayLike | torch.Tensor,
    eps_b: float | ArrayLike | torch.Tensor,
    *,
    clip: ClipRange = (0.0, 1.0),
) -> np.ndarray:
    """Whether the budget boxes of two inputs share a point, pair by pair.

    The box of ``x`` under per-element budgets ``eps`` is the set a certificate
    covers, ``[clip(x - eps), clip(x + eps)]`` (as :func:`input_box` builds
    it). When the boxes of ``X_a[i]`` and ``X_b[i]`` share a point and their
    labels differ, no classifier is correct on both boxes, so no sound
    verifier, for any model, verifies both: this is a limit of the budgets,
    not of the bound or the training. If the data presents ``a`` or ``b`` of
    each pair by a fair coin (as for an image and its counterpart from
    :func:`robustsk.datasets.watermark_counterparts`), any classifier's
    expected verified error is at least half the probability that the boxes
    meet (the *verification floor*).

    Parameters
    ----------
    X_a : array-like or tensor of shape (n, ...)
        The first input of each pair.
    eps_a : float, array-like or tensor
        Budgets of ``X_a``: a scalar, one per example (shape ``(n,)``) or one
        per element (the shape of ``X_a``), non-negative.
    X_b : array-like or tensor of shape (n, ...)
        The second input of each pair, the shape of ``X_a``.
    eps_b : float, array-like or tensor
        Budgets of ``X_b``, as ``eps_a``.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid input range, which the boxes are clipped to (``None``: no clipping).

    Returns
    -------
    meet : ndarray of bool, shape (n,)
        ``True`` where the two boxes intersect in every element: where some
        input lies in both, so at most one of the pair can be verified.

    Raises
    ------
    ValueError
        If the inputs differ in shape, hold NaN or infinity, or a budget is
        negative, not finite or of a shape that is not allowed.
    TypeError
        If an input or budget is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> from robustsk.certify import boxes_intersect
    >>> a = np.array([[0.0, 0.5], [0.0, 0.5]])
    >>> b = np.array([[0.3, 0.5], [0.3, 0.5]])
    >>> boxes_intersect(a, np.array([[0.2, 0.0], [0.1, 0.0]]), b, 0.1).tolist()
    [True, False]
    """
    clip = check_clip(clip)
    A, B = _as_array(X_a, "X_a"), _as_array(X_b, "X_b")
    if A.shape != B.shape:
        raise ValueError(f"X_a and X_b must have the same shape, got {A.shape} and {B.shape}.")
    ea = _as_budgets(eps_a, "eps_a", A.shape)
    eb = _as_budgets(eps_b, "eps_b", B.shape)
    A, B = A.astype(np.float64), B.astype(np.float64)
    low = np.maximum(A - ea, B - eb)
    high = np.minimum(A + ea, B + eb)
    if clip is not None:  # clipping is monotone: the max of clipped ends is the clipped max
        low, high = np.clip(low, *clip), np.clip(high, *clip)
    return (low <= high).reshape(len(A), -1).all(axis=1)
