"""Accuracy over the common corruptions (MNIST-C / ImageNet-C style)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from ..datasets import make_corrupted
from ..perturb import (
    ValueRange,
    check_range,
    check_range_shape,
    from_unit,
    to_unit,
    warn_outside_range,
)
from ..utils import check_batch


def corruption_accuracy(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    corruptions: str | Sequence[str] = "all",
    severity: int = 3,
    image_shape: tuple[int, ...] | None = None,
    clip: ValueRange = (0.0, 1.0),
    random_state: int | np.random.Generator | None = None,
    return_per_corruption: bool = False,
) -> float | tuple[float, dict[str, float]]:
    """Mean accuracy of ``estimator`` over corrupted copies of ``X``.

    Works with any fitted classifier with ``score``/``predict``. The
    corruptions are made in ``[0, 1]``: ``X`` is mapped from its valid range
    ``clip`` onto ``[0, 1]``, corrupted, and mapped back before the model sees
    it, so a model trained on 0-255 images is scored with ``clip=(0, 255)``
    exactly as the same model on [0, 1] images is with the default. Severity
    constants (noise levels, brightness shifts, ...) are fractions of the
    range. Values outside ``clip`` are clipped into it, with one warning per
    call.

    Parameters
    ----------
    estimator : fitted classifier
    X : array-like of shape (n, c, h, w) or (n, h, w), or (n, d) with ``image_shape``
        Clean images in the valid range ``clip``; ``c`` is 1 or 3.
    y : array-like of shape (n,)
        True labels.
    corruptions : "all", str or list of str, default="all"
        Names from :data:`robustsk.perturb.CORRUPTIONS`.
    severity : int, default=3
        Strength, 1 to 5.
    image_shape : tuple (c, h, w) or None, default=None
        Shape of one image when ``X`` is flat (rows of ``c * h * w``
        features, as most scikit-learn models take them): rows are reshaped
        to images for the corruption and flattened back for the model.
        Required for flat ``X``.
    clip : tuple (low, high), default=(0.0, 1.0)
        Valid range of ``X``: ``(0, 255)`` for 8-bit images, or per-feature
        arrays broadcastable to one row of ``X`` as passed (``(d,)`` for
        flat rows, ``(c, 1, 1)`` per channel for images). Must not be None:
        the corruptions are defined relative to the range.
    random_state : None, int or numpy Generator, default=None
        Seeds the corruptions.
    return_per_corruption : bool, default=False
        Also return ``{name: accuracy}``.

    Returns
    -------
    mean_accuracy : float
    per_corruption : dict, only if ``return_per_corruption``

    Examples
    --------
    A random forest does not care about the scale of its inputs, so the same
    forest on 0-255 digits scores as it does on [0, 1] digits, given the range:

    >>> from sklearn.datasets import load_digits
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from robustsk.metrics import corruption_accuracy
    >>> X, y = load_digits(return_X_y=True)
    >>> X255 = X * (255 / 16)  # flat rows of 8-bit pixel values
    >>> rf = RandomForestClassifier(20, random_state=0).fit(X255[:500], y[:500])
    >>> acc = corruption_accuracy(rf, X255[500:700], y[500:700], corruptions=["fog", "contrast"],
    ...                           image_shape=(1, 8, 8), clip=(0, 255), random_state=0)
    >>> rf01 = RandomForestClassifier(20, random_state=0).fit(X255[:500] / 255, y[:500])
    >>> acc01 = corruption_accuracy(rf01, X255[500:700] / 255, y[500:700],
    ...                             corruptions=["fog", "contrast"], image_shape=(1, 8, 8),
    ...                             random_state=0)
    >>> abs(acc - acc01) < 0.02
    True
    """
    X = cast(np.ndarray, check_batch(np.asarray(X), "X"))
    bounds = check_range(clip)
    if bounds is None:
        raise ValueError(
            "clip must be a pair (low, high) for corruption_accuracy, got None: corruptions "
            "are defined relative to the valid range. Pass the data's range, e.g. "
            "clip=(0, 255) for 8-bit images."
        )
    image = _image_shape(X, image_shape)
    check_range_shape(bounds, tuple(X.shape[1:]))
    warn_outside_range(X, clip, who="corruption_accuracy", stacklevel=2)
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float32)
    unit = to_unit(X, bounds)  # X's shape, float64 in [0, 1]
    if image is not None:
        unit = unit.reshape((len(X),) + image)
    sets = make_corrupted(unit, corruptions, severity=severity, random_state=random_state)
    per = {}
    for name, Uc in sets.items():
        Xc = from_unit(np.asarray(Uc).reshape(X.shape), bounds).astype(dtype, copy=False)
        per[name] = float(estimator.score(Xc, y))
    mean = float(np.mean(list(per.values())))
    return (mean, per) if return_per_corruption else mean


def _image_shape(X: np.ndarray, image_shape: Any) -> tuple[int, ...] | None:
    """Check ``image_shape`` against ``X``; None when ``X`` already holds images."""
    n_features = int(np.prod(X.shape[1:]))
    if image_shape is None:
        if X.ndim >= 3:
            return None
        side = int(round(np.sqrt(n_features)))
        rgb = int(round(np.sqrt(n_features / 3)))
        hint = (
            f" (e.g. image_shape=(1, {side}, {side}) for grayscale images)"
            if side * side == n_features
            else f" (e.g. image_shape=(3, {rgb}, {rgb}) for RGB images)"
            if 3 * rgb * rgb == n_features
            else ""
        )
        raise ValueError(
            f"X is flat, shape {X.shape}, but corruptions need images: pass "
            f"image_shape=(c, h, w){hint}; rows are reshaped to images for the corruption "
            "and flattened back for the model."
        )
    try:
        shape = tuple(operator.index(v) for v in image_shape)
    except TypeError:
        raise TypeError(
            f"image_shape must be a tuple of ints (c, h, w) or (h, w), got {image_shape!r}."
        ) from None
    if len(shape) not in (2, 3) or min(shape) < 1 or int(np.prod(shape)) != n_features:
        raise ValueError(
            f"image_shape must be (c, h, w) or (h, w) with c * h * w = {n_features} (the "
            f"features of one row of X, shape {X.shape}), got {image_shape!r}."
        )
    return shape


class CorruptionScorer:
    """A scorer ``scorer(estimator, X, y) -> mean corruption accuracy``.

    Parameters
    ----------
    corruptions : "all", str or list of str, default="all"
        Names from :data:`robustsk.perturb.CORRUPTIONS`.
    severity : int, default=3
        Strength, 1 to 5.
    image_shape : tuple or None, default=None
        As in :func:`corruption_accuracy`.
    random_state : None or int, default=0
        Seeds the corruptions (fixed by default so that all models see the
        same corrupted sets).
    clip : tuple (low, high), default=(0.0, 1.0)
        Valid range of the data, as in :func:`corruption_accuracy`
        (``(0, 255)`` for 8-bit images).
    """

    def __init__(
        self,
        corruptions: str | Sequence[str] = "all",
        severity: int = 3,
        image_shape: tuple[int, ...] | None = None,
        random_state: int | np.random.Generator | None = 0,
        clip: ValueRange = (0.0, 1.0),
    ):
        self.corruptions = corruptions
        self.severity = severity
        self.image_shape = image_shape
        self.random_state = random_state
        self.clip = clip

    def __call__(self, estimator: Any, X: ArrayLike, y: ArrayLike) -> float:
        accuracy = corruption_accuracy(
            estimator,
            X,
            y,
            corruptions=self.corruptions,
            severity=self.severity,
            image_shape=self.image_shape,
            clip=self.clip,
            random_state=self.random_state,
        )
        return cast(float, accuracy)  # the mean over corruptions (no per-corruption dict)

    def __repr__(self):
        return (
            f"CorruptionScorer(corruptions={self.corruptions!r}, severity={self.severity!r}"
            f", image_shape={self.image_shape!r}, random_state={self.random_state!r}"
            f", clip={self.clip!r})"
        )
