"""MNIST-C-like test sets: one corrupted copy of a test set per common corruption."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
from joblib import Parallel, delayed
from numpy.typing import ArrayLike

from ..perturb import (
    CORRUPTIONS,
    Bounds,
    Corruption,
    ValueRange,
    check_range,
    check_range_shape,
    from_unit,
    to_unit,
    warn_outside_range,
)
from ..utils import check_batch, check_n_jobs, check_number, numpy_generator, progress_bar


def make_corrupted(
    X: ArrayLike | torch.Tensor,
    corruptions: str | Sequence[str] = "all",
    *,
    severity: int = 3,
    clip: ValueRange = (0.0, 1.0),
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    verbose: int = 0,
) -> dict[str, np.ndarray | torch.Tensor]:
    """Corrupt a set of images with each common corruption, as MNIST-C does for MNIST.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n, c, h, w) or (n, h, w)
        Clean images in the valid range ``clip``; ``c`` is 1 or 3. Values
        outside it get one warning and are clipped into it.
    corruptions : "all", str or list of str, default="all"
        Names from :data:`robustsk.perturb.CORRUPTIONS` ("all" is all 15).
    severity : int, default=3
        Strength, 1 to 5.
    clip : tuple (low, high), default=(0.0, 1.0)
        Valid range of ``X``: numbers (``(0, 255)`` for 8-bit images) or
        arrays broadcastable to one image's shape (e.g. ``(c, 1, 1)`` per
        channel). Must not be None: the corruptions are defined relative to
        the range. ``X`` is mapped from it onto [0, 1], corrupted there and
        mapped back, so the severity constants are fractions of
        ``high - low`` and the same images on either scale get the same
        corruption (see :class:`~robustsk.perturb.Corruption`).
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
        ``{name: array of X's type, shape and dtype}``, in the order
        requested (on ``X``'s device for a tensor). Integer images (e.g.
        ``uint8``) are rounded to the nearest integer.

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
    bounds = check_range(clip)
    if bounds is None:
        raise ValueError(
            "clip must be a pair (low, high) for make_corrupted, got None: corruptions are "
            "defined relative to the valid range (brightness, contrast, noise levels are "
            "fractions of it). Pass the data's range, e.g. clip=(0, 255) for 8-bit images."
        )
    check_range_shape(bounds, tuple(X.shape[1:]))
    # one warning for the whole call (not one per corruption), then every corruption
    # works on [0, 1] images
    warn_outside_range(X, clip, who="make_corrupted", stacklevel=2)
    unit = _to_unit(X, bounds)
    seeds = numpy_generator(random_state).integers(2**31 - 1, size=len(names))
    jobs = (
        delayed(Corruption(name, severity, clip=(0.0, 1.0), random_state=int(seed)))(unit)
        for name, seed in zip(names, seeds)
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    out = {}
    for name, res in zip(
        names, progress_bar(results, total=len(names), desc="corrupting", verbose=verbose)
    ):
        out[name] = _from_unit(res, bounds, X)  # same type, shape and dtype as X
    return out


def _to_unit(X: np.ndarray | torch.Tensor, bounds: Bounds) -> np.ndarray | torch.Tensor:
    """``X`` mapped from ``bounds`` onto [0, 1] (clipped), float64, of ``X``'s type and device."""
    if isinstance(X, torch.Tensor):
        unit = to_unit(X.detach().cpu().numpy(), bounds)
        return torch.from_numpy(unit).to(X.device)
    return to_unit(X, bounds)


def _from_unit(
    U: np.ndarray | torch.Tensor, bounds: Bounds, X: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """Corrupted ``[0, 1]`` images mapped back onto ``bounds``, cast to ``X``'s dtype."""
    if isinstance(X, torch.Tensor):
        back = from_unit(np.asarray(cast(torch.Tensor, U).cpu().numpy()), bounds)
        return torch.from_numpy(back).to(device=X.device, dtype=X.dtype)
    back = from_unit(np.asarray(U), bounds)
    if np.issubdtype(X.dtype, np.integer):
        info = np.iinfo(X.dtype)
        back = np.clip(np.rint(back), info.min, info.max)
    return back.astype(X.dtype)
