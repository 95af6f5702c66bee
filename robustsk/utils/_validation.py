"""Input validation shared across robustsk.

Every check raises before any work is done, with a message that names the
parameter, the offending value and what is allowed.
"""

from __future__ import annotations

import numbers
from collections.abc import Collection
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import ArrayLike

from ._types import ClipRange


def check_clip(clip: Any, name: str = "clip") -> ClipRange:
    """Validate a valid-range pair ``(low, high)`` or ``None``; return a tuple or None."""
    if clip is None:
        return None
    try:
        low, high = clip
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be None or a pair (low, high), got {clip!r}.") from None
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        raise ValueError(f"{name} must be a finite pair with low < high, got {clip!r}.")
    return low, high


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    include_low: bool = True,
    include_high: bool = True,
) -> Any:
    """Validate a real (or integer) scalar in an interval; return it.

    Raises :class:`TypeError` for a non-number and :class:`ValueError` for a
    number outside ``[low, high]`` (ends open or closed as requested).
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an int" if integer else "a real number"
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__}).")
    if not integer and not np.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    v = cast(float, value)
    bad_low = low is not None and (v < low if include_low else v <= low)
    bad_high = high is not None and (v > high if include_high else v >= high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        interval = ("[" if include_low else "(") + f"{lo}, {hi}" + ("]" if include_high else ")")
        raise ValueError(f"{name} must be in {interval}, got {value!r}.")
    return value


def check_options(value: Any, name: str, options: Collection[Any]) -> Any:
    """Validate that ``value`` is one of ``options``; return it."""
    try:
        allowed = value in options
    except (TypeError, ValueError):  # unhashable (a list), or an array compared element-wise
        allowed = False
    if not allowed:
        raise ValueError(f"{name} must be one of {sorted(options)!r}, got {value!r}.")
    return value


def check_batch(
    X: ArrayLike | torch.Tensor, name: str = "X", *, min_ndim: int = 2
) -> torch.Tensor | np.ndarray:
    """Validate a batch (numpy array or tensor): numeric, finite, at least ``min_ndim`` dims."""
    if isinstance(X, torch.Tensor):
        if not torch.is_floating_point(X):
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {X.dtype}.")
        finite = bool(torch.isfinite(X).all())
    else:
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}.")
        finite = bool(np.isfinite(X).all())
    if X.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions (n_samples, ...), got shape "
            f"{tuple(X.shape)}."
        )
    if not finite:
        raise ValueError(f"{name} contains NaN or infinity.")
    return X


def check_per_sample(
    values: ArrayLike | float,
    n_samples: int,
    name: str,
    *,
    low: float | None = 0.0,
    high: float | None = None,
) -> float | np.ndarray:
    """Validate a scalar or a 1-d array with one finite value per sample in ``[low, high]``.

    Returns a float scalar or a float32 numpy array of shape ``(n_samples,)``.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if np.ndim(values) == 0:
        check_number(
            float(values) if isinstance(values, np.generic) else values, name, low=low, high=high
        )
        return float(cast(Any, values))
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}.")
    arr = arr.astype(np.float32)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} must be a scalar or have shape ({n_samples},) (one value per sample), "
            f"got shape {arr.shape}."
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    if low is not None and (arr < low).any():
        raise ValueError(f"{name} must be >= {low}, got a minimum of {arr.min()!r}.")
    if high is not None and (arr > high).any():
        raise ValueError(f"{name} must be <= {high}, got a maximum of {arr.max()!r}.")
    return arr
