"""Stochastic power acquisition: PowerBALD and PowerEntropy (Kirsch et al. 2023).

Taking the top B of a score picks near-duplicates: neighbours share high scores.
Power acquisition samples the batch instead, without replacement, each example with
probability proportional to ``score ** beta``: high scores still dominate, and the
batch spreads out at the cost of one score pass (no pairwise terms, unlike
BatchBALD). Sampling uses the Gumbel-top-k trick: the B largest
``beta * log(score) + Gumbel noise`` are such a sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    InstanceOf,
    Interval,
    ParameterConstraints,
    RandomStateLike,
    declare_params,
    fill_doc,
)
from ._base import check_points, check_query, predict_proba_batched, query_strategy
from ._docstrings import PARTS
from ._mc_dropout import MC_CONSTRAINTS, mc_pool_scores
from ._scores import entropy_scores

#: PowerBALD's and PowerEntropy's sharpness.
BETA: ParameterConstraints = {"beta": [Interval(0.0)]}


@declare_params(
    {
        "n_instances": [Interval(1, integer=True)],
        "rng": [InstanceOf(np.random.Generator, description="a numpy Generator")],
        **BETA,
    }
)
def power_select(
    scores: np.ndarray, n_instances: int, rng: np.random.Generator, *, beta: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """A sample of ``n_instances`` positions without replacement, ``P(i) ~ scores[i] ** beta``.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Non-negative scores (zeros are picked only after every positive one).
    n_instances : int
        Sample size.
    rng : numpy.random.Generator
        Draws the Gumbel noise.
    beta : float, default=1.0
        Sharpness: 0 is uniform sampling, large values approach the top scores.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        In sampling order.
    scores : ndarray of shape (n_instances,)
        Their scores.
    """
    scores = check_points(
        scores, n_instances, "scores", 1, dtype=np.float64, count="n_instances", finite=False
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = beta * np.log(np.clip(scores, 0.0, None)) + rng.gumbel(size=scores.shape[0])
    # a zero (or NaN) score sorts last; among those the noise alone decides
    zero = np.isneginf(keys) | np.isnan(keys)
    if zero.any():
        keys[zero] = -1e300 + rng.random(int(zero.sum()))
    part = (
        np.argpartition(-keys, n_instances - 1)[:n_instances]
        if n_instances < len(keys)
        else np.arange(len(keys))
    )
    idx = part[np.argsort(-keys[part], kind="stable")].astype(np.int64)
    return idx, scores[idx]


_DOC = """{summary}

    Parameters
    ----------
    {classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Seeds the sampling{draws}.
    beta : float, default=1.0
        ``P(pick) ~ score ** beta``: 0 is random sampling, large is top-B.
    {extra}batch_size : int, default=1024
        Rows per forward pass.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        In sampling order.
    scores : ndarray of shape (n_instances,)
        Their {what}.
"""


@query_strategy({**BETA, **MC_CONSTRAINTS})
@fill_doc(
    _DOC,
    summary="Sample the batch with probability proportional to BALD ** beta (PowerBALD).",
    classifier=PARTS["torch_classifier"],
    draws=" and the dropout masks",
    extra="n_draws : int, default=10\n        MC-dropout passes per example.\n    "
    "p : float, default=0.1\n        Dropout probability of inserted layers.\n    ",
    what="BALD scores",
    **{k: v for k, v in PARTS.items() if k in ("pool", "parallel")},
)
def power_bald(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    beta: float = 1.0,
    n_draws: int = 10,
    p: float = 0.1,
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="power_bald"
    )
    scores = mc_pool_scores(
        estimator, X_pool, rng, "power_bald", n_draws, p, batch_size, n_jobs, block_size
    )
    return power_select(scores, n_instances, rng, beta=beta)


@query_strategy(BETA)
@fill_doc(
    _DOC,
    summary="Sample the batch with probability proportional to entropy ** beta (PowerEntropy).",
    classifier=PARTS["proba_classifier"],
    draws="",
    extra="",
    what="predictive entropies",
    **{k: v for k, v in PARTS.items() if k in ("pool", "parallel")},
)
def power_entropy(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    beta: float = 1.0,
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    estimator, X_pool, rng = check_query(
        classifier, X_pool, n_instances, random_state, name="power_entropy"
    )
    proba = predict_proba_batched(
        estimator, X_pool, batch_size, n_jobs=n_jobs, block_size=block_size
    )
    return power_select(entropy_scores(proba), n_instances, rng, beta=beta)
