"""Accuracy over the common corruptions (MNIST-C / ImageNet-C style)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from numpy.typing import ArrayLike

import numpy as np

from ..datasets import make_corrupted


def corruption_accuracy(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    corruptions: str | Sequence[str] = "all",
    severity: int = 3,
    image_shape: tuple[int, ...] | None = None,
    random_state: int | np.random.Generator | None = None,
    return_per_corruption: bool = False,
) -> float | tuple[float, dict[str, float]]:
    """Mean accuracy of ``estimator`` over corrupted copies of ``X``.

    Works with any fitted classifier with ``score``/``predict``.

    Parameters
    ----------
    estimator : fitted classifier
    X : array-like of shape (n, c, h, w), or (n, d) with ``image_shape``
        Clean images in [0, 1].
    y : array-like of shape (n,)
        True labels.
    corruptions : "all", str or list of str, default="all"
        Names from :data:`robustsk.perturb.CORRUPTIONS`.
    severity : int, default=3
        Strength, 1 to 5.
    image_shape : tuple (c, h, w) or None, default=None
        Shape of one image when ``X`` is flat; the corrupted images are
        flattened back before prediction.
    random_state : None, int or numpy Generator, default=None
        Seeds the corruptions.
    return_per_corruption : bool, default=False
        Also return ``{name: accuracy}``.

    Returns
    -------
    mean_accuracy : float
    per_corruption : dict, only if ``return_per_corruption``
    """
    X = np.asarray(X)
    flat_shape = None
    if image_shape is not None:
        flat_shape = X.shape
        X = X.reshape((len(X),) + tuple(image_shape))
    sets = make_corrupted(X, corruptions, severity=severity, random_state=random_state)
    per = {}
    for name, Xc in sets.items():
        per[name] = float(estimator.score(Xc.reshape(flat_shape) if flat_shape else Xc, y))
    mean = float(np.mean(list(per.values())))
    return (mean, per) if return_per_corruption else mean


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
    """

    def __init__(
        self,
        corruptions: str | Sequence[str] = "all",
        severity: int = 3,
        image_shape: tuple[int, ...] | None = None,
        random_state: int | np.random.Generator | None = 0,
    ):
        self.corruptions = corruptions
        self.severity = severity
        self.image_shape = image_shape
        self.random_state = random_state

    def __call__(self, estimator: Any, X: ArrayLike, y: ArrayLike) -> float:
        accuracy = corruption_accuracy(
            estimator,
            X,
            y,
            corruptions=self.corruptions,
            severity=self.severity,
            image_shape=self.image_shape,
            random_state=self.random_state,
        )
        return cast(float, accuracy)  # the mean over corruptions (no per-corruption dict)

    def __repr__(self):
        return (
            f"CorruptionScorer(corruptions={self.corruptions!r}, severity={self.severity!r}"
            f", image_shape={self.image_shape!r}, random_state={self.random_state!r})"
        )
