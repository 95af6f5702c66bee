"""Doubled images: two images side by side under a red or green strip that says which counts."""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils import Bunch

from ..utils import (
    Boolean,
    RandomStateLike,
    check_number,
    check_param,
    check_random_state_param,
    numpy_generator,
)
from ._checks import check_images01, check_labels

_COLORS = np.array(["red", "green"])
_RGB = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)  # red, green


@overload
def make_doubled(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    border: int = ...,
    random_state: RandomStateLike = ...,
    return_info: Literal[False] = ...,
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def make_doubled(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    border: int = ...,
    random_state: RandomStateLike = ...,
    return_info: Literal[True],
) -> tuple[np.ndarray, np.ndarray, Bunch]: ...


@overload
def make_doubled(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    border: int = ...,
    random_state: RandomStateLike = ...,
    return_info: bool = ...,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Bunch]: ...


def make_doubled(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    border: int = 4,
    random_state: RandomStateLike = None,
    return_info: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Bunch]:
    """Build a Doubled data set: two images side by side; a red or green strip picks the label.

    Example ``i`` pairs image ``i`` with a partner drawn uniformly from the
    *other* images, puts the two side by side in a random order (each on the
    left with probability 1/2) and adds a ``border``-row strip on top, red
    ``(1, 0, 0)`` or green ``(0, 1, 0)`` with probability 1/2 each. The label
    is the left image's if the strip is red and the right image's if it is
    green, so one half of every image is irrelevant to its label. On CIFAR-10
    with ``border=4`` this is Doubled CIFAR-10 ([1]_, Sec. 4.3): 36 x 64
    images, 10 classes.

    Gray images (one channel) are repeated over three channels so the strip's
    colour can be represented.

    Parameters
    ----------
    X : array-like or tensor of shape (n, c, h, w) or (n, h, w)
        Images with values in [0, 1]; ``c`` is 1 (gray) or 3 (RGB) and
        ``(n, h, w)`` means gray. At least two images, so every image has a
        partner.
    y : array-like of int, shape (n,)
        Class labels, one per image.
    border : int, default=4
        Height of the coloured strip in rows, at least 1.
    random_state : None, int, numpy Generator/RandomState or torch.Generator, default=None
        Seeds every random choice (partner, order, colour); the same value
        gives the same data set.
    return_info : bool, default=False
        Also return a Bunch describing each example.

    Returns
    -------
    X_new : ndarray of shape (n, 3, h + border, 2 * w), float32
        Strip on rows ``[0, border)``; the left image in columns ``[0, w)``
        and the right one in ``[w, 2 w)`` of the rows below. Values in [0, 1].
    y_new : ndarray of shape (n,), int64
        ``y[left]`` where the strip is red, ``y[right]`` where it is green.
    info : Bunch, only if ``return_info=True``
        ``left`` and ``right`` (int64, indices in ``X`` of the two images; one
        of them is the example's own index ``i``) and ``color`` ("red" or
        "green").

    Raises
    ------
    ValueError
        If ``X`` has the wrong shape, fewer than two images or values outside
        [0, 1], ``y`` does not have one label per image, or ``border < 1``.
    TypeError
        If ``X`` or ``y`` is not numeric / integer, or a parameter has the
        wrong type.

    See Also
    --------
    make_watermarked : The Watermarked MNIST construction of the same paper.

    References
    ----------
    .. [1] J. Xu, Z. Shi, H. Zhang, J. Yi, C.-J. Hsieh and L. Wang, "Learning
       Contextual Perturbation Budgets for Training Robust Neural Networks".

    Examples
    --------
    >>> from robustsk.datasets import load_digits_images, make_doubled
    >>> X, y = load_digits_images(return_X_y=True)
    >>> X_new, y_new, info = make_doubled(X[:20], y[:20], random_state=0, return_info=True)
    >>> X_new.shape, X_new.dtype
    ((20, 3, 12, 16), dtype('float32'))
    >>> red = info.color == "red"
    >>> bool((y_new[red] == y[info.left[red]]).all())
    True
    >>> X_new[red][0, :, :4, :].max(axis=(1, 2))  # a red strip: channels R, G, B
    array([1., 0., 0.], dtype=float32)
    """
    check_number(border, "border", low=1, integer=True)
    check_random_state_param(random_state)
    check_param(return_info, "return_info", [Boolean()])
    X = check_images01(X, "X", min_ndim=3)
    if X.ndim == 3:
        X = X[:, None]  # gray (n, h, w) -> (n, 1, h, w)
    if X.ndim != 4 or X.shape[1] not in (1, 3):
        raise ValueError(
            f"X must have shape (n, c, h, w) with c = 1 or 3, or (n, h, w), got shape {X.shape}."
        )
    n, _, h, w = X.shape
    if n < 2:
        raise ValueError(f"X must hold at least 2 images (each needs a partner), got {n}.")
    y = check_labels(y, n)

    rng = numpy_generator(random_state)
    partner = (np.arange(n) + rng.integers(1, n, size=n)) % n  # (n,) uniform over the others
    own_left = rng.integers(0, 2, size=n).astype(bool)  # (n,)
    green = rng.integers(0, 2, size=n)  # (n,) 0 = red, 1 = green
    own = np.arange(n)
    left = np.where(own_left, own, partner)
    right = np.where(own_left, partner, own)

    X_new = np.empty((n, 3, h + border, 2 * w), dtype=np.float32)
    X_new[:, :, :border, :] = _RGB[green][:, :, None, None]  # (n, 3, 1, 1) strip colour
    X_new[:, :, border:, :w] = X[left]  # (n, c, h, w); c = 1 broadcasts over RGB
    X_new[:, :, border:, w:] = X[right]
    y_new = np.where(green == 0, y[left], y[right])
    if not return_info:
        return X_new, y_new
    return (
        X_new,
        y_new,
        Bunch(left=left.astype(np.int64), right=right.astype(np.int64), color=_COLORS[green]),
    )
