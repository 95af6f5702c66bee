"""Scoring rows in parallel: blocks of an array through joblib, one spawned seed per block.

Used by the acquisition strategies (pool scoring, public as
:func:`robustsk.query.map_pool`) and by RPR's parallel blocks of points.

``n_jobs`` follows scikit-learn: ``None`` means one job unless a
:func:`joblib.parallel_config` (or ``parallel_backend``) context says
otherwise, ``-1`` all cores. ``n_jobs`` only decides *where* the blocks run:
the blocks themselves (``block_size`` rows each) and their seeds do not depend
on it, so every ``n_jobs``, ``None`` included, gives the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._random import draw_seed
from ._types import RandomStateLike
from ._validation import check_number

#: Pool rows per joblib task (and per seeded block) in pool scoring.
DEFAULT_BLOCK_SIZE = 8192


def check_n_jobs(n_jobs: Any) -> int | None:
    """Validate ``n_jobs``: None or a non-zero int, as in joblib and scikit-learn."""
    if n_jobs is not None:
        check_number(n_jobs, "n_jobs", integer=True)
        if n_jobs == 0:
            raise ValueError(
                "n_jobs must be None, a positive int or a negative int (joblib), got 0."
            )
    return n_jobs


def check_parallel(n_jobs: int | None, block_size: int) -> None:
    """Validate ``n_jobs`` (None or a non-zero int, as in joblib) and ``block_size``."""
    check_n_jobs(n_jobs)
    check_number(block_size, "block_size", low=1, integer=True)


def block_seeds(random_state: RandomStateLike, n_blocks: int) -> list[int]:
    """One int seed per block, spawned from one draw of ``random_state``.

    ``random_state`` is drawn from exactly once (one integer from a numpy or
    torch Generator), whatever ``n_blocks``, so a caller that goes on using the
    same generator afterwards sees the same state for every block layout.
    """
    seqs = np.random.SeedSequence(draw_seed(random_state)).spawn(n_blocks)
    return [int(q.generate_state(1)[0] & 0x7FFFFFFF) for q in seqs]


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
    desc: str = "scoring",
    pass_progress: bool = False,
    **kwargs: Any,
) -> Any:
    """Apply a per-row scoring function to a pool, in blocks of rows through joblib.

    The pool is cut into blocks of ``block_size`` rows and ``fn`` is called
    once per block. ``n_jobs`` only decides where the calls run: in this
    process, one block after the other, when there is a single block or
    joblib's effective number of jobs is 1 (``n_jobs=None`` or ``1`` outside a
    ``joblib.parallel_config`` context); otherwise each block is one
    :class:`joblib.Parallel` task, so the
    active joblib backend decides where it runs (processes by default; a Dask
    or Ray cluster under ``joblib.parallel_backend``), and the function, its
    estimator and the blocks are pickled to the workers. The blocks' outputs
    are concatenated along the first axis (element-wise for tuple outputs).

    With ``seeded=True``, ``fn`` also gets a ``random_state``: an int seed per
    block spawned from one draw of ``random_state``. The block layout depends
    on ``block_size`` only, so the result is the same for every ``n_jobs``
    (``None`` included) and every backend; another ``block_size`` gives other
    draws with the same law.

    Parameters
    ----------
    fn : callable
        ``fn(X_block, **kwargs)`` (plus ``random_state=`` when ``seeded`` and
        ``progress=`` when ``pass_progress``) returning an array, or a tuple of
        arrays, with one row per input row.
    X_pool : ndarray of shape (n_pool, ...)
        The pool.
    n_jobs : int or None, default=None
        joblib workers, as in scikit-learn: None means 1 unless in a
        ``joblib.parallel_config`` context, -1 all cores.
    block_size : int, default=8192
        Rows per block (per call of ``fn``, per joblib task).
    random_state : None, int, numpy or torch Generator, default=None
        Seeds the blocks when ``seeded`` (one integer is drawn from a
        generator).
    seeded : bool, default=False
        Whether ``fn`` takes a ``random_state``.
    per_row : dict or None, default=None
        Keyword arguments with one entry per pool row (e.g. each example's
        noise level), sliced with the pool for each block.
    verbose : int, default=0
        Show a progress bar over the pool's rows.
    desc : str, default="scoring"
        The progress bar's label.
    pass_progress : bool, default=False
        Whether ``fn`` takes a ``progress`` keyword: in this process it gets the
        progress bar (``None`` when ``verbose=0``) and advances it by the rows
        it finishes, for a finer bar than one step per block; in joblib workers
        it gets ``None`` and the bar advances when the block comes back.
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
    from joblib import Parallel, delayed, effective_n_jobs

    from ._config import with_config
    from ._progress import progress_bar

    check_parallel(n_jobs, block_size)
    per_row = per_row or {}
    n = X_pool.shape[0]
    blocks = [slice(i, min(i + block_size, n)) for i in range(0, n, block_size)] or [slice(0, 0)]
    seeds: list[dict] = [{} for _ in blocks]
    if seeded:
        seeds = [{"random_state": s} for s in block_seeds(random_state, len(blocks))]

    def args(b: slice, seed: dict) -> dict:
        return {**{k: v[b] for k, v in per_row.items()}, **seed, **kwargs}

    with progress_bar(total=n, desc=desc, unit="row", verbose=verbose) as bar:
        in_process = len(blocks) == 1 or effective_n_jobs(n_jobs) == 1
        if in_process:
            extra = {"progress": bar if verbose else None} if pass_progress else {}
            parts = []
            for b, seed in zip(blocks, seeds):
                parts.append(fn(X_pool[b], **args(b, seed), **extra))
                if not pass_progress:
                    bar.update(b.stop - b.start)
        else:
            extra = {"progress": None} if pass_progress else {}
            task = with_config(fn)  # the caller's inference options, in every worker
            results = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(task)(X_pool[b], **args(b, seed), **extra) for b, seed in zip(blocks, seeds)
            )
            parts = []
            for b, part in zip(blocks, results):
                parts.append(part)
                bar.update(b.stop - b.start)
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts))
    return np.concatenate(parts)
