"""RPR's scheme: replace up to ``k`` pixels by uniform random values."""

from __future__ import annotations

from ..utils._types import ClipRange, RandomStateLike

import math

import torch

from ..utils import check_clip, check_number
from ._base import Perturbation


class RandomPixels(Perturbation):
    """Replace up to ``k`` randomly chosen pixels by uniform values in the valid range.

    ``k`` positions are drawn uniformly with replacement, so at most ``k``
    distinct pixels change (the "at most sqrt(d) pixels" scheme of the RPR
    paper). A pixel is a feature of a flat ``(n, d)`` input and a spatial
    location of an image ``(n, c, h, w)``; every channel of a chosen location
    gets its own uniform value.

    Parameters
    ----------
    k : int or None, default=None
        Number of draws per image; ``None`` means ``round(sqrt(n_pixels))``
        (28 on MNIST, 8 on 8x8 digits).
    clip : tuple (low, high), default=(0.0, 1.0)
        Valid range; replacement values are uniform on it. Must not be None.
    random_state : None, int, numpy or torch Generator, default=None
        Seed of the perturbation's random stream.

    Examples
    --------
    >>> import numpy as np
    >>> from robustsk.perturb import RandomPixels
    >>> X = np.zeros((3, 1, 28, 28), dtype=np.float32)
    >>> Xp = RandomPixels(random_state=0)(X)
    >>> Xp.shape, bool(((Xp != 0).sum(axis=(1, 2, 3)) <= 28).all())
    ((3, 1, 28, 28), True)
    """

    def __init__(
        self,
        k: int | None = None,
        *,
        clip: ClipRange = (0.0, 1.0),
        random_state: RandomStateLike = None,
    ):
        super().__init__(clip=clip, random_state=random_state)
        self.k = k

    def _check_params(self):
        if self.k is not None:
            check_number(self.k, "k", low=1, integer=True)
        if check_clip(self.clip) is None:
            raise ValueError("clip must be a pair (low, high) for RandomPixels, got None.")

    def n_draws(self, n_pixels: int) -> int:
        """Number of pixel draws per image for an image of ``n_pixels`` pixels."""
        return int(self.k) if self.k is not None else max(1, round(math.sqrt(n_pixels)))

    def _perturb(self, x, generator):
        low, high = check_clip(self.clip)
        n = x.shape[0]
        if x.ndim >= 3:  # (n, c, *spatial): a pixel is a spatial location
            flat = x.reshape(n, x.shape[1], -1).clone()  # (n, c, p)
        else:
            flat = x.reshape(n, 1, -1).clone()  # (n, 1, d)
        c, p = flat.shape[1], flat.shape[2]
        k = self.n_draws(p)
        pos = torch.randint(p, (n, 1, k), generator=generator, device=x.device).expand(n, c, k)
        vals = torch.rand((n, c, k), generator=generator, device=x.device, dtype=x.dtype)
        flat.scatter_(2, pos, vals.mul_(high - low).add_(low))
        return flat.reshape(x.shape)
