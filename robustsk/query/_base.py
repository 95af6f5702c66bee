"""The contract every acquisition strategy shares, and the helpers that enforce it.

A strategy is ``strategy(classifier, X_pool, n_instances=1, *, random_state=None,
**kw) -> (indices, scores)``: ``indices`` are unique positions in ``X_pool``
(int64), ``scores`` the strategy's score of each selected example. The
classifier may be a robustsk estimator, a skorch net, any scikit-learn
classifier with ``predict_proba``, or an active learner (modAL's or
robustsk's) wrapping one of these.

Every built-in strategy is declared with :func:`query_strategy`, which checks
the contract at both ends, before and after the strategy's own code:

* its parameters, against the declaration (the shared ones, ``n_instances``,
  ``random_state``, ``batch_size``, ``n_jobs``, ``block_size``, plus the
  strategy's own), before any work: a ``TypeError`` or ``ValueError`` naming
  the parameter, the value and what is allowed;
* the pool, in :func:`check_query` (:func:`check_pool`): real numbers, finite,
  2-d ``(n, n_features)`` or images ``(n, c, h, w)``, with the features of the
  fitted model (``input_shape_`` or ``n_features_in_``), before any model call;
* its answer (:func:`check_strategy_output`): ``n_instances`` unique integer
  positions in the pool. An active learner applies the same check to a custom
  strategy's answer.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    Interval,
    NJobs,
    ParameterConstraints,
    RandomState,
    batches,
    check_random_state_param,
    declare_params,
    map_pool,
    numpy_generator,
)

#: Rows per forward pass when strategies stream the pool through a model.
DEFAULT_BATCH_SIZE = 1024


def unwrap_classifier(classifier):
    """Return the estimator inside an active learner, or the classifier itself."""
    if (
        hasattr(classifier, "query")
        and hasattr(classifier, "teach")
        and hasattr(classifier, "estimator")
    ):
        return classifier.estimator
    return classifier


#: The parameters strategies share, declared once: a strategy with one of these
#: parameters gets its constraint from here (:func:`query_strategy`).
SHARED_CONSTRAINTS: ParameterConstraints = {
    "n_instances": [Interval(1, integer=True)],
    "random_state": [RandomState()],
    "batch_size": [Interval(1, integer=True)],
    "n_jobs": [NJobs()],
    "block_size": [Interval(1, integer=True)],
}

#: dtype kinds a pool may have: bool, signed and unsigned ints, floats.
_REAL_KINDS = "biuf"

#: Elements per block of the finite check (bounded memory on large pools).
_FINITE_BLOCK = 1 << 22


def query_strategy(
    constraints: ParameterConstraints | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a strategy: its parameters are checked before it runs, its answer after.

    The strategy's parameters named in :data:`SHARED_CONSTRAINTS` get the shared
    constraints, ``constraints`` adds (or overrides) its own; every call checks
    the parameters it passes (:func:`~robustsk.utils.declare_params`) before the
    strategy's code runs, and the strategy's answer with
    :func:`check_strategy_output`. The declaration is the strategy's
    ``_parameter_constraints``.

    Parameters
    ----------
    constraints : dict or None, default=None
        ``{name: [constraint, ...]}`` of the strategy's own parameters.

    Returns
    -------
    decorator : callable
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)
        declared = {k: v for k, v in SHARED_CONSTRAINTS.items() if k in signature.parameters}
        declared.update(constraints or {})
        checked = declare_params(declared)(fn)
        name = fn.__name__

        @functools.wraps(checked)
        def strategy(*args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
            result = checked(*args, **kwargs)
            arguments = signature.bind(*args, **kwargs).arguments  # bound by the call above
            n_pool = len(arguments["X_pool"])
            n_instances = arguments.get("n_instances", signature.parameters["n_instances"].default)
            return check_strategy_output(result, n_pool, n_instances, strategy=name)

        return strategy

    return decorate


def _members(estimator: Any) -> list[Any]:
    """The fitted models whose input ``estimator`` passes the pool to (a committee's
    members, or the estimator itself)."""
    if isinstance(estimator, (list, tuple)):
        return [unwrap_classifier(m) for m in estimator]
    if hasattr(estimator, "learner_list"):  # modAL's Committee
        return [unwrap_classifier(m) for m in estimator.learner_list]
    members = getattr(estimator, "estimators_", None)
    if isinstance(members, list) and hasattr(estimator, "member_proba"):  # CommitteeClassifier
        return members
    return [estimator]


def _fitted_input(model: Any) -> tuple[tuple[int, ...] | None, int | None]:
    """``(input_shape_, n_features_in_)`` of a fitted model, None where it has none."""
    try:
        shape = getattr(model, "input_shape_", None)
        n_features = getattr(model, "n_features_in_", None)
    except Exception:  # a property that needs more than the model has (unfitted pipelines)
        return None, None
    if not (isinstance(shape, tuple) and all(isinstance(d, numbers.Integral) for d in shape)):
        shape = None
    if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral):
        n_features = None
    return shape, None if n_features is None else int(n_features)


def _check_features(X: np.ndarray, estimator: Any, name: str, caller: str) -> None:
    """ValueError unless every example of ``X`` has the features the fitted model takes."""
    row = tuple(int(d) for d in X.shape[1:])
    n_row = math.prod(row)
    for model in _members(estimator):
        shape, n_features = _fitted_input(model)
        who = f"{caller}'s classifier ({type(model).__name__})"
        if shape is not None:  # a robustsk estimator: the training data's example shape
            expected = math.prod(shape)
            if n_row != expected or (len(row) == 3 and len(shape) == 3 and row != shape):
                raise ValueError(
                    f"{name} has examples of shape {row} ({n_row} features), but {who} "
                    f"was fitted on examples of shape {tuple(shape)} ({expected} features)."
                )
        elif n_features is not None and n_features not in (row[0], n_row):
            # scikit-learn counts X.shape[1]; a net flattening images counts them all
            raise ValueError(
                f"{name} has {row[0]} features (examples of shape {row}), but {who} was "
                f"fitted on {n_features} features."
            )


def _first_non_finite(X: np.ndarray) -> int | None:
    """The first row of ``X`` holding a NaN or an infinity, in blocks of bounded memory."""
    if X.dtype.kind != "f" or X.size == 0:
        return None
    rows = max(1, _FINITE_BLOCK // max(1, math.prod(X.shape[1:])))
    for s in batches(X.shape[0], rows):
        finite = np.isfinite(X[s]).reshape(s.stop - s.start, -1).all(axis=1)
        if not finite.all():
            return s.start + int(np.argmin(finite))
    return None


def check_pool(
    X: Any, estimator: Any = None, *, name: str = "X_pool", caller: str = "the strategy"
) -> np.ndarray:
    """Validate a pool of examples before any model sees it; return it as an ndarray.

    The one check of every strategy's pool (and of the labelled set some take):
    a numpy array or torch tensor of real numbers (bool, int or float; not
    object, complex or strings), of shape ``(n, n_features)`` or images
    ``(n, c, h, w)``, with the features the fitted model takes (its
    ``input_shape_``, as a robustsk estimator records it, or scikit-learn's
    ``n_features_in_``; every member of a committee), and finite. The array is
    not copied or cast: a memory-mapped pool stays on disk, read once in
    blocks for the finite check.

    Parameters
    ----------
    X : array-like or torch.Tensor
        The examples.
    estimator : fitted classifier, committee or None, default=None
        The model the examples go to; None skips the feature check.
    name : str, default="X_pool"
        The parameter's name, for messages.
    caller : str, default="the strategy"
        The strategy, for messages.

    Returns
    -------
    X : ndarray

    Raises
    ------
    TypeError
        Not numbers (object, complex or string dtype).
    ValueError
        Another rank, other features than the model's, or a NaN or infinity.
    """
    X = check_pool_layout(X, estimator, name=name, caller=caller)
    bad = _first_non_finite(X)
    if bad is not None:
        raise ValueError(f"{name} contains NaN or infinity (first in row {bad}).")
    return X


def check_pool_layout(
    X: Any, estimator: Any = None, *, name: str = "X_pool", caller: str = "the strategy"
) -> np.ndarray:
    """:func:`check_pool` without the finite check: dtype, rank and features only, which
    reads no row (a memory-mapped pool stays on disk)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        X = np.asarray(X)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise ValueError(f"{name} must be an array of shape (n_samples, ...): {exc}") from None
    if X.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {X.dtype}.")
    if X.ndim not in (2, 4):
        hint = " Add the channel axis for images: X[:, None]." if X.ndim == 3 else ""
        raise ValueError(
            f"{name} must have shape (n_samples, n_features) or (n_samples, channels, "
            f"height, width), got shape {X.shape}.{hint}"
        )
    if estimator is not None:
        _check_features(X, estimator, name, caller)
    return X


def check_query(
    classifier: Any, X_pool: Any, n_instances: Any, random_state: Any, *, name: str
) -> tuple[Any, np.ndarray, np.random.Generator]:
    """Validate a strategy's common arguments; return ``(estimator, X_pool, rng)``.

    ``X_pool`` is checked with :func:`check_pool` against the classifier (the
    estimator inside a learner), before any model call.
    """
    if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral):
        raise TypeError(
            f"n_instances must be an int, got {n_instances!r} ({type(n_instances).__name__})."
        )
    check_random_state_param(random_state)
    estimator = unwrap_classifier(classifier)
    if estimator is None:
        raise TypeError(f"{name} needs a fitted classifier, got None.")
    X_pool = check_pool(X_pool, estimator, name="X_pool", caller=name)
    n_pool = X_pool.shape[0]
    if not 1 <= int(n_instances) <= n_pool:
        raise ValueError(
            f"n_instances must be in [1, {n_pool}] (the pool size), got {n_instances}."
        )
    return estimator, X_pool, numpy_generator(random_state)


def check_labeled(X_labeled: Any, estimator: Any, *, caller: str) -> np.ndarray | None:
    """The labelled set of coreset, typiclust and probcover: None (also for no rows), or
    the array, checked as the pool is (:func:`check_pool`, as parameter ``X_labeled``)."""
    if X_labeled is None or len(X_labeled) == 0:
        return None
    return check_pool(X_labeled, estimator, name="X_labeled", caller=caller)


def check_points(
    points: Any,
    n: int,
    name: str,
    ndim: int,
    *,
    dtype: Any = None,
    count: str = "n",
    finite: bool = True,
) -> Any:
    """Check the precomputed points of a selection routine (embeddings, probabilities).

    They must be real, finite (unless ``finite=False``), of ``ndim`` dimensions,
    with at least ``n`` rows (``count`` names the parameter asking for ``n``); a
    tensor is returned as is, an array cast to ``dtype`` if given.
    """
    tensor = isinstance(points, torch.Tensor)
    if not tensor:
        points = np.asarray(points)
    real = torch.is_floating_point(points) if tensor else points.dtype.kind in _REAL_KINDS
    if not real:
        raise TypeError(f"{name} must hold real numbers, got dtype {points.dtype}.")
    shape = tuple(points.shape)
    if len(shape) != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {shape}.")
    if finite:
        ok = bool(torch.isfinite(points).all()) if tensor else _first_non_finite(points) is None
        if not ok:
            raise ValueError(f"{name} contains NaN or infinity.")
    if n > shape[0]:
        raise ValueError(f"{count} must be in [1, {shape[0]}] (the rows of {name}), got {n}.")
    if dtype is not None and not tensor:
        points = points.astype(dtype, copy=False)
    return points


def check_strategy_output(
    result: Any, n_pool: int, n_instances: int, *, strategy: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Check a strategy's answer against the contract; return ``(indices, scores)``.

    ``indices`` must be a 1-d array of ``n_instances`` unique integer positions
    in a pool of ``n_pool`` rows (negative positions are refused: they would
    count from the end); they are returned as int64. ``scores`` are returned as
    an array, unchecked (modAL's strategies return the selected rows there).

    Parameters
    ----------
    result : object
        What the strategy returned, ``(indices, scores)``.
    n_pool : int
        Rows of the pool the strategy was given.
    n_instances : int
        How many it was asked for.
    strategy : callable or str
        The strategy, named in messages.

    Returns
    -------
    indices : ndarray of int64, shape (n_instances,)
    scores : ndarray

    Raises
    ------
    TypeError
        ``result`` is not a pair.
    ValueError
        The indices break the contract; the message names the strategy.
    """
    who = strategy if isinstance(strategy, str) else getattr(strategy, "__name__", None)
    who = f"query strategy {who or type(strategy).__name__!r}"
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"{who} must return (indices, scores), got {type(result).__name__}.")
    raw, scores = result
    if isinstance(raw, torch.Tensor):
        raw = raw.detach().cpu().numpy()
    try:
        idx = np.asarray(raw)
    except (TypeError, ValueError):
        idx = np.asarray(None)
    if idx.dtype == object and idx.ndim == 1:  # e.g. a list of Python and numpy ints
        if all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in idx):
            idx = idx.astype(np.int64)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(
            f"{who} must return indices as a 1-d array of integer positions in X_pool, "
            f"got {_show(raw)} (dtype {idx.dtype}, shape {idx.shape})."
        )
    if idx.shape[0] != n_instances:
        raise ValueError(
            f"{who} was asked for n_instances={n_instances} but returned {idx.shape[0]} indices."
        )
    out = idx[(idx < 0) | (idx >= n_pool)]
    if out.size:
        raise ValueError(
            f"{who} returned indices outside [0, {n_pool}) (the pool's rows): {out[:5].tolist()!r}."
        )
    values, counts = np.unique(idx, return_counts=True)
    if values.shape[0] != idx.shape[0]:
        raise ValueError(
            f"{who} returned repeated indices: {values[counts > 1][:5].tolist()!r}; "
            "a query asks for distinct pool rows."
        )
    return idx.astype(np.int64, copy=False), np.asarray(scores)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def select_top(
    scores: np.ndarray, n_instances: int, rng: np.random.Generator, *, largest: bool = True
):
    """Indices of the ``n_instances`` highest (or lowest) scores, ties broken at random.

    Runs in O(n) with :func:`numpy.argpartition` on scores jittered only
    within ties (a random permutation decides the order of equal scores).
    """
    scores = np.asarray(scores, dtype=np.float64)
    key = scores if largest else -scores
    perm = rng.permutation(scores.shape[0])
    shuffled = key[perm]
    if n_instances < shuffled.shape[0]:
        part = np.argpartition(-shuffled, n_instances - 1)[:n_instances]
    else:
        part = np.arange(shuffled.shape[0])
    part = part[np.argsort(-shuffled[part], kind="stable")]
    idx = perm[part].astype(np.int64)
    return idx, scores[idx]


def predict_proba_batched(
    estimator,
    X,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> np.ndarray:
    """``estimator.predict_proba`` over ``X`` in batches (bounded memory).

    Blocks of ``block_size`` rows go through :func:`map_pool` (joblib tasks
    when ``n_jobs`` asks for more than one job), each predicted in batches of
    ``batch_size`` rows, so the result does not depend on ``n_jobs``.
    """
    check_predict_proba(estimator)
    return map_pool(
        _proba_block,
        X,
        n_jobs=n_jobs,
        block_size=block_size,
        estimator=estimator,
        batch_size=batch_size,
    )


def check_predict_proba(estimator) -> None:
    """TypeError unless ``estimator`` has ``predict_proba`` (or is a torch-backed net)."""
    if not hasattr(estimator, "predict_proba") and not hasattr(estimator, "module_"):
        raise TypeError(
            f"{type(estimator).__name__} has no predict_proba; probability-based strategies "
            "need a classifier with predict_proba."
        )


def _proba_block(X, *, estimator, batch_size):
    if X.shape[0] <= batch_size:
        return np.asarray(estimator.predict_proba(X))
    return np.concatenate(
        [np.asarray(estimator.predict_proba(X[s])) for s in batches(X.shape[0], batch_size)]
    )
