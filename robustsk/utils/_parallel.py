"""Scoring rows in parallel: blocks of an array through joblib, one spawned seed per block.

Used by the acquisition strategies (pool scoring, public as
:func:`robustsk.query.map_pool`) and by RPR's parallel blocks of points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._random import draw_seed
from ._types import RandomStateLike
from ._validation import check_number

#: Pool rows per joblib task when a strategy runs with ``n_jobs``.
DEFAULT_BLOCK_SIZE = 8192


def check_parallel(n_jobs: int | None, block_size: int) -> None:
    """Validate ``n_jobs`` (None or a non-zero int, as in joblib) and ``block_size``."""
    if n_jobs is not None:
        check_number(n_jobs, "n_jobs", integer=True)
        if n_jobs == 0:
            raise ValueError(
                "n_jobs must be None, a positive int or a negative int (joblib), got 0."
            )
    check_number(block_size, "block_size", low=1, integer=True)


def map_pool(
    fn: Callable[..., Any],
    X_pool: np.ndarray,
    *,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    random_state: RandomStateLike = None,
    seeded: bool = False,
    per_row: dict | None = None,
    verbose: int = 0,
    **kwargs: Any,
) -> Any:
    """Apply a per-row scoring function to a pool, in parallel blocks through joblib.

    With ``n_jobs=None`` this is ``fn(X_pool, **kwargs)`` in this process.
    With an int ``n_jobs`` the pool is cut into blocks of ``block_size`` rows
    and each block is one :class:`joblib.Parallel` task, so the active joblib
    backend decides where it runs (processes by default; a Dask or Ray cluster
    under ``joblib.parallel_backend``). The blocks' outputs are concatenated
    along the first axis (element-wise for tuple outputs). The function, its
    estimator and the blocks are pickled to the workers.

    With ``seeded=True``, ``fn`` also gets a ``random_state``: the whole
    ``random_state`` without ``n_jobs``, otherwise an int seed per block
    spawned from it, so the result is the same for every integer ``n_jobs``
    and every backend.

    Parameters
    ----------
    fn : callable
        ``fn(X_block, **kwargs)`` (plus ``random_state=`` when ``seeded``)
        returning an array, or a tuple of arrays, with one row per input row.
    X_pool : ndarray of shape (n_pool, ...)
        The pool.
    n_jobs : int or None, default=None
        joblib workers; None calls ``fn`` once, here.
    block_size : int, default=8192
        Rows per joblib task.
    random_state : None, int, numpy Generator, default=None
        Seeds ``fn`` when ``seeded``.
    seeded : bool, default=False
        Whether ``fn`` takes a ``random_state``.
    per_row : dict or None, default=None
        Keyword arguments with one entry per pool row (e.g. each example's
        noise level), sliced with the pool for each block.
    verbose : int, default=0
        joblib's progress messages (its ``verbose``).
    **kwargs
        Passed to every call of ``fn``.

    Returns
    -------
    scores : ndarray of shape (n_pool, ...) or tuple of ndarray
        ``fn``'s output for the whole pool.

    Examples
    --------
    >>> import numpy as np
    >>> from robustsk.query import map_pool
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> map_pool(lambda x: x.sum(axis=1), X, n_jobs=2, block_size=2)
    array([ 1.,  5.,  9., 13., 17.])
    """
    check_parallel(n_jobs, block_size)
    per_row = per_row or {}
    n = X_pool.shape[0]
    if n_jobs is None or n == 0:
        seed = {"random_state": random_state} if seeded else {}
        return fn(X_pool, **per_row, **seed, **kwargs)
    from joblib import Parallel, delayed

    blocks = [slice(i, min(i + block_size, n)) for i in range(0, n, block_size)]
    seeds: list[dict] = [{} for _ in blocks]
    if seeded:
        seqs = np.random.SeedSequence(draw_seed(random_state)).spawn(len(blocks))
        seeds = [{"random_state": int(q.generate_state(1)[0] & 0x7FFFFFFF)} for q in seqs]
    parts = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(fn)(X_pool[b], **{k: v[b] for k, v in per_row.items()}, **seed, **kwargs)
        for b, seed in zip(blocks, seeds)
    )
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts))
    return np.concatenate(parts)
