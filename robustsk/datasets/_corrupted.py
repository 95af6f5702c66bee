"""MNIST-C-like test sets: one corrupted copy of a test set per common corruption."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from joblib import Parallel, delayed
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from ..perturb import CORRUPTIONS, Corruption
from ..utils import check_batch, check_number, numpy_generator
from ..utils._parallel import check_n_jobs


def make_corrupted(
    X: ArrayLike | torch.Tensor,
    corruptions: str | Sequence[str] = "all",
    *,
    severity: int = 3,
    clip: tuple[float, float] | None = (0.0, 1.0),
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    verbose: int = 0,
) -> dict[str, np.ndarray | torch.Tensor]:
    """Corrupt a set of images with each common corruption, as MNIST-C does for MNIST.

    Parameters
    ----------
    X : array-like of shape (n, c, h, w) or (n, h, w)
        Clean images in the valid range ``clip``; ``c`` is 1 or 3.
    corruptions : "all", str or list of str, default="all"
        Names from :data:`robustsk.perturb.CORRUPTIONS` ("all" is all 15).
    severity : int, default=3
        Strength, 1 to 5.
    clip : tuple (low, high), default=(0.0, 1.0)
        Valid range of ``X``.
    random_state : None, int or numpy Generator, default=None
        Each corruption gets its own seed drawn from it, in the order
        requested, so the result does not depend on ``n_jobs``.
    n_jobs : int or None, default=None
        Corruptions computed in parallel with joblib (any joblib backend). As
        in scikit-learn, None means 1 unless in a ``joblib.parallel_config``
        context and -1 means all cores; every ``n_jobs`` gives the same sets.
    verbose : int, default=0
        Show a progress bar over corruptions.

    Returns
    -------
    corrupted : dict
        ``{name: array of X's shape and dtype}``, in the order requested.

    Examples
    --------
    >>> from robustsk.datasets import load_digits_images, make_corrupted
    >>> X, _ = load_digits_images(return_X_y=True)
    >>> sets = make_corrupted(X[:10], ["fog", "contrast"], severity=2, random_state=0)
    >>> list(sets), sets["fog"].shape
    (['fog', 'contrast'], (10, 1, 8, 8))
    """
    X = check_batch(X, "X", min_ndim=3)
    check_number(severity, "severity", low=1, high=5, integer=True)
    check_n_jobs(n_jobs)
    if isinstance(corruptions, str):
        names = list(CORRUPTIONS) if corruptions == "all" else [corruptions]
    else:
        names = list(corruptions)
    unknown = [n for n in names if n not in CORRUPTIONS]
    if unknown or not names:
        raise ValueError(
            f"corruptions must be 'all' or names from {list(CORRUPTIONS)}, got {corruptions!r}."
        )
    seeds = numpy_generator(random_state).integers(2**31 - 1, size=len(names))
    jobs = (
        delayed(Corruption(name, severity, clip=clip, random_state=int(seed)))(X)
        for name, seed in zip(names, seeds)
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    out = {}
    for name, res in zip(
        names, tqdm(results, total=len(names), desc="corrupting", disable=not verbose)
    ):
        out[name] = res  # same type, shape and dtype as X
    return out
