"""Random sampling and the probability-only uncertainty strategies."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import DEFAULT_BLOCK_SIZE, RandomStateLike, fill_doc
from ._base import check_query, predict_proba_batched, query_strategy, select_top
from ._docstrings import PARTS
from ._scores import entropy_scores, gini_scores, least_confidence_scores, margin_scores

_DOC = """{summary}

    Parameters
    ----------
    {proba_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Breaks ties between equal scores.
    batch_size : int, default=1024
        Rows per ``predict_proba`` call (bounded memory).
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Positions in ``X_pool``, best first.
    scores : ndarray of shape (n_instances,)
        The selected examples' scores.
"""


def _probability_strategy(score_fn, name, summary, largest=True):
    def strategy(
        classifier: Any,
        X_pool: ArrayLike,
        n_instances: int = 1,
        *,
        random_state: RandomStateLike = None,
        batch_size: int = 1024,
        n_jobs: int | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> tuple[np.ndarray, np.ndarray]:
        estimator, X_pool, rng = check_query(
            classifier, X_pool, n_instances, random_state, name=name
        )
        proba = predict_proba_batched(
            estimator, X_pool, batch_size, n_jobs=n_jobs, block_size=block_size
        )
        scores = score_fn(proba)
        return select_top(scores, n_instances, rng, largest=largest)

    strategy.__name__ = strategy.__qualname__ = name
    return query_strategy()(fill_doc(_DOC, summary=summary, **PARTS)(strategy))


max_entropy = _probability_strategy(
    entropy_scores,
    "max_entropy",
    "Select the examples of highest predictive entropy (MaxEntropy).",
)
least_confidence = _probability_strategy(
    least_confidence_scores,
    "least_confidence",
    "Select the examples whose top probability is lowest (LC), scored by ``1 - max p``.",
)
margin = _probability_strategy(
    margin_scores,
    "margin",
    "Select the examples with the smallest gap between the two most probable classes "
    "(Margin); scores are the gaps.",
    largest=False,
)
deepgini = _probability_strategy(
    gini_scores, "deepgini", "Select the examples of highest Gini impurity (DeepGini)."
)
clean_uncertainty = _probability_strategy(
    entropy_scores,
    "clean_uncertainty",
    "AQPL's Clean-uncertainty baseline: the examples whose clean prediction is most "
    "uncertain (entropy).",
)


@query_strategy()
@fill_doc(**PARTS)
def random_sampling(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Select uniformly at random, without replacement (the Random baseline).

    The classifier is not used; it may be anything, ``None`` included.

    Parameters
    ----------
    classifier : any
        Ignored.
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seed.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
        Uniform random keys in [0, 1).
    """
    _, X_pool, rng = check_query(
        classifier if classifier is not None else object(),
        X_pool,
        n_instances,
        random_state,
        name="random",
    )
    idx = rng.choice(X_pool.shape[0], size=n_instances, replace=False).astype(np.int64)
    return idx, rng.random(n_instances)
