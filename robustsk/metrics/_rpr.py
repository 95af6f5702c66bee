"""RPR, the randomized perturbation robustness of a model at each data point (Ilie et al.).

Three layers: :func:`rpr_steps` gives the per-point step counts, :func:`rpr_score`
the fraction of robust points, :class:`RPRScorer` the scikit-learn scorer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from tqdm.auto import tqdm

from ..perturb import (
    GaussianNoise,
    Perturbation,
    RandomPixels,
    ValueRange,
    check_range,
    check_range_shape,
    warn_outside_range,
)
from ..utils import (
    RandomStateLike,
    check_batch,
    check_n_jobs,
    check_number,
    check_options,
    check_random_state_param,
    fill_doc,
    map_pool,
    validate_params,
)
from ._adversarial import encode_labels
from ._rpr_engine import PredictModel, TorchModel, default_sizes, make_perturber, run_engine

BACKENDS = ("auto", "torch", "predict")

_CLIP_PARAM = """clip : "auto", tuple (low, high) or None, default="auto"
        Valid range of ``X``, from which perturbed values are drawn: numbers
        (``(0, 255)`` for 8-bit images) or per-feature arrays broadcastable to
        one sample's shape (``(X_train.min(axis=0), X_train.max(axis=0))`` for
        tabular data: a feature then takes random values inside its own
        range). "auto" takes the perturbation's own ``clip`` (``(0, 1)`` for
        the default ``RandomPixels()``). A range given here builds the
        default perturbation, ``RandomPixels(clip=clip)``; with a robustsk
        perturbation it must equal that perturbation's ``clip``; with any
        other callable it only serves to check ``X``. ``X`` outside the range
        gets one warning per call. The estimator is shown perturbed raw
        input, so for a ``Pipeline`` this is the range of the features
        *before* its transforms (a scaler inside the pipeline sees perturbed
        rows)."""

_ENGINE_PARAMS = (
    """perturbation : Perturbation, callable or None, default=None
        The random scheme ``R``; each draw is applied to the original point.
        ``None`` means :class:`~robustsk.perturb.RandomPixels` with its
        defaults (up to ``round(sqrt(n_pixels))`` pixels replaced by uniform
        values in the valid range ``clip``, [0, 1] by default: the paper's
        scheme). A robustsk perturbation runs on
        torch tensors (on the net's device for torch nets); any other callable
        ``f(X) -> X_perturbed`` gets numpy batches of shape ``(rows, ...)``
        (and ``random_state=<numpy Generator>`` when its signature accepts it and
        ``random_state`` is given).
    max_steps : int, default=250
        Draws per point; a point that withstands them all is robust (the
        paper's ``MAX_STEPS``).
    random_state : None, int, numpy or torch Generator, default=None
        Seeds the draws. ``None`` uses the perturbation's own stream (seeded by
        its ``random_state``). Results are reproducible for a fixed seed and
        fixed ``batch_size`` and ``chunk_size``; other sizes consume the random
        numbers in another order and give other draws with the same law.
    batch_size : int or None, default=None
        Most rows (perturbed copies) per perturb and predict call; ``None``
        means 512 for a torch net on the CPU (cache-sized batches run fastest
        there), 16,384 on a GPU and 4,096 through ``predict``.
    chunk_size : int or None, default=None
        Points processed together (held on the device at once); ``None``
        means ``max(batch_size, 8192)``.
    backend : {"auto", "torch", "predict"}, default="auto"
        "torch" predicts with the net's module on its device (robustsk
        estimators and skorch nets: eval mode, no gradients); "predict" calls
        ``estimator.predict`` on numpy batches (any classifier); "auto" picks
        "torch" when the estimator has a torch ``module_``.
    n_jobs : int or None, default=None
        Jobs running the blocks of ``chunk_size`` points through joblib (any
        backend, e.g. ``joblib.parallel_backend("dask")`` on a Dask cluster);
        as in scikit-learn, None means 1 unless in a ``joblib.parallel_config``
        context, -1 all cores. Each block gets its own seed spawned from
        ``random_state`` (or from the perturbation's own stream without one),
        so the steps are the same for every ``n_jobs``, None included. Lower
        ``chunk_size`` for more blocks.
    verbose : int, default=1
        A progress bar over points, drawn on a terminal only (as the fits'
        progress); 0 is silent.
    """
    + _CLIP_PARAM
)


def _check_perturbation(perturbation):
    if perturbation is None:
        return RandomPixels()
    if not callable(perturbation):
        raise TypeError(
            "perturbation must be a robustsk.perturb.Perturbation or a callable "
            f"f(X) -> X_perturbed, got {perturbation!r} ({type(perturbation).__name__}), "
            "which has no __call__."
        )
    if isinstance(perturbation, Perturbation):
        validate_params(perturbation, prefix="perturbation.")
        if isinstance(perturbation, GaussianNoise) and np.ndim(perturbation.sigma) > 0:
            raise ValueError(
                "perturbation=GaussianNoise with one sigma per sample is not supported by "
                "rpr_steps (rows are perturbed copies, not samples); pass a scalar sigma, got "
                f"an array of shape {np.shape(perturbation.sigma)}."
            )
    return perturbation


def _same_range(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    for u, v in zip(a, b):
        try:
            u, v = np.broadcast_arrays(u, v)
        except ValueError:  # shapes that do not broadcast
            return False
        if not np.array_equal(u, v):
            return False
    return True


def _resolve_clip(perturbation, clip) -> tuple[Callable[..., Any], Any]:
    """Return ``(perturbation, range of X)``: ``None`` made the default scheme with ``clip``.

    The range is what ``X`` is checked against (``None``: no check).
    """
    if isinstance(clip, str):
        if clip != "auto":
            raise ValueError(
                f"clip must be 'auto', None or a pair (low, high) of numbers or per-feature "
                f"arrays, got {clip!r}."
            )
        perturbation = _check_perturbation(perturbation)
        return perturbation, getattr(perturbation, "clip", None)
    bounds = check_range(clip)
    if perturbation is None:
        if bounds is None:
            raise ValueError(
                "clip must be a pair (low, high) with the default perturbation RandomPixels, "
                "got None: its new values are drawn from the range. Pass the data's range, "
                "e.g. clip=(0, 255) or clip=(X.min(axis=0), X.max(axis=0))."
            )
        return _check_perturbation(RandomPixels(clip=clip)), clip
    perturbation = _check_perturbation(perturbation)
    if isinstance(perturbation, Perturbation):
        own = check_range(perturbation.clip, "perturbation.clip")
        if not _same_range(own, bounds):
            raise ValueError(
                f"clip={clip!r} differs from perturbation.clip={perturbation.clip!r}; give the "
                "valid range once: in the perturbation (and leave clip='auto'), or here and "
                "in the perturbation alike."
            )
    return perturbation, clip


def validate_rpr_args(
    X: ArrayLike,
    y: ArrayLike,
    *,
    perturbation: Callable[..., Any] | None,
    max_steps: int,
    random_state: RandomStateLike,
    batch_size: int | None,
    chunk_size: int | None,
    backend: str,
    clip: str | ValueRange = "auto",
) -> tuple[np.ndarray, np.ndarray, Callable[..., Any]]:
    """Validate everything but the estimator; return ``(X, y, perturbation)``.

    ``X`` comes back as a float32 numpy array, ``y`` as a 1-d array and
    ``perturbation`` with ``None`` replaced by ``RandomPixels(clip=...)``
    (``RandomPixels()`` for ``clip="auto"``).
    """
    check_number(max_steps, "max_steps", low=1, integer=True)
    if batch_size is not None:
        check_number(batch_size, "batch_size", low=1, integer=True)
    if chunk_size is not None:
        check_number(chunk_size, "chunk_size", low=1, integer=True)
    check_options(backend, "backend", set(BACKENDS))
    check_random_state_param(random_state)
    perturbation, data_range = _resolve_clip(perturbation, clip)
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = check_batch(np.asarray(X), "X")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.shape[0] == 0:
        raise ValueError(f"X must hold at least one sample, got shape {X.shape}.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must have shape (n_samples,), got shape {y.shape}.")
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples, got {X.shape[0]} and {y.shape[0]}."
        )
    check_range_shape(check_range(data_range), X.shape[1:])
    if isinstance(perturbation, Perturbation):  # checks that need the data (k > pixels, ...)
        perturbation._apply(X[:1], 0, warn=False)
    return X, y, perturbation


def _warn_outside_clip(X, perturbation, clip, stacklevel):
    """One warning when ``X`` leaves the range the perturbation works in."""
    data_range = getattr(perturbation, "clip", None) if isinstance(clip, str) else clip
    if data_range is None:
        return
    name = type(perturbation).__name__
    warn_outside_range(
        X,
        data_range,
        who=f"the perturbation {name}",
        consequence=(
            "the perturbed values are drawn in (or clipped into) that range, so the copies "
            "do not look like perturbed data and RPR measures the wrong thing"
        ),
        stacklevel=stacklevel + 1,
    )


def _make_model(estimator, y, backend):
    """The engine's view of the estimator: the torch path or ``predict``."""
    has_module = isinstance(getattr(estimator, "module_", None), nn.Module)
    if backend == "auto":
        backend = "torch" if has_module else "predict"
    if backend == "torch":
        return TorchModel(estimator, encode_labels(estimator, y))
    if not callable(getattr(estimator, "predict", None)):
        raise TypeError(
            f"estimator must be a fitted classifier with predict(X), got "
            f"{type(estimator).__name__}."
        )
    if getattr(estimator, "classes_", None) is not None:
        encode_labels(estimator, y)  # labels the model cannot predict: a clear error now
    return PredictModel(estimator, y)


@fill_doc(engine_params=_ENGINE_PARAMS)
def rpr_steps(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    perturbation: Callable[..., Any] | None = None,
    max_steps: int = 250,
    random_state: RandomStateLike = None,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    backend: str = "auto",
    n_jobs: int | None = None,
    verbose: int = 1,
    clip: str | ValueRange = "auto",
) -> np.ndarray:
    """RPR step count of every point: perturbation draws until the model errs, capped.

    For a point ``(x, y)`` the model is shown ``R(x)``, a fresh draw of the
    random perturbation ``R`` applied to the *original* ``x`` (draws are not
    cumulative), again and again, until it misclassifies a draw or
    ``max_steps`` draws have passed. The step count is the number of draws it
    takes until the model misclassifies one (that draw included: a point first
    fooled by the 47th draw counts 47), capped at ``max_steps``. A point at
    ``max_steps`` is **robust** -- the paper's RPR, ``min(MAX_STEPS, steps)``
    (section 2.1), which also counts a point first fooled by exactly the
    ``max_steps``-th draw as robust. A point the model already misclassifies
    without perturbation counts 0 and is not robust.

    Model-agnostic: any fitted classifier with ``predict`` works, on whatever
    input it takes (flat ``(n, d)`` for most scikit-learn models). robustsk
    estimators and skorch nets take a fast path: perturbations are made on the
    net's device and predicted by the module's forward in eval mode without
    gradients. A batched engine evaluates the next draws of every unbroken
    point in one predict call and drops points as soon as they break (see
    :mod:`robustsk.metrics._rpr_engine`); its step counts have the law of the
    sequential algorithm.

    Parameters
    ----------
    estimator : fitted classifier
        With ``predict`` (and ``classes_`` for the torch path), or a fitted
        robustsk estimator / skorch net.
    X : array-like or tensor of shape (n_samples, ...)
        Clean points, in the valid range ``clip`` (default [0, 1]).
    y : array-like of shape (n_samples,)
        True labels.
    {engine_params}

    Returns
    -------
    steps : ndarray of shape (n_samples,), int64
        Draws until the first misclassified one (included), capped: in
        ``[0, max_steps]``; 0 for a point misclassified without perturbation.

    Raises
    ------
    ValueError, TypeError
        For bad input, before any work: NaN or infinity in ``X``, ``X`` and
        ``y`` of different lengths, ``max_steps < 1``, a ``perturbation``
        that is not callable, an estimator without ``predict``, ...

    See Also
    --------
    rpr_score : fraction of robust points.
    rpr_curve : robust ratio against ``max_steps`` from one steps array.

    References
    ----------
    A. Ilie, M. Popescu, A. Stefanescu. Robustness as Inherent Property of
    Datapoints. AISafety workshop at IJCAI 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from robustsk.metrics import rpr_steps
    >>> X, y = load_digits(return_X_y=True)
    >>> X, y = X[:600] / 16.0, y[:600]
    >>> clf = LogisticRegression(max_iter=500).fit(X, y)
    >>> steps = rpr_steps(clf, X[:100], y[:100], max_steps=50, random_state=0)
    >>> steps.shape, bool(((steps >= 0) & (steps <= 50)).all())
    ((100,), True)

    Tabular data on their own scale: give each feature its range, and a
    perturbed feature takes random values inside it.

    >>> import numpy as np
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_wine(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    >>> steps = rpr_steps(model, X, y, max_steps=20, random_state=0,
    ...                   clip=(X.min(axis=0), X.max(axis=0)))  # raw features' ranges
    >>> bool(((steps >= 0) & (steps <= 20)).all())
    True
    """
    return _rpr_steps(
        estimator,
        X,
        y,
        perturbation=perturbation,
        max_steps=max_steps,
        random_state=random_state,
        batch_size=batch_size,
        chunk_size=chunk_size,
        backend=backend,
        n_jobs=n_jobs,
        verbose=verbose,
        clip=clip,
        stacklevel=2,
    )


def _rpr_steps(
    estimator,
    X,
    y,
    *,
    perturbation=None,
    max_steps=250,
    random_state=None,
    batch_size=None,
    chunk_size=None,
    backend="auto",
    n_jobs=None,
    verbose=0,
    clip="auto",
    stacklevel=None,
):
    """:func:`rpr_steps`; warns once about ``X`` outside the valid range.

    ``stacklevel`` places the warning (1: this function's caller); ``None``
    skips the check (blocks of a parallel run, whose caller checked).
    """
    X, y, perturbation = validate_rpr_args(
        X,
        y,
        perturbation=perturbation,
        max_steps=max_steps,
        random_state=random_state,
        batch_size=batch_size,
        chunk_size=chunk_size,
        backend=backend,
        clip=clip,
    )
    check_n_jobs(n_jobs)
    model = _make_model(estimator, y, backend)
    if stacklevel is not None:
        _warn_outside_clip(X, perturbation, clip, stacklevel + 1)
    batch_size, chunk_size = default_sizes(model, batch_size, chunk_size)
    return _parallel_steps(
        estimator,
        X,
        y,
        perturbation,
        max_steps,
        random_state,
        batch_size,
        chunk_size,
        backend,
        n_jobs,
        verbose,
    )


def _parallel_steps(
    estimator,
    X,
    y,
    perturbation,
    max_steps,
    random_state,
    batch_size,
    chunk_size,
    backend,
    n_jobs,
    verbose,
):
    """Blocks of ``chunk_size`` points through :func:`map_pool`, one spawned seed per block:
    in this process for one job, through joblib for more, the same steps for any ``n_jobs``.
    Without ``random_state`` the seeds come from a robustsk perturbation's own stream (a
    plain callable then uses its own randomness)."""
    if X.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    seeds = random_state
    if seeds is None and isinstance(perturbation, Perturbation):
        seeds = perturbation._generator(torch.device("cpu"), None)
    return map_pool(
        _steps_block,
        X,
        n_jobs=n_jobs,
        block_size=chunk_size,
        random_state=seeds,
        seeded=seeds is not None,
        per_row={"y": y},
        verbose=verbose,
        desc="rpr",
        pass_progress=True,
        estimator=estimator,
        perturbation=perturbation,
        max_steps=max_steps,
        batch_size=batch_size,
        chunk_size=chunk_size,
        backend=backend,
    )


def _steps_block(
    X,
    y,
    *,
    estimator,
    perturbation,
    max_steps,
    batch_size,
    chunk_size,
    backend,
    random_state=None,
    progress=None,
):
    """Steps of one block of points (validated, and warned about, by the caller)."""
    model = _make_model(estimator, y, backend)
    perturb = make_perturber(perturbation, model.device, random_state)
    with contextlib.nullcontext(progress) if progress is not None else tqdm(disable=True) as bar:
        return run_engine(
            model,
            perturb,
            X,
            max_steps=max_steps,
            batch_size=batch_size,
            chunk_size=chunk_size,
            progress=bar,
        )


@fill_doc(engine_params=_ENGINE_PARAMS)
def rpr_score(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    perturbation: Callable[..., Any] | None = None,
    max_steps: int = 250,
    random_state: RandomStateLike = None,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    backend: str = "auto",
    n_jobs: int | None = None,
    verbose: int = 1,
    clip: str | ValueRange = "auto",
) -> float:
    """Fraction of points that are robust: they withstand ``max_steps`` draws.

    The paper's robust ratio of a data set (0.2957 on MNIST's test set for
    its CNN). Misclassified points are not robust, so the score is at most
    the accuracy.

    Parameters
    ----------
    estimator : fitted classifier
        As in :func:`rpr_steps`.
    X : array-like or tensor of shape (n_samples, ...)
        Clean points.
    y : array-like of shape (n_samples,)
        True labels.
    {engine_params}

    Returns
    -------
    score : float
        ``mean(rpr_steps(...) == max_steps)``, in [0, 1]; greater is better.

    See Also
    --------
    rpr_steps, RPRScorer

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from robustsk.metrics import rpr_score
    >>> X, y = np.random.default_rng(0).random((20, 16)), np.zeros(20)
    >>> rpr_score(DummyClassifier().fit(X, y), X, y, max_steps=10)  # a constant never flips
    1.0
    """
    steps = _rpr_steps(
        estimator,
        X,
        y,
        perturbation=perturbation,
        max_steps=max_steps,
        random_state=random_state,
        batch_size=batch_size,
        chunk_size=chunk_size,
        backend=backend,
        n_jobs=n_jobs,
        verbose=verbose,
        clip=clip,
        stacklevel=2,
    )
    return float(np.mean(steps >= max_steps))


class RPRScorer:
    """A scorer ``scorer(estimator, X, y) -> rpr_score`` for GridSearchCV and cross_val_score.

    Greater is better. Usable as ``scoring=RPRScorer()`` and inside a dict of
    scorers (``scoring={"rpr": RPRScorer(), "accuracy": "accuracy"}``). With the
    default ``random_state=0`` every candidate model is scored on the same
    random draws (given the same data), which makes comparisons less noisy.

    Parameters
    ----------
    max_steps : int, default=250
        Draws a point must withstand to count as robust.
    perturbation : Perturbation, callable or None, default=None
        The random scheme; ``None`` means
        :class:`~robustsk.perturb.RandomPixels` (the paper's).
    random_state : None, int, numpy or torch Generator, default=0
        Seeds the draws.
    batch_size : int or None, default=None
        Most rows per predict call (``None``: as in :func:`rpr_steps`).
    chunk_size : int or None, default=None
        Points processed together (``None``: ``max(batch_size, 8192)``).
    backend : {"auto", "torch", "predict"}, default="auto"
        As in :func:`rpr_steps`.
    n_jobs : int or None, default=None
        Parallel blocks of points through joblib, as in :func:`rpr_steps`.
    verbose : int, default=0
        Progress bar.
    clip : "auto", tuple (low, high) or None, default="auto"
        Valid range of the data, as in :func:`rpr_steps`: ``(0, 255)`` for
        8-bit images, per-feature arrays for tabular data (the raw features'
        ranges when the estimator is a ``Pipeline``).

    See Also
    --------
    rpr_score

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.model_selection import cross_val_score
    >>> from robustsk.metrics import RPRScorer
    >>> X, y = load_digits(return_X_y=True)
    >>> scores = cross_val_score(RandomForestClassifier(n_estimators=10, random_state=0),
    ...                          X[:200] / 16, y[:200], cv=2, scoring=RPRScorer(max_steps=20))
    >>> scores.shape
    (2,)
    """

    def __init__(
        self,
        max_steps: int = 250,
        *,
        perturbation: Callable[..., Any] | None = None,
        random_state: RandomStateLike = 0,
        batch_size: int | None = None,
        chunk_size: int | None = None,
        backend: str = "auto",
        n_jobs: int | None = None,
        verbose: int = 0,
        clip: str | ValueRange = "auto",
    ):
        self.max_steps = max_steps
        self.perturbation = perturbation
        self.random_state = random_state
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.backend = backend
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.clip = clip

    def __call__(self, estimator: Any, X: ArrayLike, y: ArrayLike) -> float:
        return rpr_score(
            estimator,
            X,
            y,
            perturbation=self.perturbation,
            max_steps=self.max_steps,
            random_state=self.random_state,
            batch_size=self.batch_size,
            chunk_size=self.chunk_size,
            backend=self.backend,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            clip=self.clip,
        )

    def __repr__(self):
        clip = "" if isinstance(self.clip, str) and self.clip == "auto" else f", clip={self.clip!r}"
        return (
            f"RPRScorer(max_steps={self.max_steps!r}, perturbation={self.perturbation!r}, "
            f"random_state={self.random_state!r}{clip})"
        )
