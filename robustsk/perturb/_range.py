"""The valid value range of the data: one ``(low, high)`` pair or per-feature bounds.

Every perturbation and corruption metric takes the data's valid range as
``clip``: a pair of numbers for the whole input (``(0, 1)``, the default, or
``(0, 255)`` for 8-bit images), a pair of arrays with one bound per feature,
broadcastable to the shape of one sample (tabular or standardized data), or
``None`` where a scheme can do without one (no clipping). This module checks
such ranges, maps data into ``[0, 1]`` and back, and warns once when data lie
outside the range it was told.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..utils import check_clip

#: A valid range: ``(low, high)`` with numbers or per-feature arrays, or None.
ValueRange = tuple[ArrayLike, ArrayLike] | None

#: Checked bounds: two floats, or two float64 arrays of one common shape.
Bounds = tuple[float, float] | tuple[np.ndarray, np.ndarray]

#: Relative slack before data count as outside the range (float rounding).
_RTOL = 1e-5


def is_per_feature(bounds: Bounds | None) -> bool:
    """Whether checked bounds are arrays (one bound per feature)."""
    return bounds is not None and isinstance(bounds[0], np.ndarray)


def check_range(clip: Any, name: str = "clip") -> Bounds | None:
    """Validate a valid range; return ``None``, two floats or two float64 arrays.

    Parameters
    ----------
    clip : None, pair of numbers, or pair of array-likes
        ``(low, high)``. Arrays must broadcast together; they are returned
        broadcast to their common shape. Every ``low`` must be below its
        ``high`` and all bounds finite.
    name : str, default="clip"
        Parameter name for error messages.

    Returns
    -------
    bounds : None, tuple of two floats, or tuple of two ndarrays

    Raises
    ------
    TypeError
        ``clip`` is not None and not a pair.
    ValueError
        Bounds that are not finite, do not broadcast, or have ``low >= high``.
    """
    if clip is None:
        return None
    try:
        low, high = clip
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be None or a pair (low, high) of numbers or of per-feature arrays, "
            f"got {clip!r}."
        ) from None
    if np.ndim(low) == 0 and np.ndim(high) == 0:
        return cast(tuple[float, float], check_clip(clip, name))
    try:
        lo = np.asarray(low, dtype=np.float64)
        hi = np.asarray(high, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be None or a pair (low, high) of numbers or of per-feature arrays, "
            f"got {clip!r}."
        ) from None
    try:
        lo, hi = np.broadcast_arrays(lo, hi)
    except ValueError:
        raise ValueError(
            f"{name}: low of shape {lo.shape} and high of shape {hi.shape} do not broadcast "
            "together."
        ) from None
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise ValueError(f"{name} must have finite bounds, got {clip!r}.")
    bad = ~(lo < hi)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must have low < high for every feature, got low={lo[at]!r} >= "
            f"high={hi[at]!r} at index {at}."
        )
    return lo.copy(), hi.copy()


def check_range_shape(bounds: Bounds | None, row_shape: tuple[int, ...], name: str = "clip"):
    """Raise ``ValueError`` unless per-feature bounds broadcast to one sample's shape."""
    if not is_per_feature(bounds):
        return
    assert bounds is not None
    shape = np.shape(bounds[0])
    try:
        ok = np.broadcast_shapes(shape, row_shape) == tuple(row_shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} arrays of shape {shape} must broadcast to the shape of one sample "
            f"{tuple(row_shape)} (one bound per feature, or per channel as (c, 1, 1))."
        )


def bounds_like(
    bounds: Bounds, x: torch.Tensor
) -> tuple[float, float] | tuple[torch.Tensor, torch.Tensor]:
    """Bounds ready to combine with the batch ``x``: floats, or tensors of ``x.shape[1:]``."""
    low, high = bounds
    if not isinstance(low, np.ndarray):
        return float(low), float(high)
    row = tuple(x.shape[1:])
    return tuple(  # type: ignore[return-value]
        torch.tensor(np.broadcast_to(b, row), dtype=x.dtype, device=x.device) for b in (low, high)
    )


def clamp_(x: torch.Tensor, bounds: Bounds | None) -> torch.Tensor:
    """Clip the batch ``x`` into ``bounds`` in place (nothing for ``None``)."""
    if bounds is None:
        return x
    low, high = bounds_like(bounds, x)
    return x.clamp_(low, high)  # type: ignore[arg-type]


def to_unit(X: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Map a batch (float64) from ``bounds`` onto ``[0, 1]``, clipping what lies outside."""
    low, high = bounds
    return ((np.asarray(X, dtype=np.float64) - low) / (high - low)).clip(0, 1)


def from_unit(U: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Map a batch (float64) from ``[0, 1]`` back onto ``bounds``."""
    low, high = bounds
    return U * (high - low) + low


def _describe(clip: Any, bounds: Bounds) -> str:
    if is_per_feature(bounds):
        return f"the per-feature clip arrays of shape {np.shape(bounds[0])}"
    return f"clip={clip!r}"


def outside_range(X: np.ndarray | torch.Tensor, bounds: Bounds) -> int:
    """Number of values of the batch ``X`` outside ``bounds`` (beyond rounding slack)."""
    lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
    slack = _RTOL * (hi - lo)
    if X.shape[0] == 0 or min(X.shape) == 0:
        return 0
    if lo.ndim:
        check_range_shape((lo, hi), tuple(X.shape[1:]))
    if isinstance(X, torch.Tensor):
        x = X if torch.is_floating_point(X) else X.double()
        if lo.ndim:
            low, high = bounds_like((lo - slack, hi + slack), x)
        else:
            low, high = float(lo - slack), float(hi + slack)
            seen_low, seen_high = torch.aminmax(x)
            if low <= float(seen_low) and float(seen_high) <= high:  # one pass, the usual case
                return 0
        return int(((x < low) | (x > high)).sum().item())
    arr = np.asarray(X)
    low_np, high_np = lo - slack, hi + slack
    if not lo.ndim and low_np <= arr.min() and arr.max() <= high_np:
        return 0
    return int(((arr < low_np) | (arr > high_np)).sum())


def warn_outside_range(
    X: np.ndarray | torch.Tensor,
    clip: Any,
    *,
    who: str,
    consequence: str = "they are clipped into it",
    stacklevel: int = 2,
) -> bool:
    """Warn (``UserWarning``) when the batch ``X`` has values outside the range ``clip``.

    The message says which range ``who`` assumed, the ``consequence`` and how
    to pass ``clip``. ``stacklevel`` counts from the caller (2: the caller's
    caller). Returns whether it warned; ``clip=None`` never warns.
    """
    bounds = check_range(clip)
    if bounds is None or X.shape[0] == 0:
        return False
    n_out = outside_range(X, bounds)
    if not n_out:
        return False
    seen = (
        f"[{float(X.min()):.4g}, {float(X.max()):.4g}] ({n_out} of {int(np.prod(X.shape))} values)"
    )
    default = "" if is_per_feature(bounds) or tuple(bounds) != (0.0, 1.0) else " (the default)"
    warnings.warn(
        f"X has values in {seen} outside the valid range "
        f"{_describe(clip, bounds)}{default} assumed by {who}; {consequence}. Pass the "
        "data's range as clip: clip=(0, 255) for 8-bit images, or per-feature arrays "
        "clip=(X_train.min(axis=0), X_train.max(axis=0)) for tabular or standardized data.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
    return True
