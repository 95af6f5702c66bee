"""Candidate subsampling: any strategy scores a seeded random subset of a large pool."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import RandomStateLike, check_random_state_param, numpy_generator
from ._base import check_pool, check_pool_layout, check_strategy_output, unwrap_classifier


class SubsampledStrategy:
    """A strategy that scores ``n_candidates`` pool rows drawn at random, not the whole pool.

    Scoring a pool of millions costs a model pass (or many) per row; most
    strategies pick nearly as well from a random subset of candidates (the
    usual practice with BALD, BADGE or core-set on large pools). Each call
    draws the candidates from its ``random_state`` (no repeats, in pool order),
    gives the wrapped strategy those rows only, and maps its picks back to
    positions in the whole pool. Only the candidate rows are read, so a
    memory-mapped pool stays on disk: the whole pool's dtype, shape and
    features are checked (which reads no row), the candidates' values (finite)
    when they are read. The wrapped strategy's answer is checked against the
    strategy contract (``n_instances`` unique integer positions in the
    candidates) before it is mapped back, so a custom strategy's bad answer is
    a ``ValueError`` naming it.

    Parameters
    ----------
    strategy : callable
        A strategy, ``strategy(classifier, X_pool, n_instances, *, random_state,
        **kw) -> (indices, scores)`` (any of :mod:`robustsk.query`, or a custom
        one with that signature).
    n_candidates : int or float
        Rows scored per call: an int (at least 1), or a float in (0, 1], the
        fraction of the pool (rounded up). Never fewer than ``n_instances``;
        the whole pool when it has no more rows.

    Attributes
    ----------
    __name__ : str
        ``"subsample(<strategy>)"``, for logs and the learner's history.

    Examples
    --------
    >>> from robustsk.query import max_entropy, subsample
    >>> strategy = subsample(max_entropy, 10_000)
    >>> strategy
    SubsampledStrategy(max_entropy, n_candidates=10000)
    """

    strategy: Callable[..., Any]
    n_candidates: int | float

    def __init__(self, strategy: Callable[..., Any], n_candidates: int | float):
        if not callable(strategy):
            raise TypeError(
                f"strategy must be a query strategy (a callable), got {type(strategy).__name__}."
            )
        if isinstance(n_candidates, bool) or not isinstance(n_candidates, numbers.Real):
            raise TypeError(
                f"n_candidates must be an int >= 1 or a float in (0, 1], got {n_candidates!r}."
            )
        if isinstance(n_candidates, numbers.Integral):
            if n_candidates < 1:
                raise ValueError(f"n_candidates must be an int >= 1, got {n_candidates}.")
        elif not 0 < float(n_candidates) <= 1:
            raise ValueError(
                f"n_candidates must be a float in (0, 1] (a fraction of the pool) or an int "
                f">= 1, got {n_candidates}."
            )
        self.strategy = strategy
        self.n_candidates = n_candidates
        self.__name__ = f"subsample({getattr(strategy, '__name__', type(strategy).__name__)})"

    def __repr__(self) -> str:
        name = getattr(self.strategy, "__name__", repr(self.strategy))
        return f"SubsampledStrategy({name}, n_candidates={self.n_candidates!r})"

    def candidate_count(self, n_pool: int, n_instances: int) -> int:
        """How many rows a call scores on a pool of ``n_pool`` rows."""
        if isinstance(self.n_candidates, numbers.Integral):
            wanted = int(self.n_candidates)
        else:
            wanted = math.ceil(float(self.n_candidates) * n_pool)
        return min(n_pool, max(int(n_instances), wanted))

    def __call__(
        self,
        classifier: Any,
        X_pool: ArrayLike,
        n_instances: int = 1,
        *,
        random_state: RandomStateLike = None,
        **kwargs: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Select ``n_instances`` of a random subset of ``X_pool`` with the wrapped strategy.

        Returns
        -------
        indices : ndarray of shape (n_instances,)
            Positions in the whole ``X_pool``.
        scores : ndarray of shape (n_instances,)
            The wrapped strategy's scores of the picks.
        """
        if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral):
            raise TypeError(
                f"n_instances must be an int, got {n_instances!r} ({type(n_instances).__name__})."
            )
        check_random_state_param(random_state)
        # The whole pool's dtype, rank and features (no row read); the candidates' values below.
        X_pool = check_pool_layout(X_pool, unwrap_classifier(classifier), caller=self.__name__)
        n_pool = len(X_pool)
        if not 1 <= int(n_instances) <= n_pool:
            raise ValueError(
                f"n_instances must be in [1, {n_pool}] (the pool size), got {n_instances}."
            )
        rng = numpy_generator(random_state)
        k = self.candidate_count(n_pool, int(n_instances))
        if k < n_pool:
            candidates = np.sort(rng.choice(n_pool, size=k, replace=False))
            pool = X_pool[candidates]
        else:
            candidates = np.arange(n_pool)
            pool = X_pool
        pool = check_pool(pool, None, caller=self.__name__)  # the rows read: finite
        seed = int(rng.integers(2**31 - 1))
        result = self.strategy(classifier, pool, n_instances, random_state=seed, **kwargs)
        idx, scores = check_strategy_output(result, k, int(n_instances), strategy=self.strategy)
        return candidates[idx], scores


def subsample(strategy: Callable[..., Any], n_candidates: int | float) -> SubsampledStrategy:
    """``strategy`` on ``n_candidates`` random pool rows per call (:class:`SubsampledStrategy`).

    Parameters
    ----------
    strategy : callable
        Any query strategy.
    n_candidates : int or float
        Rows scored per call, or a fraction of the pool.

    Returns
    -------
    SubsampledStrategy
    """
    return SubsampledStrategy(strategy, n_candidates)
