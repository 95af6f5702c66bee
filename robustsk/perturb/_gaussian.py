"""Additive Gaussian noise with one level for the batch or one per sample."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..utils import ParameterConstraints, PerSample, RandomStateLike, check_per_sample
from ._base import Perturbation, expand_per_sample
from ._range import ValueRange, check_range, clamp_


def add_gaussian_noise(
    x: torch.Tensor,
    sigma: float | ArrayLike | torch.Tensor,
    *,
    clip: ValueRange = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return ``clip(x + sigma * z)`` with ``z ~ N(0, I)``; the tensor hot path.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, ...)
        Clean inputs.
    sigma : float or torch.Tensor of shape (batch,)
        Noise standard deviation, one value for all or one per sample. A sample
        with sigma 0 is returned unchanged (up to clipping).
    clip : tuple (low, high) or None
        Valid input range: numbers, or per-feature arrays broadcastable to
        ``x.shape[1:]`` (not validated here: the hot path trusts its caller).
    generator : torch.Generator or None
        Source of randomness, on ``x.device``.
    """
    z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if isinstance(sigma, torch.Tensor) and sigma.ndim > 0:
        z.mul_(expand_per_sample(sigma.to(device=x.device, dtype=x.dtype), x))
    else:
        z.mul_(float(cast(Any, sigma)))
    out = z.add_(x)
    if clip is None:
        return out
    low, high = clip
    if np.ndim(low) == 0 and np.ndim(high) == 0:
        return out.clamp_(float(cast(Any, low)), float(cast(Any, high)))
    return clamp_(out, (np.asarray(low, np.float64), np.asarray(high, np.float64)))


class GaussianNoise(Perturbation):
    """Additive Gaussian noise ``N(0, sigma^2 I)``, clipped to the valid range.

    ``sigma`` is in the units of the data, whatever their range: ``sigma=0.1``
    on images in [0, 1] is ``sigma=25.5`` on the same images in [0, 255]
    (scale it with the range, ``sigma * (high - low)``; on standardized data
    it is in standard deviations). The noise itself needs no range, so
    ``clip=None`` works; with a range, outputs are clipped into it.

    Parameters
    ----------
    sigma : float or array-like of shape (n_samples,), default=0.1
        Standard deviation of the noise, in the data's units: one level for
        every sample, or one per sample (the per-example levels of AQPL,
        Eq. 2). Must be >= 0.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid range of the inputs: numbers, or per-feature arrays
        broadcastable to one sample's shape; ``None`` disables clipping. A
        call on data outside it warns once.
    random_state : None, int, numpy or torch Generator, default=None
        Seed of the perturbation's random stream.

    Examples
    --------
    >>> import numpy as np
    >>> from robustsk.perturb import GaussianNoise
    >>> X = np.full((2, 4), 0.5, dtype=np.float32)
    >>> Xn = GaussianNoise(sigma=[0.0, 0.3], random_state=0)(X)
    >>> bool((Xn[0] == 0.5).all()), bool((Xn[1] != 0.5).any())
    (True, True)
    """

    _parameter_constraints: ParameterConstraints = {"sigma": [PerSample(low=0.0)]}

    def __init__(
        self,
        sigma: float | ArrayLike | torch.Tensor = 0.1,
        *,
        clip: ValueRange = (0.0, 1.0),
        random_state: RandomStateLike = None,
    ):
        super().__init__(clip=clip, random_state=random_state)
        self.sigma = sigma

    def _perturb(self, x, generator):
        sigma = check_per_sample(self.sigma, x.shape[0], "sigma", low=0.0)
        if isinstance(sigma, np.ndarray):
            sigma = torch.from_numpy(sigma)
        return add_gaussian_noise(x, sigma, clip=check_range(self.clip), generator=generator)
