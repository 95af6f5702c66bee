"""Query by committee: a committee of classifiers and its disagreement strategies.

A committee is what the strategies below take as ``classifier``: a fitted
:class:`CommitteeClassifier`, a list of fitted classifiers, modAL's ``Committee``, or
an active learner wrapping one of these. Each member's probabilities are read once
per pool block, aligned on the committee's classes; the three disagreement scores
then come from the ``(members, rows, classes)`` array:

* vote entropy: the entropy of the members' hard votes (Dagan and Engelson 1995);
* max disagreement: the largest Kullback-Leibler divergence of a member's
  probabilities from the consensus (their mean; McCallum and Nigam 1998);
* ensemble BALD: the entropy of the consensus minus the members' mean entropy, the
  mutual information of a deep ensemble (Beluch et al. 2018).

The first two are computed as modAL's ``vote_entropy`` and ``KL_max_disagreement``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    RandomStateLike,
    fill_doc,
    map_pool,
    numpy_generator,
)
from ._base import check_query, query_strategy, select_top, unwrap_classifier
from ._docstrings import PARTS


class CommitteeClassifier(ClassifierMixin, BaseEstimator):
    """A committee of classifiers trained on the same labels; predicts their mean probabilities.

    ``fit`` trains a clone of each of ``estimators``; a member with a
    ``random_state`` parameter gets its own seed drawn from ``random_state``
    (so five copies of one network start from five initialisations: a deep
    ensemble), and with ``bootstrap=True`` each member trains on its own
    bootstrap resample (bagging). :meth:`member_proba` gives every member's
    probabilities, which the committee strategies (:func:`vote_entropy`,
    :func:`max_disagreement`, :func:`ensemble_bald`) read.

    Parameters
    ----------
    estimators : list of classifiers
        The members' templates (cloned at ``fit``), each with ``predict_proba``.
    bootstrap : bool, default=False
        Train each member on a bootstrap resample of the data.
    random_state : None or int, default=None
        Seeds the members' seeds and the resamples.

    Attributes
    ----------
    estimators_ : list
        The fitted members.
    classes_ : ndarray
        The labels seen in ``fit``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from robustsk.query import CommitteeClassifier, vote_entropy
    >>> committee = CommitteeClassifier(
    ...     [LogisticRegression(max_iter=500), DecisionTreeClassifier()] * 2,
    ...     bootstrap=True, random_state=0).fit(X, y)  # doctest: +SKIP
    >>> idx, scores = vote_entropy(committee, X_pool, 10)  # doctest: +SKIP
    """

    def __init__(self, estimators: list, *, bootstrap: bool = False, random_state: Any = None):
        self.estimators = estimators
        self.bootstrap = bootstrap
        self.random_state = random_state

    def _validate(self) -> list:
        members = self.estimators
        if not isinstance(members, (list, tuple)) or len(members) < 2:
            raise ValueError(
                f"estimators must be a list of at least 2 classifiers, got {members!r}."
            )
        for m in members:
            if not (hasattr(m, "fit") and hasattr(m, "predict_proba")):
                raise TypeError(
                    f"every member needs fit and predict_proba; {type(m).__name__} lacks one."
                )
        if not isinstance(self.bootstrap, (bool, np.bool_)):
            raise TypeError(f"bootstrap must be a bool, got {self.bootstrap!r}.")
        return list(members)

    def fit(self, X: ArrayLike, y: ArrayLike, **fit_params: Any) -> CommitteeClassifier:
        """Fit a clone of each member (its own seed; its own resample with ``bootstrap``).

        Returns
        -------
        self
        """
        members = self._validate()
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X and y have {len(X)} and {len(y)} rows.")
        rng = numpy_generator(self.random_state)
        self.classes_ = np.unique(y)
        self.estimators_ = []
        for template in members:
            member = clone(template)
            seed = int(rng.integers(2**31 - 1))
            if "random_state" in member.get_params(deep=False):
                member.set_params(random_state=seed)
            rows = rng.integers(0, len(X), len(X)) if self.bootstrap else slice(None)
            self.estimators_.append(member.fit(X[rows], y[rows], **fit_params))
        return self

    def member_proba(self, X: ArrayLike) -> np.ndarray:
        """Every member's probabilities, aligned on ``classes_``: ``(members, rows, classes)``."""
        check_is_fitted(self, "estimators_")
        return np.stack([_aligned_proba(m, X, self.classes_) for m in self.estimators_])

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """The members' mean probabilities (the consensus)."""
        return self.member_proba(X).mean(axis=0)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The consensus's most probable class."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __len__(self) -> int:
        return len(self.estimators_ if hasattr(self, "estimators_") else self.estimators)


def _aligned_proba(member: Any, X: ArrayLike, classes: np.ndarray) -> np.ndarray:
    """``member.predict_proba(X)`` with one column per entry of ``classes`` (0 where unseen)."""
    proba = np.asarray(member.predict_proba(X), dtype=np.float64)
    own = getattr(member, "classes_", None)
    if own is None or np.array_equal(np.asarray(own), classes):
        return proba
    out = np.zeros((proba.shape[0], len(classes)))
    out[:, np.searchsorted(classes, np.asarray(own))] = proba
    return out


def committee_proba(committee: Any, X: ArrayLike) -> np.ndarray:
    """The members' probabilities ``(members, rows, classes)`` of any committee.

    Takes a fitted :class:`CommitteeClassifier`, modAL's ``Committee`` (its
    ``vote_proba``), a list or tuple of fitted classifiers (aligned on the union
    of their classes) or an active learner wrapping one of these.

    Parameters
    ----------
    committee : committee
        One of the above.
    X : array-like of shape (n, ...)
        Rows to score.

    Returns
    -------
    member_proba : ndarray of shape (n_members, n, n_classes)
    """
    committee = unwrap_classifier(committee)
    if isinstance(committee, CommitteeClassifier):
        return committee.member_proba(X)
    if hasattr(committee, "vote_proba") and hasattr(committee, "learner_list"):  # modAL
        return np.transpose(np.asarray(committee.vote_proba(X), dtype=np.float64), (1, 0, 2))
    if isinstance(committee, (list, tuple)) and len(committee) >= 2:
        classes = np.unique(np.concatenate([np.asarray(m.classes_) for m in committee]))
        return np.stack([_aligned_proba(m, X, classes) for m in committee])
    raise TypeError(
        "a committee strategy needs a committee: a fitted CommitteeClassifier, modAL's "
        "Committee, a list of at least 2 fitted classifiers, or a learner wrapping one; got "
        f"{type(committee).__name__}."
    )


def _entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    return -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=axis)


def vote_entropy_scores(member_proba: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the members' hard votes per row, from ``(members, rows, classes)``.

    Parameters
    ----------
    member_proba : ndarray of shape (n_members, n, n_classes)
        Every member's probabilities (:func:`committee_proba`).

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    n_members, n_rows, n_classes = member_proba.shape
    votes = member_proba.argmax(axis=2)  # (members, rows)
    counts = np.zeros((n_rows, n_classes))
    np.add.at(counts, (np.arange(n_rows)[None, :].repeat(n_members, 0), votes), 1.0)
    return _entropy(counts / n_members)


def max_disagreement_scores(member_proba: np.ndarray) -> np.ndarray:
    """The largest KL divergence (nats) of a member from the consensus, per row.

    Parameters
    ----------
    member_proba : ndarray of shape (n_members, n, n_classes)
        Every member's probabilities (:func:`committee_proba`).

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    consensus = member_proba.mean(axis=0, keepdims=True)
    p = member_proba
    ratio = np.log(np.clip(p, 1e-300, None)) - np.log(np.clip(consensus, 1e-300, None))
    kl = np.where(p > 0, p * ratio, 0.0).sum(axis=2)  # (members, rows)
    return kl.max(axis=0)


def ensemble_bald_scores(member_proba: np.ndarray) -> np.ndarray:
    """Mutual information of the ensemble: consensus entropy minus mean member entropy.

    Parameters
    ----------
    member_proba : ndarray of shape (n_members, n, n_classes)
        Every member's probabilities (:func:`committee_proba`).

    Returns
    -------
    scores : ndarray of shape (n,)
    """
    return np.clip(
        _entropy(member_proba.mean(axis=0)) - _entropy(member_proba).mean(axis=0), 0.0, None
    )


_DOC = """{summary}

    Parameters
    ----------
    classifier : committee
        A fitted :class:`CommitteeClassifier`, modAL's ``Committee``, a list of
        at least 2 fitted classifiers with ``predict_proba``, or an active
        learner wrapping one of them.
    {pool}
    random_state : None, int or numpy Generator, default=None
        Breaks ties between equal scores.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions in ``X_pool``, most disagreed-on first.
    scores : ndarray of shape (n_instances,)
        The selected examples' scores (nats).
"""


def _committee_strategy(score_fn, name, summary):
    def strategy(
        classifier: Any,
        X_pool: ArrayLike,
        n_instances: int = 1,
        *,
        random_state: RandomStateLike = None,
        n_jobs: int | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> tuple[np.ndarray, np.ndarray]:
        committee, X_pool, rng = check_query(
            classifier, X_pool, n_instances, random_state, name=name
        )
        scores = map_pool(
            _block_scores,
            X_pool,
            n_jobs=n_jobs,
            block_size=block_size,
            committee=committee,
            score_fn=score_fn,
        )
        return select_top(np.asarray(scores), n_instances, rng)

    strategy.__name__ = strategy.__qualname__ = name
    return query_strategy()(fill_doc(_DOC, summary=summary, **PARTS)(strategy))


def _block_scores(X_block, *, committee, score_fn):
    return score_fn(committee_proba(committee, X_block))


vote_entropy = _committee_strategy(
    vote_entropy_scores,
    "vote_entropy",
    "Select the examples whose members' votes are most spread (vote entropy).",
)
max_disagreement = _committee_strategy(
    max_disagreement_scores,
    "max_disagreement",
    "Select the examples where one member departs most from the consensus (max KL disagreement).",
)
ensemble_bald = _committee_strategy(
    ensemble_bald_scores,
    "ensemble_bald",
    "Select the examples of highest mutual information between prediction and member "
    "(ensemble BALD).",
)
