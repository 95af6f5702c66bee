"""When to stop asking: stopping criteria for the active learners.

A criterion is called with the learner (and the pool, for those that look at
it) and returns ``(reason, measurements)``: ``reason`` is a sentence when the
loop should stop, else None, and ``measurements`` the numbers it looked at, which
:meth:`robustsk.active.ActiveLearner.should_stop` writes into the learner's
``history_``. A criterion keeps no state of its own: what it needs of the past
(earlier validation scores) it reads from that history, so one criterion object
can serve several learners and a pickled learner resumes where it stopped.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import check_number, numpy_generator


class StoppingCriterion:
    """Base class: ``criterion(learner, X_pool=None) -> (reason or None, measurements)``."""

    #: The key of this criterion's measurement in the learner's history.
    key = ""

    def __call__(self, learner: Any, X_pool: ArrayLike | None = None) -> tuple[str | None, dict]:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self) -> dict[str, Any]:
        return {}


def _n_labeled(learner: Any) -> int:
    """Labels bought so far: labelled rows (ActiveLearner) or answered levels (AQPL)."""
    answered = getattr(learner, "answered_", None)
    if answered is not None:
        return int(np.count_nonzero(answered))
    y = getattr(learner, "y_training", None)
    return 0 if y is None else len(y)


class LabelBudget(StoppingCriterion):
    """Stop once ``max_labels`` examples are labelled (the label budget is spent): rows
    labelled by an :class:`ActiveLearner`, levels answered for a
    :class:`PerturbationLevelLearner`.

    Parameters
    ----------
    max_labels : int
        The budget, at least 1.
    """

    key = "n_labeled"

    def __init__(self, max_labels: int):
        check_number(max_labels, "max_labels", low=1, integer=True)
        self.max_labels = int(max_labels)

    def _params(self) -> dict[str, Any]:
        return {"max_labels": self.max_labels}

    def __call__(self, learner: Any, X_pool: ArrayLike | None = None) -> tuple[str | None, dict]:
        n = _n_labeled(learner)
        reason = None
        if n >= self.max_labels:
            reason = f"label budget spent: {n} labelled, budget {self.max_labels}"
        return reason, {"n_labeled": n}


class LowUncertainty(StoppingCriterion):
    """Stop when the model is confident on the pool: mean normalised entropy below ``threshold``.

    The entropy of ``predict_proba`` divided by ``log C`` (0 for a one-hot
    prediction, 1 for a uniform one), averaged over the pool, or over
    ``n_samples`` rows drawn at random (seeded) from a larger pool; the
    "overall uncertainty" stopping rule of Zhu et al. (2008). Needs the pool.

    Parameters
    ----------
    threshold : float
        In (0, 1): stop when the mean normalised entropy falls below it.
    n_samples : int or None, default=10000
        Rows scored when the pool is larger (None: the whole pool).
    random_state : int, default=0
        Seeds the rows drawn.
    """

    key = "mean_uncertainty"

    def __init__(self, threshold: float, *, n_samples: int | None = 10000, random_state: int = 0):
        check_number(
            threshold, "threshold", low=0.0, high=1.0, include_low=False, include_high=False
        )
        if n_samples is not None:
            check_number(n_samples, "n_samples", low=1, integer=True)
        check_number(random_state, "random_state", low=0, integer=True)
        self.threshold = float(threshold)
        self.n_samples = n_samples
        self.random_state = int(random_state)

    def _params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "n_samples": self.n_samples}

    def __call__(self, learner: Any, X_pool: ArrayLike | None = None) -> tuple[str | None, dict]:
        if X_pool is None:
            raise ValueError(
                "LowUncertainty needs the pool: call should_stop(X_pool) with the unlabelled rows."
            )
        n_pool = len(X_pool)  # type: ignore[arg-type]
        if n_pool == 0:
            return "the pool is empty", {"mean_uncertainty": 0.0}
        rows = X_pool
        if self.n_samples is not None and n_pool > self.n_samples:
            rng = numpy_generator(self.random_state)
            rows = X_pool[np.sort(rng.choice(n_pool, self.n_samples, replace=False))]  # type: ignore[index]
        proba = np.asarray(learner.predict_proba(rows), dtype=np.float64)
        n_classes = proba.shape[1]
        if n_classes < 2:
            return "a single class is predicted", {"mean_uncertainty": 0.0}
        p = np.clip(proba, 1e-12, 1.0)
        entropy = -(proba * np.log(p)).sum(axis=1) / math.log(n_classes)
        mean = float(entropy.mean())
        reason = None
        if mean < self.threshold:
            reason = f"low uncertainty: mean normalised entropy {mean:.4f} < {self.threshold:g}"
        return reason, {"mean_uncertainty": mean}


class ValidationPlateau(StoppingCriterion):
    """Stop when a validation score has not improved for ``patience`` checks.

    At each check the learner is scored on ``(X_val, y_val)``; the loop stops
    when the best score of the last ``patience`` checks is not above the best
    score before them by more than ``min_delta``. Earlier scores come from the
    learner's ``history_``, where each check records its score.

    Parameters
    ----------
    X_val : array-like of shape (n_val, ...)
        Held-out inputs.
    y_val : array-like of shape (n_val,)
        Their labels.
    patience : int, default=3
        Checks without improvement before stopping, at least 1.
    min_delta : float, default=0.0
        The smallest rise that counts as an improvement, >= 0.
    scoring : callable or None, default=None
        ``scoring(learner, X_val, y_val) -> float`` (a scikit-learn scorer
        works); None uses ``learner.score`` (accuracy).
    """

    key = "validation_score"

    def __init__(
        self,
        X_val: ArrayLike,
        y_val: ArrayLike,
        *,
        patience: int = 3,
        min_delta: float = 0.0,
        scoring: Any = None,
    ):
        check_number(patience, "patience", low=1, integer=True)
        check_number(min_delta, "min_delta", low=0.0)
        if scoring is not None and not callable(scoring):
            raise TypeError(f"scoring must be None or a callable, got {scoring!r}.")
        X_val, y_val = np.asarray(X_val), np.asarray(y_val)
        if len(X_val) != len(y_val) or len(X_val) == 0:
            raise ValueError(
                f"X_val and y_val must hold the same number (>= 1) of rows, got {len(X_val)} "
                f"and {len(y_val)}."
            )
        self.X_val, self.y_val = X_val, y_val
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.scoring = scoring

    def _params(self) -> dict[str, Any]:
        return {"patience": self.patience, "min_delta": self.min_delta}

    def __call__(self, learner: Any, X_pool: ArrayLike | None = None) -> tuple[str | None, dict]:
        if self.scoring is None:
            score = float(learner.score(self.X_val, self.y_val))
        else:
            score = float(self.scoring(learner, self.X_val, self.y_val))
        past = [  # ActiveLearner's checks, or the level learner's rounds
            r[self.key]
            for r in getattr(learner, "history_", [])
            if isinstance(r.get(self.key), numbers.Real)
        ]
        scores = past + [score]
        reason = None
        if len(scores) > self.patience:
            before = max(scores[: -self.patience])
            recent = max(scores[-self.patience :])
            if recent <= before + self.min_delta:
                reason = (
                    f"validation plateau: best of the last {self.patience} checks {recent:.4f}, "
                    f"best before {before:.4f} (min_delta {self.min_delta:g})"
                )
        return reason, {"validation_score": score}
