"""The embedded default data set: scikit-learn's 8x8 digits as images in [0, 1]."""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch


@overload
def load_digits_images(*, return_X_y: Literal[False] = ...) -> Bunch: ...


@overload
def load_digits_images(*, return_X_y: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def load_digits_images(*, return_X_y: bool = ...) -> Bunch | tuple[np.ndarray, np.ndarray]: ...


def load_digits_images(*, return_X_y: bool = False) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load the 1,797 digits of :func:`sklearn.datasets.load_digits` as images.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch` with ``data`` (float32, shape
        ``(1797, 1, 8, 8)``, values in [0, 1]), ``target`` (int64, 10 classes),
        ``target_names`` and ``DESCR``; or ``(X, y)``.

    Examples
    --------
    >>> from robustsk.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True)
    >>> X.shape, X.dtype, float(X.max())
    ((1797, 1, 8, 8), dtype('float32'), 1.0)
    """
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=digits.target_names,
        DESCR="8x8 handwritten digits (scikit-learn), as (n, 1, 8, 8) float32 in [0, 1].",
    )
