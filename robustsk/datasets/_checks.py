"""Input checks shared by the data-set builders and loaders: images in [0, 1], their labels,
and the labels a loader reads from a file."""

from __future__ import annotations

import numpy as np
import torch

from ..utils import check_batch


def check_images01(X, name: str = "X", *, min_ndim: int = 3) -> np.ndarray:
    """Validate a batch of images with values in [0, 1]; return it as a float32 numpy array."""
    X = check_batch(X, name, min_ndim=min_ndim)
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if X.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers in [0, 1], got dtype bool.")
    if X.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {X.shape}.")
    low, high = X.min(), X.max()
    if low < 0 or high > 1:
        raise ValueError(
            f"{name} must have values in [0, 1], got values in [{low!r}, {high!r}] "
            f"(scale 8-bit images by 1/255)."
        )
    return X.astype(np.float32, copy=False)


def check_labels(y, n_samples: int, name: str = "y") -> np.ndarray:
    """Validate integer class labels, one per image; return them as an int64 numpy array."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}.")
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(
            f"{name} must have shape ({n_samples},) (one label per image in X), got shape "
            f"{y.shape}."
        )
    return y.astype(np.int64, copy=False)


def check_file_labels(
    values: np.ndarray, where: str, what: str, *, low: int = 0, high: int | None = None
) -> np.ndarray:
    """Validate class labels read from a file: integers in ``[low, high]``; return int64.

    Integral floats are accepted when ``high`` is given (MATLAB stores labels as
    doubles). Anything else is a ``ValueError`` naming ``where`` (the file) and ``what``.
    """
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind == "f" and high is not None:
        if values.size and not (np.isfinite(values).all() and (values == np.round(values)).all()):
            raise ValueError(f"{where}: {what} must be whole numbers, got {values.dtype} values.")
    elif kind not in "iu":
        raise ValueError(f"{where}: {what} must be integers, got dtype {values.dtype}.")
    if values.size:
        lo, hi = values.min(), values.max()
        if lo < low or (high is not None and hi > high):
            span = f"{low} to {high}" if high is not None else f"at least {low}"
            raise ValueError(f"{where}: {what} must be {span}, got {lo} to {hi}.")
    return values.astype(np.int64)
