"""A maintained, modAL-compatible active learner with a durable answer journal."""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from ..query import check_strategy_output, max_entropy
from ..utils import (
    InstanceOf,
    IsCallable,
    ParameterConstraints,
    RandomState,
    numpy_generator,
    validate_params,
)
from ._journal import AnswerJournal, row_keys


class ActiveLearner:
    """Pool-based active learner with modAL's interface.

    ``ActiveLearner(estimator, query_strategy, X_training, y_training)`` then
    ``query(X_pool, n_instances)`` / ``teach(X, y)``, as in modAL, plus:

    * the strategy is called exactly once per query (no silent second call),
      and must return ``(indices, scores)``;
    * ``warm_start=True`` continues training through ``partial_fit`` instead
      of refitting from scratch;
    * ``journal=path`` writes every taught ``(x, label)`` to an
      :class:`AnswerJournal` (fsynced) before training on it. A learner created
      on an existing journal trains on the recorded answers at once, and its
      queries never return a pool row that was already answered (matched by
      content) -- an interrupted loop resumes without asking anyone again. An
      example already in the journal is not applied twice: teaching it again is
      skipped with a warning. The initial labelled set (``X_training``,
      ``y_training``) is journaled too, once: a learner resumed from the journal
      alone trains on the same labels, and one given the set again adds nothing
      (rows the journal holds keep their journaled label). The learner holds the
      journal's lock from its creation until :meth:`close` (or the end of the
      process): a second learner on the same journal file (through any path or
      link) fails at once;
    * :meth:`teach` checks its input before it is journaled or trained on
      (finite features, the training data's row shape, as many labels as rows,
      labels of the training labels' kind); a bad input is a ``ValueError`` and
      changes neither the journal nor the learner.

    Parameters
    ----------
    estimator : scikit-learn classifier
        A robustsk estimator, skorch net or any classifier; used in place.
    query_strategy : callable, default=robustsk.query.max_entropy
        ``strategy(learner, X_pool, n_instances, *, random_state, **kw) -> (indices, scores)``.
        A strategy gets ``random_state`` (a seed drawn from this learner's) only
        when its signature names it, so modAL's own strategies
        (``uncertainty_sampling``, ``margin_sampling``, ``entropy_sampling``, whose
        ``**kwargs`` go to ``predict_proba``) and any plain function of modAL's
        signature ``(classifier, X, n_instances=1, **kwargs)`` run as they are.
    X_training : array-like, default=None
        Initial labelled inputs.
    y_training : array-like, default=None
        Their labels.
    warm_start : bool, default=False
        Update with ``estimator.partial_fit`` (on all labelled data, or only the
        new batch with ``teach(..., only_new=True)``) instead of ``fit``.
    journal : str, path-like or None, default=None
        Where answers are recorded (an :class:`AnswerJournal`, locked while this
        learner is open).
    random_state : None, int or numpy Generator, default=None
        Seeds the strategies (each query draws a fresh seed from it).
    stopping : StoppingCriterion, sequence of them, or None, default=None
        When :meth:`should_stop` says the loop is done: any criterion of
        :mod:`robustsk.active` (:class:`LabelBudget`, :class:`LowUncertainty`,
        :class:`ValidationPlateau`) or a callable ``criterion(learner, X_pool)
        -> (reason or None, measurements)``; the loop stops when one of them
        gives a reason.
    **fit_kwargs
        Passed to every ``fit`` / ``partial_fit`` call.

    Attributes
    ----------
    X_training, y_training : ndarray
        All labelled data so far (modAL's names).
    last_query_idx_ : ndarray
        Pool positions returned by the last query.
    last_query_scores_ : ndarray
        Their scores.
    history_ : list of dict
        One record per event, in order: ``{"event": "query", "n_labeled",
        "n_instances", "mean_score"}``, ``{"event": "teach", "n_labeled",
        "n_new"}`` and ``{"event": "check", "n_labeled", <each criterion's
        measurements>, "stop": reason or None}`` (from :meth:`should_stop`).
    stop_reason_ : str or None
        Why the last :meth:`should_stop` said stop (None if it did not).

    Examples
    --------
    >>> from robustsk.active import ActiveLearner, LabelBudget, ValidationPlateau
    >>> learner = ActiveLearner(net, query_strategy=dre, stopping=[
    ...     LabelBudget(2000), ValidationPlateau(X_val, y_val, patience=3)])  # doctest: +SKIP
    >>> while not learner.should_stop(X_pool):  # doctest: +SKIP
    ...     idx, _ = learner.query(X_pool, 100)
    ...     learner.teach(X_pool[idx], ask_oracle(idx))
    """

    #: What each parameter accepts, checked when the learner is created (before any
    #: training or journal access).
    _parameter_constraints: ParameterConstraints = {
        "query_strategy": [IsCallable()],
        "journal": [
            None,
            InstanceOf(str, bytes, os.PathLike, description="a path (str or os.PathLike)"),
        ],
        "random_state": [RandomState()],
    }

    def __init__(
        self,
        estimator: Any,
        query_strategy: Callable[..., tuple[np.ndarray, np.ndarray]] = max_entropy,
        X_training: ArrayLike | None = None,
        y_training: ArrayLike | None = None,
        *,
        warm_start: bool = False,
        journal: str | os.PathLike | None = None,
        random_state: int | np.random.Generator | None = None,
        stopping: Any = None,
        **fit_kwargs: Any,
    ):
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.warm_start = warm_start
        self.journal = journal
        self.random_state = random_state
        self.stopping = stopping
        self.fit_kwargs = fit_kwargs
        validate_params(self)
        self._criteria = _criteria(stopping)
        self.history_: list[dict[str, Any]] = []
        self.stop_reason_: str | None = None
        if (X_training is None) != (y_training is None):
            raise ValueError("X_training and y_training must be given together.")
        self._rng = numpy_generator(random_state)
        self._journal = AnswerJournal(journal).open() if journal is not None else None
        self._answered: set[str] = set()
        self.X_training = None if X_training is None else np.asarray(X_training)
        self.y_training = None if y_training is None else np.asarray(y_training)
        if self.X_training is not None and len(self.X_training) != len(
            cast(np.ndarray, self.y_training)
        ):
            raise ValueError(
                f"X_training and y_training have {len(self.X_training)} and "
                f"{len(cast(np.ndarray, self.y_training))} rows."
            )
        if self._journal is not None:
            try:
                X_j, y_j, keys, _ = self._journal.load()
                if X_j is not None:
                    X_j, y_j = self._check_journal(X_j, y_j)
            except BaseException:
                self._journal.close()
                raise
            if X_j is not None:
                self._answered.update(keys.tolist())
            self._journal_initial_set(X_j, y_j, keys)
        if self.X_training is not None and len(self.X_training):
            self._fit(self.X_training, self.y_training, first=True)

    def _journal_initial_set(self, X_j, y_j, keys) -> None:
        """Keep the initial labelled set in the journal, so a resume has it whoever resumes.

        Rows of ``X_training`` the journal does not hold yet are checked and recorded
        (once: a resume that passes the same set again adds nothing); the training
        data is then the journal's content, in its order. A resume without
        ``X_training`` therefore trains on the same labels as the first run.
        """
        journal = cast(AnswerJournal, self._journal)
        if self.X_training is not None and len(self.X_training):
            try:
                X0, y0 = self._check_examples(
                    self.X_training,
                    cast(np.ndarray, self.y_training),
                    names=("X_training", "y_training"),
                )
            except BaseException:
                journal.close()
                raise
            keys0 = row_keys(X0)
            new = ~np.isin(keys0, keys) if X_j is not None else np.ones(len(X0), bool)
            new &= ~_repeated(keys0)
            if new.any():
                journal.append(X0[new], y0[new], np.flatnonzero(new), keys=keys0[new])
                self._answered.update(keys0[new].tolist())
                X_j, y_j, keys, _ = journal.load()
                X_j, y_j = self._check_journal(X_j, y_j)
        self.X_training, self.y_training = None, None
        if X_j is not None:
            self._add_training(X_j, y_j)

    def close(self) -> None:
        """Release the journal's lock (a later ``teach`` takes it again)."""
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> ActiveLearner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ query
    def query(
        self, X_pool: ArrayLike, n_instances: int = 1, **query_kwargs: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ask the strategy for the most useful pool examples.

        Parameters
        ----------
        X_pool : array-like of shape (n_pool, ...)
            Candidates. Rows already answered in the journal are never returned.
        n_instances : int, default=1
            How many to select.
        **query_kwargs
            Passed to the strategy.

        Returns
        -------
        query_idx : ndarray of shape (n_instances,)
            Positions in ``X_pool``.
        query_instances : ndarray
            ``X_pool[query_idx]``.
        """
        X_pool = np.asarray(X_pool)
        candidates = None
        if self._answered:
            fresh = ~np.isin(row_keys(X_pool), list(self._answered))
            if not fresh.all():
                candidates = np.flatnonzero(fresh)
                if candidates.size == 0:
                    raise ValueError("every row of X_pool has already been answered.")
        pool = X_pool if candidates is None else X_pool[candidates]
        kwargs = dict(query_kwargs)
        # Only a strategy that names random_state gets one: modAL's strategies take
        # **kwargs and hand them to predict_proba, which has no such argument.
        if (
            _accepts(self.query_strategy, "random_state", var_keyword=False)
            and "random_state" not in kwargs
        ):
            kwargs["random_state"] = int(self._rng.integers(2**31 - 1))
        result = self.query_strategy(self, pool, n_instances, **kwargs)
        idx, scores = check_strategy_output(
            result, len(pool), n_instances, strategy=self.query_strategy
        )
        scores = np.asarray(scores)
        if candidates is not None:
            idx = candidates[idx]
        self.last_query_idx_, self.last_query_scores_ = idx, scores
        numeric = scores.size and np.issubdtype(scores.dtype, np.number)
        self.history_.append(
            {
                "event": "query",
                "n_labeled": self._n_labeled(),
                "n_instances": int(len(idx)),
                "mean_score": float(np.mean(scores)) if numeric else float("nan"),
            }
        )
        return idx, X_pool[idx]

    # ------------------------------------------------------------------ stopping
    def should_stop(self, X_pool: ArrayLike | None = None) -> bool:
        """Whether a stopping criterion says the loop is done; recorded in ``history_``.

        Parameters
        ----------
        X_pool : array-like or None, default=None
            The unlabelled pool, for criteria that look at it
            (:class:`LowUncertainty`).

        Returns
        -------
        bool
            True when at least one criterion gives a reason to stop (all are
            evaluated and recorded; ``stop_reason_`` joins their reasons).
        """
        record: dict[str, Any] = {"event": "check", "n_labeled": self._n_labeled()}
        reasons = []
        for criterion in self._criteria:
            reason, measurements = criterion(self, X_pool)
            record.update(measurements)
            if reason:
                reasons.append(str(reason))
        self.stop_reason_ = "; ".join(reasons) or None
        record["stop"] = self.stop_reason_
        self.history_.append(record)
        return self.stop_reason_ is not None

    # ------------------------------------------------------------------ teach
    def teach(
        self, X: ArrayLike, y: ArrayLike, only_new: bool = False, **fit_kwargs: Any
    ) -> ActiveLearner:
        """Add labelled examples (checked, then journaled) and update the model.

        Parameters
        ----------
        X : array-like of shape (n, ...)
            New labelled inputs.
        y : array-like of shape (n,)
            Their labels.
        only_new : bool, default=False
            Train on the new examples only (with ``warm_start``), as in modAL.
        **fit_kwargs
            Passed to this update's ``fit`` / ``partial_fit``.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``X`` holds a NaN or an infinity, or rows of another shape than the
            training data's (or, with a journal, values float32 cannot hold, or no
            numbers); if ``y`` is not one label per row of ``X``, or its labels are
            not of the kind of the training labels (or of the estimator's
            ``classes``): strings for numbers, continuous values for class labels,
            a class the estimator does not know. Nothing is journaled or trained.
        """
        X, y = self._check_examples(X, y)  # before anything is journaled or trained on
        if self._journal is not None:
            last = getattr(self, "last_query_idx_", None)
            indices = last if last is not None and len(last) == len(X) else None
            keys = row_keys(X)
            new = ~np.isin(keys, np.fromiter(self._answered, dtype="<U32"))
            if not new.all():
                warnings.warn(
                    f"{int((~new).sum())} of the {len(X)} examples taught are already in the "
                    f"journal {self._journal.path}; they are not applied twice.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                if not new.any():
                    return self
                X, y, keys = X[new], y[new], keys[new]
                indices = None if indices is None else np.asarray(indices)[new]
            self._journal.append(X, y, indices, keys=keys)  # durable before anything can fail
            self._answered.update(keys.tolist())
        self._add_training(X, y)
        self.history_.append({"event": "teach", "n_labeled": self._n_labeled(), "n_new": len(X)})
        if only_new and self.warm_start:
            self._fit(X, y, first=False, **fit_kwargs)
        else:
            self._fit(self.X_training, self.y_training, first=False, **fit_kwargs)
        return self

    # ---------------------------------------------------------------- predict
    def predict(self, X: ArrayLike) -> np.ndarray:
        """The estimator's ``predict``."""
        return self.estimator.predict(X)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """The estimator's ``predict_proba``."""
        return self.estimator.predict_proba(X)

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """The estimator's ``score``."""
        return self.estimator.score(X, y)

    # ---------------------------------------------------------------- helpers
    def _n_labeled(self) -> int:
        return 0 if self.y_training is None else len(self.y_training)

    def _row_shape(self) -> tuple[int, ...] | None:
        """The shape of a training row, once known."""
        X = self.X_training
        if X is None or X.ndim == 0 or (X.ndim == 1 and len(X) == 0):
            return None
        return tuple(X.shape[1:])

    def _reference_labels(self) -> np.ndarray | None:
        """What taught labels must look like: the training labels, else the classes the
        estimator declares or learned."""
        if self.y_training is not None and len(self.y_training):
            return self.y_training
        classes = _declared_classes(self.estimator)
        if classes is None:
            try:
                classes = np.asarray(self.estimator.classes_)
            except Exception:  # unfitted (skorch raises AttributeError), or no classes
                classes = None
        return classes if classes is not None and classes.ndim == 1 and len(classes) else None

    def _check_journal(self, X_j: np.ndarray, y_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The journal's examples, checked like taught ones, in the training data's shape."""
        path = cast(AnswerJournal, self._journal).path
        shape = self._row_shape()
        if shape is not None and tuple(X_j.shape[1:]) != shape:
            if int(np.prod(X_j.shape[1:])) != int(np.prod(shape)):
                raise ValueError(
                    f"the journal {path} holds examples of shape {tuple(X_j.shape[1:])}, but "
                    f"X_training has rows of shape {shape}: it holds answers about other data. "
                    "Pass the data those answers were given for, or start a new journal."
                )
            X_j = X_j.reshape((len(X_j),) + shape)
        return self._check_examples(
            X_j, y_j, names=(f"the examples in the journal {path}", "its labels")
        )

    def _check_examples(
        self, X: ArrayLike, y: ArrayLike, names: tuple[str, str] = ("X", "y")
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` checked against the training data (labels cast to their dtype)."""
        nx, ny = names
        X, y = np.asarray(X), np.asarray(y)
        if X.ndim == 0:
            raise ValueError(f"{nx} must be an array of examples, one per row, got {_show(X[()])}.")
        if y.ndim == 0:
            raise ValueError(
                f"{ny} must be an array of labels, one per example, got {_show(y[()])}."
            )
        if len(X) != len(y):
            raise ValueError(
                f"{nx} and {ny} have {len(X)} and {len(y)} rows: one label per example."
            )
        if len(X) == 0:
            raise ValueError("teach needs at least one example.")
        shape = self._row_shape()
        if shape is not None and tuple(X.shape[1:]) != shape:
            raise ValueError(
                f"{nx} must have rows of shape {shape} (the training data's), got rows of "
                f"shape {tuple(X.shape[1:])}."
            )
        _check_features(X, nx, self.X_training, journal=self._journal is not None)
        y = _check_labels(
            y, ny, self._reference_labels(), self.estimator, journal=self._journal is not None
        )
        return X, y

    def _add_training(self, X, y):
        if self.X_training is None or len(self.X_training) == 0:
            self.X_training, self.y_training = np.array(X), np.array(y)
        else:
            self.X_training = np.concatenate([self.X_training, X.astype(self.X_training.dtype)])
            self.y_training = np.concatenate([self.y_training, y])

    def _fit(self, X, y, *, first, **fit_kwargs):
        kwargs = {**self.fit_kwargs, **fit_kwargs}
        if self.warm_start and not first and hasattr(self.estimator, "partial_fit"):
            self.estimator.partial_fit(X, y, **kwargs)
        else:
            self.estimator.fit(X, y, **kwargs)


def _repeated(keys: np.ndarray) -> np.ndarray:
    """Rows whose key appeared on an earlier row (a duplicate example is journaled once)."""
    _, first = np.unique(keys, return_index=True)
    out = np.ones(len(keys), bool)
    out[first] = False
    return out


def _show(value: Any) -> str:
    """``repr`` of a value, without numpy's wrapping (``nan``, not ``np.float64(nan)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _check_features(X: np.ndarray, name: str, reference: np.ndarray | None, *, journal: bool):
    """Raise ``ValueError`` unless ``X`` holds finite numbers that fit the training data."""
    values: np.ndarray | None = X if X.dtype.kind in "biuf" else None
    if values is None and X.dtype.kind == "O":
        try:
            values = X.astype(np.float64)
        except (TypeError, ValueError):
            values = None
    if values is None:
        if journal:
            raise ValueError(
                f"{name} must hold numbers (the journal stores examples as float32), got "
                f"dtype {X.dtype}."
            )
        return  # e.g. text, for a pipeline that vectorises it
    bad = ~np.isfinite(values)
    if bad.any():
        at = _first_bad(bad)
        raise ValueError(
            f"{name} must hold finite numbers, got {_show(values[at])} in row {at[0]}"
            f"{f' at {at[1:]}' if len(at) > 1 else ''}; NaN and infinities are refused."
        )
    if journal and values.dtype.kind == "f":
        with np.errstate(over="ignore"):
            bad = ~np.isfinite(values.astype(np.float32))
        if bad.any():
            at = _first_bad(bad)
            raise ValueError(
                f"{name} must hold numbers float32 can hold (the journal's format: up to "
                f"about 3.4e38), got {_show(values[at])} in row {at[0]}."
            )
    if reference is not None and reference.dtype.kind in "biu" and values.dtype != reference.dtype:
        with np.errstate(all="ignore"):
            changed = values.astype(reference.dtype).astype(np.float64) != values
        if changed.any():
            at = _first_bad(changed)
            raise ValueError(
                f"{name} must hold values of the training data's dtype {reference.dtype} (they "
                f"would be changed silently), got {_show(values[at])} in row {at[0]}."
            )


def _label_family(y: np.ndarray) -> str:
    """``"bool"``, ``"int"``, ``"float"``, ``"str"``, ``"bytes"``, ``"mixed"`` or ``"other"``."""
    kind = y.dtype.kind
    simple = {"b": "bool", "i": "int", "u": "int", "f": "float", "U": "str", "S": "bytes"}
    if kind in simple:
        return simple[kind]
    if kind != "O" or y.size == 0:
        return "other"
    found = set()
    for v in y.ravel():
        if isinstance(v, (bool, np.bool_)):
            found.add("bool")
        elif isinstance(v, (int, np.integer)):
            found.add("int")
        elif isinstance(v, (float, np.floating)):
            found.add("float")
        elif isinstance(v, str):
            found.add("str")
        elif isinstance(v, bytes):
            found.add("bytes")
        else:
            found.add("other")
    if found == {"int", "float"}:
        return "float"
    return found.pop() if len(found) == 1 else "mixed"


def _declared_classes(estimator: Any) -> np.ndarray | None:
    """The ``classes`` an estimator is told to expect (skorch's ``classes=``), if any."""
    try:
        classes = estimator.get_params(deep=False).get("classes")
    except Exception:
        return None
    if classes is None:
        return None
    try:
        classes = np.asarray(classes)
    except Exception:
        return None
    return classes if classes.ndim == 1 and len(classes) else None


def _is_classifier(estimator: Any) -> bool:
    from sklearn.base import is_classifier

    try:
        return bool(is_classifier(estimator))
    except Exception:  # not a scikit-learn estimator
        return False


def _check_labels(
    y: np.ndarray, name: str, reference: np.ndarray | None, estimator: Any, *, journal: bool
) -> np.ndarray:
    """``y`` checked against the reference labels' kind (and cast to their dtype)."""
    from sklearn.utils.multiclass import type_of_target

    family = _label_family(y)
    if journal and (y.ndim != 1 or family not in ("bool", "int", "float", "str")):
        raise ValueError(
            f"{name} must be one label per example -- numbers, strings or booleans, which the "
            f"journal stores as JSON -- got an array of shape {y.shape} and dtype {y.dtype} "
            f"({family} labels)."
        )
    if family == "float":
        values = y.astype(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            at = _first_bad(bad)
            raise ValueError(f"{name} must hold finite labels, got {_show(values[at])} at {at}.")
    if reference is None:
        if family == "float" and _is_classifier(estimator):
            integral = np.equal(np.mod(y.astype(np.float64), 1), 0)
            if not integral.all():
                at = _first_bad(~integral)
                raise ValueError(
                    f"{name} must hold class labels for the classifier "
                    f"{type(estimator).__name__}, got the continuous value {_show(y[at])} at {at}."
                )
        return y
    ref_family = _label_family(reference)
    if reference.ndim != y.ndim or reference.shape[1:] != y.shape[1:]:
        raise ValueError(
            f"{name} must have the training labels' shape per example "
            f"({reference.shape[1:]}), got {y.shape[1:]}."
        )
    numbers = {"int", "float"}
    if family != ref_family and not (family in numbers and ref_family in numbers):
        raise ValueError(
            f"{name} must hold labels of the training labels' kind ({ref_family}, dtype "
            f"{reference.dtype}, e.g. {_show(reference.ravel()[0])}), got {family} labels (dtype "
            f"{y.dtype}, e.g. {_show(y.ravel()[0])})."
        )
    if family in numbers and ref_family in numbers:
        values = y.astype(np.float64)
        if ref_family == "int":
            integral = np.equal(np.mod(values, 1), 0)
            if not integral.all():
                at = _first_bad(~integral)
                raise ValueError(
                    f"{name} must hold integer class labels like the training labels (dtype "
                    f"{reference.dtype}), got the continuous value {_show(y[at])} at {at}."
                )
        else:
            try:
                ref_type = type_of_target(reference)
            except ValueError:
                ref_type = "unknown"
            if ref_type in ("binary", "multiclass") and type_of_target(values) == "continuous":
                at = _first_bad(~np.equal(np.mod(values, 1), 0))
                raise ValueError(
                    f"{name} must hold class labels like the training labels ({ref_type}), "
                    f"got the continuous value {_show(y[at])} at {at}."
                )
        if reference.dtype.kind in "iuf" and y.dtype != reference.dtype:
            with np.errstate(all="ignore"):
                cast_y = y.astype(reference.dtype)
            if not np.array_equal(cast_y.astype(np.float64), values):
                at = _first_bad(cast_y.astype(np.float64) != values)
                raise ValueError(
                    f"{name} must hold labels the training labels' dtype {reference.dtype} can "
                    f"hold, got {_show(y[at])} at {at}."
                )
            y = cast_y
    classes = _declared_classes(estimator)
    if classes is not None and _label_family(classes) in (
        {family} | (numbers if family in numbers else set())
    ):
        unknown = ~np.isin(y, classes)
        if unknown.any():
            at = _first_bad(unknown)
            raise ValueError(
                f"{name} holds the label {_show(y[at])}, which is not one of the estimator's "
                f"classes {classes.tolist()}."
            )
    return y


def _criteria(stopping: Any) -> list[Callable[..., Any]]:
    """``stopping`` as a list of criteria; anything not callable is refused by name."""
    if stopping is None:
        return []
    items = list(stopping) if isinstance(stopping, (list, tuple)) else [stopping]
    for item in items:
        if not callable(item):
            raise TypeError(
                "stopping must be a StoppingCriterion (LabelBudget, LowUncertainty, "
                "ValidationPlateau), a callable criterion(learner, X_pool), a list of them or "
                f"None, got {item!r}."
            )
    return items


def _accepts(func: Callable[..., Any], name: str, *, var_keyword: bool = True) -> bool:
    """Whether ``func`` takes a keyword ``name`` (by name, or through ``**kwargs`` unless
    ``var_keyword=False``)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or (var_keyword and any(p.kind == p.VAR_KEYWORD for p in params.values()))
