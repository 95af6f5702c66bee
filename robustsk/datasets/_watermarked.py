"""Watermarked MNIST: a faint 0 or 1 in the margin doubles the classes (Xu et al., Sec. 4.2)."""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import torch
import torch.nn.functional as F
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

_SIZE = 28  # MNIST images are 28 x 28
_SMALL = 12  # the watermark image is scaled down to 12 x 12 ...
_CROP = 2  # ... and loses 2 pixels on each side, leaving 8 x 8
_MARK = _SMALL - 2 * _CROP
_SIDES = np.array(["left", "right"])
_SIDE_COLUMN = np.array([0, _SIZE - _MARK])  # first column of the left / right margin


def _as_mnist_images(X) -> np.ndarray:
    """(n, 784), (n, 28, 28) or (n, 1, 28, 28) in [0, 1] -> float32 (n, 1, 28, 28)."""
    X = check_images01(X, "X", min_ndim=2)
    n = X.shape[0]
    accepted = {2: (_SIZE * _SIZE,), 3: (_SIZE, _SIZE), 4: (1, _SIZE, _SIZE)}
    if accepted.get(X.ndim) != X.shape[1:]:
        raise ValueError(
            f"X must be MNIST-sized images of shape (n, 1, 28, 28), (n, 28, 28) or (n, 784), "
            f"got shape {X.shape}."
        )
    return X.reshape(n, 1, _SIZE, _SIZE)


def _watermark_patches(images: np.ndarray, opacity: float) -> np.ndarray:
    """Scale (m, 1, 28, 28) images to 12 x 12, keep the inner 8 x 8, fade: (m, 8, 8)."""
    with torch.no_grad():
        small = F.interpolate(torch.from_numpy(images), size=(_SMALL, _SMALL), mode="area")
    inner = small[:, 0, _CROP : _SMALL - _CROP, _CROP : _SMALL - _CROP]  # (m, 8, 8)
    return (inner.numpy() * np.float32(opacity)).astype(np.float32)


@overload
def make_watermarked(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    opacity: float = ...,
    random_state: RandomStateLike = ...,
    return_info: Literal[False] = ...,
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def make_watermarked(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    opacity: float = ...,
    random_state: RandomStateLike = ...,
    return_info: Literal[True],
) -> tuple[np.ndarray, np.ndarray, Bunch]: ...


@overload
def make_watermarked(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    opacity: float = ...,
    random_state: RandomStateLike = ...,
    return_info: bool = ...,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Bunch]: ...


def make_watermarked(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    opacity: float = 0.3,
    random_state: RandomStateLike = None,
    return_info: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Bunch]:
    """Build Watermarked MNIST: a faint 0 or 1 in the margin decides labels 0-9 or 10-19.

    For each image, a watermark bit (0 or 1) is drawn with equal probability,
    and a random image of that digit is taken from the same ``X``. It is
    scaled down to 12 x 12 (area averaging), cropped by 2 pixels on every side
    to its inner 8 x 8, faded to ``opacity`` and placed in the left margin
    (columns 0-7) or the right margin (columns 20-27), each with probability
    1/2, at rows ``[top, top + 8)`` with ``top`` uniform in 0, ..., 20. The
    new label is ``y`` if the watermark is a 0 and ``y + 10`` if it is a 1, so
    the task has 20 classes ([1]_, Sec. 4.2).

    The watermark is composited with a *lighten* blend,
    ``out = max(x, opacity * w)``: on the empty (zero) margin this is the same
    as laying the watermark over black at ``opacity``, and where a wide digit
    reaches into the margin the digit is never dimmed. Pixels outside the 8 x 8
    region are the input's, unchanged.

    Parameters
    ----------
    X : array-like or tensor of shape (n, 1, 28, 28), (n, 28, 28) or (n, 784)
        MNIST images with values in [0, 1] (as :func:`load_mnist` returns
        them). Must include at least one image labelled 0 and one labelled 1:
        the watermarks are drawn from them.
    y : array-like of int, shape (n,)
        Digit labels, 0 to 9.
    opacity : float, default=0.3
        Strength of the watermark, in (0, 1]: its brightest pixel is at most
        ``opacity``.
    random_state : None, int, numpy Generator/RandomState or torch.Generator, default=None
        Seeds every random choice (watermark bit, watermark image, side, top
        row); the same value gives the same data set.
    return_info : bool, default=False
        Also return a Bunch describing each watermark.

    Returns
    -------
    X_new : ndarray of shape (n, 1, 28, 28), float32
        Watermarked images, values in [0, 1].
    y_new : ndarray of shape (n,), int64
        Labels 0 to 19: ``y + 10 * watermark``.
    info : Bunch, only if ``return_info=True``
        ``watermark`` (int64, 0 or 1), ``source`` (int64, index in ``X`` of
        the image the watermark was made from), ``side`` ("left" or "right"),
        ``column`` (int64, first column of the mark: 0 or 20), ``top`` (int64,
        first row of the mark, 0 to 20) and ``patch`` (float32, shape
        ``(n, 8, 8)``, the faded watermark before blending) and ``opacity``
        (float); :func:`watermark_counterparts` builds each image's
        counterpart from them.

    Raises
    ------
    ValueError
        If ``X`` is not MNIST-sized or not in [0, 1], ``y`` does not have one
        label in 0-9 per image, ``X`` has no image labelled 0 or none labelled
        1, or ``opacity`` is outside (0, 1].
    TypeError
        If ``X`` or ``y`` is not numeric / integer, or a parameter has the
        wrong type.

    See Also
    --------
    make_doubled : The Doubled CIFAR-10 construction of the same paper.

    References
    ----------
    .. [1] J. Xu, Z. Shi, H. Zhang, J. Yi, C.-J. Hsieh and L. Wang, "Learning
       Contextual Perturbation Budgets for Training Robust Neural Networks".

    Examples
    --------
    >>> import numpy as np
    >>> from robustsk.datasets import make_watermarked
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((6, 1, 28, 28), dtype=np.float32) * 0.2
    >>> y = np.array([0, 1, 2, 3, 4, 5])
    >>> X_new, y_new, info = make_watermarked(X, y, random_state=0, return_info=True)
    >>> X_new.shape, X_new.dtype
    ((6, 1, 28, 28), dtype('float32'))
    >>> bool(np.all(y_new == y + 10 * info.watermark))
    True
    >>> str(info.side[0]), int(info.top[0]), int(info.watermark[0]), int(y_new[0])
    ('left', 10, 1, 10)
    >>> changed = X_new[0, 0] != X[0, 0]  # only the 8 x 8 mark in rows 10-17, columns 0-7
    >>> bool(changed[10:18, 0:8].sum() == changed.sum() > 0)
    True
    """
    check_number(opacity, "opacity", low=0, high=1, include_low=False)
    check_random_state_param(random_state)
    check_param(return_info, "return_info", [Boolean()])
    X, y, pools = _digits_and_pools(X, y)
    n: int = X.shape[0]
    rng = numpy_generator(random_state)
    bit = rng.integers(0, 2, size=n)  # (n,) watermark digit
    pick = rng.integers(0, np.array([pools[0].size, pools[1].size])[bit])  # (n,) in its pool
    side = rng.integers(0, 2, size=n)  # (n,) 0 = left, 1 = right
    top = rng.integers(0, _SIZE - _MARK + 1, size=n)  # (n,) in 0..20
    patch, source = _marks(X, pools, bit, pick, opacity)
    column = _SIDE_COLUMN[side]  # (n,)

    X_new = _place_marks(X, patch, top, column)
    y_new = y + 10 * bit
    if not return_info:
        return X_new, y_new
    info = Bunch(
        watermark=bit.astype(np.int64),
        source=source.astype(np.int64),
        side=_SIDES[side],
        column=column.astype(np.int64),
        top=top.astype(np.int64),
        patch=patch,
        opacity=float(opacity),
    )
    return X_new, y_new, info


def _digits_and_pools(X, y) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Validated MNIST images and digit labels, and the indices of the 0s and of the 1s."""
    X = _as_mnist_images(X)
    y = check_labels(y, X.shape[0])
    if y.min() < 0 or y.max() > 9:
        raise ValueError(f"y must hold digit labels 0 to 9, got labels in [{y.min()}, {y.max()}].")
    pools = [np.flatnonzero(y == digit) for digit in (0, 1)]  # candidate watermark images
    absent = [digit for digit, pool in zip((0, 1), pools) if pool.size == 0]
    if absent:
        raise ValueError(
            f"X must contain images labelled 0 and 1 (the watermarks are drawn from them), "
            f"but y has no {' or '.join(map(str, absent))}."
        )
    return X, y, pools


def _marks(X, pools, bit, pick, opacity) -> tuple[np.ndarray, np.ndarray]:
    """The (n, 8, 8) marks of digit ``bit`` made from image ``pick`` of its pool, and their
    source indices in ``X``."""
    pool = np.concatenate(pools)  # (m,) indices of all 0s, then all 1s
    at = np.where(bit == 0, 0, pools[0].size) + pick  # (n,) position in pool
    return _watermark_patches(X[pool], opacity)[at], pool[at]  # each candidate scaled once


def _place_marks(X: np.ndarray, patch: np.ndarray, top: np.ndarray, column: np.ndarray):
    """A copy of ``X`` (n, 1, 28, 28) with each 8 x 8 ``patch`` lightened in at (top, column)."""
    X_new = X.copy()
    offsets = np.arange(_MARK)
    rows = (top[:, None] + offsets)[:, :, None]  # (n, 8, 1)
    cols = (column[:, None] + offsets)[:, None, :]  # (n, 1, 8)
    idx = np.arange(X.shape[0])[:, None, None]
    X_new[idx, 0, rows, cols] = np.maximum(X_new[idx, 0, rows, cols], patch)  # lighten blend
    return X_new


def watermark_counterparts(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    info: Bunch,
    *,
    random_state: RandomStateLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each Watermarked MNIST image's counterpart: the same digit, the other mark, other side.

    For image ``i`` of ``make_watermarked(X, y, return_info=True)``, the
    counterpart is ``X[i]`` with a mark of the *other* bit (made like
    :func:`make_watermarked`'s, from a random image of that digit in ``X``, at
    the same opacity) in the *other* margin, at the same rows; its label is
    ``y[i] + 10 * (1 - watermark[i])``. The two differ only in the two 8 x 8
    mark regions, and under :func:`make_watermarked` they are the two outcomes
    of a fair coin (the watermark bit) given the digit image, a 0 mark, a 1
    mark, their sides and rows. So where budgets let both marks be painted or
    erased, the two budget boxes meet (:func:`robustsk.certify.boxes_intersect`),
    no classifier is verified on both, and any classifier's expected verified
    error under those budgets is at least half the probability that they meet:
    half the share of images whose box meets their counterpart's estimates
    this *verification floor*.

    Parameters
    ----------
    X : array-like or tensor of shape (n, 1, 28, 28), (n, 28, 28) or (n, 784)
        The images given to :func:`make_watermarked` (before the marks).
    y : array-like of int, shape (n,)
        Their digit labels, 0 to 9.
    info : Bunch
        The ``info`` that ``make_watermarked(X, y, return_info=True)``
        returned (its ``watermark``, ``column``, ``top`` and ``opacity``).
    random_state : None, int, numpy Generator/RandomState or torch.Generator, default=None
        Seeds the choice of the image each counterpart's mark is made from.

    Returns
    -------
    X_other : ndarray of shape (n, 1, 28, 28), float32
        The counterparts, values in [0, 1].
    y_other : ndarray of shape (n,), int64
        Their labels, ``y + 10 * (1 - watermark)``.

    Raises
    ------
    ValueError
        If ``X`` or ``y`` is invalid (as for :func:`make_watermarked`), or
        ``info`` lacks a field or does not describe ``n`` marks in the margins.
    TypeError
        If ``info`` is not a mapping.

    Examples
    --------
    >>> import numpy as np
    >>> from robustsk.datasets import make_watermarked, watermark_counterparts
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((6, 1, 28, 28), dtype=np.float32) * 0.2
    >>> y = np.array([0, 1, 2, 3, 4, 5])
    >>> X_new, y_new, info = make_watermarked(X, y, random_state=0, return_info=True)
    >>> X_other, y_other = watermark_counterparts(X, y, info, random_state=0)
    >>> int(y_new[0]), int(y_other[0])  # digit 0 with a 1, then with a 0
    (10, 0)
    >>> changed = X_other[0, 0] != X[0, 0]  # the other margin (columns 20-27), same rows
    >>> bool(changed[10:18, 20:28].sum() == changed.sum() > 0)
    True
    """
    check_random_state_param(random_state)
    X, y, pools = _digits_and_pools(X, y)
    n: int = X.shape[0]
    if not hasattr(info, "get"):
        raise TypeError(
            f"info must be the Bunch make_watermarked(..., return_info=True) returns, "
            f"got {type(info).__name__}."
        )
    missing = [key for key in ("watermark", "column", "top", "opacity") if key not in info]
    if missing:
        raise ValueError(
            f"info lacks {', '.join(missing)}: pass the Bunch that "
            f"make_watermarked(X, y, return_info=True) returned for these X and y."
        )
    allowed = {"watermark": (0, 1), "column": tuple(_SIDE_COLUMN), "top": range(_SIZE - _MARK + 1)}
    fields = {key: np.asarray(info[key]) for key in allowed}
    for key, value in fields.items():
        if not (
            value.shape == (n,)
            and np.issubdtype(value.dtype, np.integer)
            and np.isin(value, list(allowed[key])).all()
        ):
            raise ValueError(
                f"info.{key} must hold {n} integers in {allowed[key]} (one per image of X), "
                f"got shape {value.shape} and dtype {value.dtype}"
                + (f", values {np.unique(value)[:6]}" if value.size else "")
                + "."
            )
    opacity = check_number(info["opacity"], "info.opacity", low=0, high=1, include_low=False)
    other = 1 - fields["watermark"]  # (n,) the counterpart's bit
    rng = numpy_generator(random_state)
    pick = rng.integers(0, np.array([pools[0].size, pools[1].size])[other])
    patch, _ = _marks(X, pools, other, pick, opacity)
    column = _SIDE_COLUMN[1] - fields["column"]  # the other margin: 0 <-> 20
    return _place_marks(X, patch, fields["top"], column), y + 10 * other


def watermark_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> Bunch:
    """How often a Watermarked MNIST classifier reads the digit, the watermark and both.

    Watermarked MNIST's 20 labels are ``digit + 10 * watermark``
    (:func:`make_watermarked`), so its clean error mixes two questions: a
    classifier that gets every digit right and the watermark at chance has about
    50% clean error. This splits them.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True Watermarked MNIST labels, integers 0 to 19.
    y_pred : array-like of shape (n,)
        Predicted labels, integers 0 to 19.

    Returns
    -------
    accuracy : Bunch
        ``digit`` (share of ``y_pred % 10 == y_true % 10``), ``watermark``
        (share of ``y_pred // 10 == y_true // 10``) and ``both`` (plain
        accuracy), each in [0, 1].

    Raises
    ------
    TypeError
        When either holds non-integer labels.
    ValueError
        When they differ in length, are empty, or hold a label outside 0 to 19.

    Examples
    --------
    >>> from robustsk.datasets import watermark_accuracy
    >>> acc = watermark_accuracy([3, 13, 7, 17], [3, 3, 7, 17])  # digit always right
    >>> float(acc.digit), float(acc.watermark), float(acc.both)
    (1.0, 0.75, 0.75)
    """
    y_true = np.asarray(y_true.detach().cpu() if isinstance(y_true, torch.Tensor) else y_true)
    if y_true.ndim != 1 or y_true.shape[0] == 0:
        raise ValueError(
            f"y_true must be a non-empty 1-d array of labels, got shape {y_true.shape}."
        )
    y_true = check_labels(y_true, y_true.shape[0], "y_true")
    y_pred = check_labels(y_pred, y_true.shape[0], "y_pred")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.min() < 0 or labels.max() > 19:
            raise ValueError(
                f"{name} must hold Watermarked MNIST labels 0 to 19 (digit + 10 * watermark), "
                f"got labels in [{labels.min()}, {labels.max()}]."
            )
    return Bunch(
        digit=float(np.mean(y_pred % 10 == y_true % 10)),
        watermark=float(np.mean(y_pred // 10 == y_true // 10)),
        both=float(np.mean(y_pred == y_true)),
    )
