"""How many CPU threads torch (and BLAS) may use, so that parallel jobs share the cores.

joblib's default backend (loky) already gives each worker process
``cpu_count() // n_jobs`` threads: it sets ``OMP_NUM_THREADS`` (and the BLAS
variables) in the workers it starts, and torch reads ``OMP_NUM_THREADS`` when
it starts. So ``GridSearchCV(estimator, grid, n_jobs=2)`` over robustsk
estimators needs no extra code. Two cases escape that rule:

* thread-based backends (``joblib.parallel_config(backend="threading")``, a Dask
  cluster with threaded workers): the jobs are threads of one process, and
  torch's thread count is per process;
* an ``OMP_NUM_THREADS`` set in the parent's environment, which loky passes on
  to every worker unchanged instead of its share.

:func:`torch_threads` caps a block of code by hand for those cases and for
benchmarks; :func:`worker_threads` is joblib's share of the cores per job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ._validation import check_number


def worker_threads(n_jobs: int | None = None) -> int:
    """Threads per job when ``n_jobs`` jobs share this machine's cores.

    joblib's rule for its worker processes: ``max(1, cpu_count() // n)``,
    with ``n`` joblib's effective number of jobs for ``n_jobs`` (``None``
    means 1 unless in a ``joblib.parallel_config`` context, -1 all cores) and
    ``cpu_count()`` the cores this process may use (CPU affinity and cgroup
    quotas included).

    Parameters
    ----------
    n_jobs : int or None, default=None
        Jobs, as in scikit-learn.

    Returns
    -------
    n_threads : int
        At least 1.

    Examples
    --------
    >>> from joblib import cpu_count
    >>> from robustsk.utils import worker_threads
    >>> worker_threads(1) == cpu_count()
    True
    >>> worker_threads(10**6)
    1
    """
    from joblib import cpu_count, effective_n_jobs

    from ._parallel import check_n_jobs

    check_n_jobs(n_jobs)
    return max(1, cpu_count() // effective_n_jobs(n_jobs))


@contextlib.contextmanager
def torch_threads(n_threads: int | None = None, *, blas: bool = True) -> Iterator[int]:
    """Cap torch's CPU threads (and BLAS / OpenMP pools) inside a ``with`` block.

    Sets :func:`torch.set_num_threads` (torch's intra-op pool, for the whole
    process) and, with ``blas=True``, the thread pools that threadpoolctl finds
    (numpy's BLAS, OpenMP), and restores the previous values on exit, even
    after an error. Use it around work that runs several jobs as threads of
    this process (joblib's ``threading`` backend, a Dask cluster with threaded
    workers): ``with torch_threads(worker_threads(2)): ...``. joblib's default
    process backend needs none of this (its workers already get their share).

    Parameters
    ----------
    n_threads : int or None, default=None
        Threads, at least 1; ``None`` means :func:`worker_threads` for the
        active joblib configuration (``joblib.parallel_config(n_jobs=...)``).
    blas : bool, default=True
        Also cap the thread pools threadpoolctl controls.

    Yields
    ------
    n_threads : int
        The cap in force.

    Examples
    --------
    >>> import torch
    >>> from robustsk.utils import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n_threads is None:
        n_threads = worker_threads(None)
    check_number(n_threads, "n_threads", low=1, integer=True)
    if not isinstance(blas, bool):
        raise TypeError(f"blas must be True or False, got {blas!r}.")
    previous = torch.get_num_threads()
    limits: contextlib.AbstractContextManager = contextlib.nullcontext()
    if blas:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=int(n_threads))
    torch.set_num_threads(int(n_threads))
    try:
        with limits:
            yield int(n_threads)
    finally:
        torch.set_num_threads(previous)
