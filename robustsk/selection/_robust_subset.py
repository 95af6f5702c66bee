"""Robust-subset selection: keep the training points a model deems robust (RPR paper, 2.3)."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from ..metrics import rpr_steps, validate_rpr_args
from ..perturb import Perturbation, ValueRange
from ..utils import (
    Boolean,
    Constraint,
    Interval,
    Options,
    ParameterConstraints,
    RandomState,
    check_number,
    draw_seed,
    stratified_sample,
    validate_params,
)

_X = TypeVar("_X", bound=ArrayLike)
_Y = TypeVar("_Y", bound=ArrayLike)


class _PerClass(Constraint):
    """``n_per_class``: an int >= 1, ``"min"`` or None."""

    def check(self, value: Any, name: str) -> None:
        if value is None or (isinstance(value, str) and value == "min"):
            return
        if isinstance(value, str) or not isinstance(value, numbers.Integral):
            raise TypeError(
                f"{name} must be {self.describe()}, got {value!r} ({type(value).__name__})."
            )
        check_number(value, name, low=1, integer=True)

    def describe(self) -> str:
        return "an int, 'min' or None"

    def invalid_values(self) -> list[Any]:
        return [0, "max", 2.5]


class RobustSubsetSelector(BaseEstimator):
    """Keep the training points a fitted model deems robust, class-balanced (a resampler).

    The RPR paper's retraining method (section 2.3): compute the RPR step
    count of every training point under the model ``M`` trained on them
    (:func:`~robustsk.metrics.rpr_steps`), keep the robust ones (those that
    withstand ``max_steps`` draws) and draw ``n_per_class`` of them from every
    class, so that the subset has no class bias (robust points are far from
    uniform over classes). A model ``M_R`` trained on the subset is more robust
    on test data, at some cost in accuracy.

    imbalanced-learn style: :meth:`fit_resample` returns the selected rows,
    :meth:`get_support` which rows they are.

    Parameters
    ----------
    estimator : fitted classifier, or an unfitted one with ``prefit=False``
        The model ``M`` that judges robustness (any classifier with
        ``predict``; robustsk estimators and skorch nets take the fast torch
        path).
    n_per_class : int, "min" or None, default=None
        Points drawn at random from each class's robust points: an int (the
        paper: 1,500 per class on MNIST; a class with fewer robust points
        keeps them all, with a warning, or is topped up as ``shortfall``
        says), ``"min"`` (as many as the class with the fewest robust points
        has, so the subset is exactly balanced; a class without any robust
        point is warned about and left out) or ``None`` (every robust point,
        no balancing).
    shortfall : {"keep", "fill"}, default="keep"
        What a class with fewer robust points than ``n_per_class`` gets:
        ``"keep"`` keeps only its robust points (the paper's method; the
        subset is then short of that class, with a warning), ``"fill"`` tops
        it up to ``n_per_class`` with its most robust other points, those of
        the highest RPR step count (ties at random), so that every class has
        ``n_per_class`` points (a warning only when the class itself has
        fewer). Ignored when ``n_per_class`` is None.
    max_steps : int, default=250
        Draws a point must withstand to be robust.
    perturbation : Perturbation, callable or None, default=None
        The random scheme; ``None`` means
        :class:`~robustsk.perturb.RandomPixels` (the paper's).
    prefit : bool, default=True
        Use ``estimator`` as it is (it must be fitted). With ``False``, a clone
        of it is fitted on the data passed to :meth:`fit_resample`, as the
        paper does (``M`` is trained on the very points it then judges); this
        also makes the selector work after :func:`sklearn.base.clone`.
    random_state : None, int or numpy Generator, default=None
        Seeds the perturbation draws and the per-class sampling.
    batch_size : int or None, default=None
        Most rows per predict call of the RPR engine (``None``: as in
        :func:`~robustsk.metrics.rpr_steps`).
    backend : {"auto", "torch", "predict"}, default="auto"
        As in :func:`~robustsk.metrics.rpr_steps`.
    verbose : int, default=0
        Progress bar of the RPR computation.
    clip : "auto", tuple (low, high) or None, default="auto"
        Valid range of ``X``, as in :func:`~robustsk.metrics.rpr_steps`:
        numbers (``(0, 255)`` for 8-bit images) or per-feature arrays
        broadcastable to one sample's shape (``(X.min(axis=0),
        X.max(axis=0))`` for tabular data). "auto" takes the perturbation's
        own ``clip`` (``(0, 1)`` for the default ``RandomPixels()``); a range
        given here builds the default perturbation ``RandomPixels(clip=clip)``
        and, with a robustsk perturbation, must equal its ``clip``. ``X``
        outside the range gets one warning.

    Attributes
    ----------
    estimator_ : classifier
        The model that judged robustness (``estimator`` itself when prefit).
    steps_ : ndarray of shape (n_samples,)
        RPR step count of every point passed to :meth:`fit_resample`.
    robust_ : ndarray of shape (n_samples,), bool
        ``steps_ == max_steps``.
    support_ : ndarray of shape (n_samples,), bool
        The selected rows.
    sample_indices_ : ndarray of shape (n_selected,)
        Positions of the selected rows, increasing (imbalanced-learn's name).
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``y``.
    n_robust_per_class_ : dict
        ``{label: number of robust points}``.
    n_selected_per_class_ : dict
        ``{label: number of selected points}``.
    n_filled_per_class_ : dict
        ``{label: number of selected points that are not robust}`` (non-zero
        only with ``shortfall="fill"``).

    See Also
    --------
    robustsk.metrics.rpr_steps : the robustness measure.

    References
    ----------
    A. Ilie, M. Popescu, A. Stefanescu. Robustness as Inherent Property of
    Datapoints. AISafety workshop at IJCAI 2020, section 2.3.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from robustsk.perturb import RandomPixels
    >>> from robustsk.selection import RobustSubsetSelector
    >>> X, y = load_digits(return_X_y=True)
    >>> X, y = X[:600] / 16.0, y[:600]
    >>> model = LogisticRegression(max_iter=500).fit(X, y)
    >>> selector = RobustSubsetSelector(model, n_per_class=20, max_steps=20,
    ...                                 perturbation=RandomPixels(4), random_state=0)
    >>> X_r, y_r = selector.fit_resample(X, y)
    >>> X_r.shape, sorted(set(selector.n_selected_per_class_.values()))
    ((200, 64), [20])
    >>> bool((X_r == X[selector.get_support()]).all())
    True
    """

    #: What each parameter accepts, checked at the start of ``fit``/``fit_resample``
    #: (``batch_size``, ``backend``, ``clip`` and ``perturbation`` are checked by
    #: :func:`~robustsk.metrics.rpr_steps`).
    _parameter_constraints: ParameterConstraints = {
        "n_per_class": [_PerClass()],
        "shortfall": [Options(("keep", "fill"))],
        "max_steps": [Interval(1, integer=True)],
        "prefit": [Boolean()],
        "random_state": [RandomState()],
    }

    def __init__(
        self,
        estimator: Any,
        *,
        n_per_class: int | str | None = None,
        shortfall: str = "keep",
        max_steps: int = 250,
        perturbation: Perturbation | Callable[..., Any] | None = None,
        prefit: bool = True,
        random_state: int | np.random.Generator | None = None,
        batch_size: int | None = None,
        backend: str = "auto",
        verbose: int = 0,
        clip: str | ValueRange = "auto",
    ):
        self.estimator = estimator
        self.n_per_class = n_per_class
        self.shortfall = shortfall
        self.max_steps = max_steps
        self.perturbation = perturbation
        self.prefit = prefit
        self.random_state = random_state
        self.batch_size = batch_size
        self.backend = backend
        self.verbose = verbose
        self.clip = clip

    # ----------------------------------------------------------------- public
    def fit(self, X: ArrayLike, y: ArrayLike) -> RobustSubsetSelector:
        """Judge every point's robustness and choose the subset.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training points, as the estimator takes them.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self
        """
        self._validate()
        self._fit(X, y, stacklevel=3)
        return self

    def fit_resample(self, X: _X, y: _Y) -> tuple[_X, _Y]:
        """Select the robust, class-balanced subset and return its rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training points, as the estimator takes them.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        X_resampled : array-like of shape (n_selected, ...)
            ``X[self.sample_indices_]``, rows in their original order.
        y_resampled : array-like of shape (n_selected,)
            Their labels.
        """
        self._validate()
        return self._fit_resample(X, y)

    def get_support(self, indices: bool = False) -> np.ndarray:
        """The selected rows, as a mask or as positions.

        Parameters
        ----------
        indices : bool, default=False
            Return positions instead of a boolean mask.

        Returns
        -------
        support : ndarray
            Boolean mask of shape (n_samples,), or the positions of shape
            (n_selected,), of the rows :meth:`fit_resample` returned.
        """
        check_is_fitted(self, "support_")
        return self.sample_indices_.copy() if indices else self.support_.copy()

    # ---------------------------------------------------------------- private
    def _validate(self):
        """The declared parameters, then the estimator (fitted unless ``prefit=False``)."""
        validate_params(self)
        if not callable(getattr(self.estimator, "predict", None)):
            raise TypeError(
                f"estimator must be a classifier with predict(X), got "
                f"{type(self.estimator).__name__}."
            )
        if self.prefit and hasattr(self.estimator, "fit"):
            try:
                check_is_fitted(self.estimator)
            except NotFittedError:
                raise NotFittedError(
                    f"estimator {type(self.estimator).__name__} is not fitted; fit it first "
                    "(the model that judges robustness) or pass prefit=False to fit a clone "
                    "of it on the data given to fit_resample."
                ) from None

    def _fit_resample(self, X, y):
        self._fit(X, y, stacklevel=4)
        return _safe_indexing(X, self.sample_indices_), _safe_indexing(y, self.sample_indices_)

    def _fit(self, X, y, stacklevel):
        seed = draw_seed(self.random_state)
        model = self.estimator
        if not self.prefit:
            # X, y and the RPR settings are checked before a clone is fitted
            validate_rpr_args(
                X,
                y,
                perturbation=self.perturbation,
                max_steps=self.max_steps,
                random_state=self.random_state,
                batch_size=self.batch_size,
                chunk_size=None,
                backend=self.backend,
                clip=self.clip,
            )
            model = clone(self.estimator).fit(X, y)
        steps = rpr_steps(
            model,
            X,
            y,
            perturbation=self.perturbation,
            max_steps=self.max_steps,
            random_state=None if self.random_state is None else seed,
            batch_size=self.batch_size,
            backend=self.backend,
            verbose=self.verbose,
            clip=self.clip,
        )
        y_arr = np.asarray(y).ravel()
        robust = steps >= self.max_steps
        classes, codes = np.unique(y_arr, return_inverse=True)
        n_robust = np.bincount(codes[robust], minlength=len(classes))  # (n_classes,)
        if not robust.any():
            raise ValueError(
                f"no point withstands max_steps={self.max_steps} draws under this model and "
                "perturbation, so there is nothing to select; lower max_steps or use a "
                "milder perturbation."
            )
        rng = np.random.default_rng([seed, 1])
        n_class = np.bincount(codes, minlength=len(classes))
        fill = np.zeros(len(classes), dtype=np.int64)
        if self.n_per_class is None:
            take = n_robust
        else:
            want = (
                int(n_robust[n_robust > 0].min())
                if self.n_per_class == "min"
                else int(self.n_per_class)
            )
            if self.shortfall == "fill":
                fill = np.maximum(np.minimum(n_class, want) - n_robust, 0)
            short = n_robust + fill < want
            if short.any():
                kept = "the class's points" if self.shortfall == "fill" else "robust points"
                warnings.warn(
                    f"n_per_class={self.n_per_class!r}: classes "
                    f"{classes[short].tolist()!r} have only "
                    f"{(n_robust + fill)[short].tolist()!r} {kept}; all of them are kept, so "
                    "the subset is not balanced.",
                    UserWarning,
                    stacklevel=stacklevel,
                )
            take = np.minimum(n_robust, want)
        drawn = stratified_sample(codes[robust], take, rng)  # positions among the robust
        chosen = np.flatnonzero(robust)[drawn]
        if fill.any():
            chosen = np.concatenate([chosen, _most_robust_rest(steps, codes, robust, fill, rng)])
        chosen = np.sort(chosen)
        self.estimator_ = model
        self.steps_ = steps
        self.robust_ = robust
        self.classes_ = classes
        self.sample_indices_ = chosen
        self.support_ = np.zeros(steps.shape[0], dtype=bool)
        self.support_[chosen] = True
        self.n_robust_per_class_ = {c: int(n) for c, n in zip(classes.tolist(), n_robust)}
        self.n_selected_per_class_ = {c: int(n) for c, n in zip(classes.tolist(), take + fill)}
        self.n_filled_per_class_ = {c: int(n) for c, n in zip(classes.tolist(), fill)}
        return self


def _most_robust_rest(
    steps: np.ndarray,
    codes: np.ndarray,
    robust: np.ndarray,
    fill: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Positions of the ``fill[c]`` non-robust points of each class ``c`` with the most
    RPR steps, ties broken at random (one sort, no loop over classes)."""
    rest = np.flatnonzero(~robust)
    # by class, then steps descending, then a random key
    order = rest[np.lexsort((rng.random(rest.size), -steps[rest], codes[rest]))]
    sorted_codes = codes[order]
    first = np.searchsorted(sorted_codes, sorted_codes, side="left")
    rank = np.arange(order.size) - first  # position within its class
    return order[rank < fill[sorted_codes]]
