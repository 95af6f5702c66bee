"""Noise ladders: one example at increasing noise levels, as shown to an oracle."""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..utils import RandomStateLike, check_batch, check_number, torch_generator
from ._range import ValueRange, check_range, check_range_shape, clamp_, warn_outside_range


def make_sigma_ladder(
    sigma_min: float = 0.0, sigma_max: float = 0.9, step: float = 0.01
) -> np.ndarray:
    """Return the noise levels ``sigma_min, sigma_min + step, ..., sigma_max``.

    The defaults are the AQPL paper's annotation protocol (0 to 0.9 in steps
    of 0.01, 91 levels). Levels are rounded to 10 decimals so that they can be
    compared exactly.

    Parameters
    ----------
    sigma_min : float, default=0.0
        First level, >= 0.
    sigma_max : float, default=0.9
        Last level (included when it lies on the grid), >= ``sigma_min``.
    step : float, default=0.01
        Spacing, > 0.

    Returns
    -------
    sigmas : ndarray of shape (n_levels,)
    """
    check_number(sigma_min, "sigma_min", low=0.0)
    check_number(sigma_max, "sigma_max", low=sigma_min)
    check_number(step, "step", low=0.0, include_low=False)
    n = int(np.floor((sigma_max - sigma_min) / step + 1e-9)) + 1
    return np.round(sigma_min + step * np.arange(n), 10)


def noise_ladder(
    x: ArrayLike | torch.Tensor,
    sigmas: ArrayLike | None = None,
    *,
    clip: ValueRange = (0.0, 1.0),
    random_state: RandomStateLike = None,
) -> np.ndarray | torch.Tensor:
    """Return copies of one example ``x`` at each noise level in ``sigmas``.

    The same standard-normal draw ``z`` is scaled by every level
    (``clip(x + sigma * z)``), so neighbouring rungs differ only in strength:
    an annotator sees the content fade, not a new noise pattern at each rung.

    Parameters
    ----------
    x : array-like or torch.Tensor of shape (...)
        A single example, e.g. ``(1, 28, 28)`` or ``(64,)``.
    sigmas : array-like of shape (n_levels,), default=None
        Noise levels, each >= 0; ``None`` uses :func:`make_sigma_ladder`'s defaults.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid range: numbers, or per-feature arrays broadcastable to the
        shape of ``x``; ``None`` disables clipping. An ``x`` outside it gets a
        warning. The levels are in the data's units (scale them by
        ``high - low`` for data not in [0, 1]).
    random_state : None, int, numpy or torch Generator, default=None
        Seed of the noise draw.

    Returns
    -------
    ladder : same type as ``x``, shape (n_levels, ...)

    Examples
    --------
    >>> import numpy as np
    >>> from robustsk.perturb import noise_ladder
    >>> ladder = noise_ladder(np.full((1, 8, 8), 0.5), [0.0, 0.1, 0.5], random_state=0)
    >>> ladder.shape, bool((ladder[0] == 0.5).all())
    ((3, 1, 8, 8), True)
    """
    bounds = check_range(clip)
    sigmas = make_sigma_ladder() if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    if sigmas.ndim != 1 or sigmas.size == 0:
        raise ValueError(f"sigmas must be a non-empty 1-d sequence, got shape {sigmas.shape}.")
    if not np.isfinite(sigmas).all() or (sigmas < 0).any():
        raise ValueError(f"sigmas must be finite and >= 0, got {sigmas!r}.")
    as_numpy = not isinstance(x, torch.Tensor)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32)) if as_numpy else cast(torch.Tensor, x)
    check_batch(xt[None], "x", min_ndim=1)
    check_range_shape(bounds, tuple(xt.shape))
    warn_outside_range(xt[None], clip, who="noise_ladder", stacklevel=2)
    gen = torch_generator(random_state, xt.device)
    z = torch.randn(xt.shape, generator=gen, device=xt.device, dtype=xt.dtype)
    s = torch.as_tensor(sigmas, dtype=xt.dtype, device=xt.device)
    ladder = xt.unsqueeze(0) + s.reshape((-1,) + (1,) * xt.ndim) * z.unsqueeze(0)  # (L, ...)
    clamp_(ladder, bounds)
    return ladder.cpu().numpy() if as_numpy else ladder
