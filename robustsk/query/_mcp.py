"""MCP: multiple-boundary clustering and prioritization (Shen et al. 2020)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import DEFAULT_BLOCK_SIZE, RandomStateLike, fill_doc
from ._base import check_query, predict_proba_batched, query_strategy
from ._docstrings import PARTS
from ._scores import top2_classes


@query_strategy()
@fill_doc(**PARTS)
def mcp(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    batch_size: int = 1024,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select evenly across decision-boundary areas, closest to the boundary first (MCP).

    Each example belongs to the boundary area of its two most probable
    classes ``(c1, c2)``; its priority is ``p2 / p1`` (1 on the boundary). The
    selection goes round-robin over the areas -- the highest-priority example
    of every area, then the second of every area, and so on -- so the counts
    taken from any two areas differ by at most one unless an area runs out.
    Within a round, areas with higher-priority candidates go first.

    Parameters
    ----------
    {proba_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Breaks ties.
    batch_size : int, default=1024
        Rows per ``predict_proba`` call.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
        Priorities ``p2 / p1``.
    """
    estimator, X_pool, rng = check_query(classifier, X_pool, n_instances, random_state, name="mcp")
    proba = predict_proba_batched(
        estimator, X_pool, batch_size, n_jobs=n_jobs, block_size=block_size
    )
    c1, c2, p1, p2 = top2_classes(proba)
    priority = p2 / np.maximum(p1, 1e-12)
    area = c1.astype(np.int64) * proba.shape[1] + c2
    idx = round_robin(area, priority, n_instances, rng)
    return idx, priority[idx]


def round_robin(group, priority, n_instances: int, rng: np.random.Generator) -> np.ndarray:
    """Take the best of every group, then the second best, ... (vectorized)."""
    tie = rng.random(group.shape[0])
    order = np.lexsort((tie, -priority, group))  # by group, best first within a group
    sorted_groups = group[order]
    starts = np.searchsorted(sorted_groups, sorted_groups, side="left")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0]) - starts
    pick = np.lexsort((tie, -priority, rank))[:n_instances]
    return pick.astype(np.int64)
