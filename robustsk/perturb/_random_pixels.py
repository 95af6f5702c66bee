"""RPR's scheme: alter up to ``k`` random pixels (uniform values, salt-and-pepper, invert, ...)."""

from __future__ import annotations

import math
import warnings
from typing import cast

import torch

from ..utils import (
    Boolean,
    Interval,
    Options,
    ParameterConstraints,
    RandomStateLike,
    Range,
    rename_message,
)
from ._base import Perturbation
from ._range import Bounds, ValueRange, bounds_like, check_range


class RandomPixels(Perturbation):
    """Alter up to ``k`` randomly chosen pixels: the RPR paper's perturbation scheme.

    The paper (Ilie et al., section 2.3) perturbs an MNIST image by "randomly
    altering a pixel count of at most the square root of the number of image
    pixels (28 in our case)". It says neither how the pixels are picked nor
    what they become; ``replace`` and ``value`` are its readings.

    - ``replace=True`` (default): ``k`` positions are drawn uniformly *with*
      replacement, so at most ``k`` distinct pixels change (a location drawn
      twice takes the later draw). ``k`` independent draws are the simplest
      procedure that yields the paper's "at most": its most literal reading.
      ``replace=False``: exactly ``k`` distinct positions.
    - ``value``: what a chosen pixel becomes, with ``(low, high) = clip``:

      ``"uniform"`` (default)
          a fresh uniform value in ``[low, high]``, one per channel;
      ``"salt_and_pepper"``
          ``low`` or ``high`` with probability 1/2 each (all channels of a
          location alike);
      ``"invert"``
          ``high + low - x`` (a black pixel turns white and back);
      ``"white"``
          ``high``;
      ``"black"``
          ``low``.

    A pixel is a feature of a flat ``(n, d)`` input and a spatial location of
    an image ``(n, c, h, w)``; every channel of a chosen location changes.

    Tabular data: with per-feature bounds ``clip=(low, high)`` (arrays
    broadcastable to one row's shape, e.g. ``(X.min(axis=0), X.max(axis=0))``)
    a chosen feature ``j`` becomes a value inside its own range
    ``[low[j], high[j]]`` (uniform, an end, or ``high[j] + low[j] - x``). RPR
    then means: alter at most ``k`` features to random in-range values.

    Positions, uniform values and coins come from one seeded generator on the
    input's device, and a location drawn twice takes its later draw on every
    device, so a seed gives the same images on every run. ``value="uniform"``
    with ``replace=True`` is the stream of earlier releases, draw for draw.

    Parameters
    ----------
    k : int or None, default=None
        Number of positions drawn per image; ``None`` means
        ``round(sqrt(n_pixels))`` (28 on MNIST, 8 on 8x8 digits). With
        ``replace=False`` it must not exceed the number of pixels.
    value : {"uniform", "salt_and_pepper", "invert", "white", "black"}, default="uniform"
        What a chosen pixel becomes (see above).
    replace : bool, default=True
        Draw the ``k`` positions with replacement (at most ``k`` distinct
        pixels) or without (exactly ``k``).
    clip : tuple (low, high), default=(0.0, 1.0)
        Valid range; the replacement values are taken from it. Numbers, or
        per-feature arrays broadcastable to one sample's shape (``(d,)`` for
        rows, ``(c, h, w)`` or ``(c, 1, 1)`` for images). Must not be None.
        A call on data outside it warns once.
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
    >>> Xi = RandomPixels(value="invert", replace=False, random_state=0)(X)
    >>> sorted(set(np.unique(Xi).tolist())), (Xi == 1).sum(axis=(1, 2, 3)).tolist()
    ([0.0, 1.0], [28, 28, 28])
    """

    #: The allowed ``value`` names.
    VALUES = ("uniform", "salt_and_pepper", "invert", "white", "black")

    _parameter_constraints: ParameterConstraints = {
        "k": [None, Interval(1, integer=True)],
        "value": [Options(VALUES)],
        "replace": [Boolean()],
        "clip": [
            Range(
                check_range,
                none_error=(
                    "clip must be a pair (low, high) for RandomPixels, got None: the new pixel "
                    "values are drawn from it. Pass the data's range, e.g. clip=(0, 255) for "
                    "8-bit images or clip=(X.min(axis=0), X.max(axis=0)) for tabular data."
                ),
            )
        ],
    }

    def __init__(
        self,
        k: int | None = None,
        *,
        value: str = "uniform",
        replace: bool = True,
        clip: ValueRange = (0.0, 1.0),
        random_state: RandomStateLike = None,
    ):
        super().__init__(clip=clip, random_state=random_state)
        self.k = k
        self.value = value
        self.replace = replace

    def pixels_per_image(self, n_pixels: int) -> int:
        """Number of pixel draws per image for an image of ``n_pixels`` pixels."""
        return int(self.k) if self.k is not None else max(1, round(math.sqrt(n_pixels)))

    def n_draws(self, n_pixels: int) -> int:
        """Deprecated name of :meth:`pixels_per_image` (``n_draws`` counts random
        copies elsewhere in robustsk); it stops working in 0.3."""
        warnings.warn(
            rename_message("RandomPixels", "n_draws()", "pixels_per_image()", "pixels_per_image("),
            FutureWarning,
            stacklevel=2,
        )
        return self.pixels_per_image(n_pixels)

    def _perturb(self, x, generator):
        bounds = cast(Bounds, check_range(self.clip))  # not None: its constraint refuses it
        low, high = bounds_like(bounds, x)
        n = x.shape[0]
        if x.ndim >= 3:  # (n, c, *spatial): a pixel is a spatial location
            flat = x.reshape(n, x.shape[1], -1)  # (n, c, p)
        else:
            flat = x.reshape(n, 1, -1)  # (n, 1, d)
        c, p = flat.shape[1], flat.shape[2]
        k = self.pixels_per_image(p)
        if not self.replace and k > p:
            raise ValueError(
                f"k must be at most the number of pixels ({p}) with replace=False, got {k}."
            )
        device = x.device
        if self.replace:
            pos = torch.randint(p, (n, 1, k), generator=generator, device=device)  # (n, 1, k)
        else:  # k distinct positions: those of the k largest of p uniform keys
            keys = torch.rand((n, 1, p), generator=generator, device=device)
            pos = keys.topk(k, dim=2, sorted=False).indices  # (n, 1, k)
        where = pos.expand(n, c, k)
        if isinstance(low, torch.Tensor):  # per-feature bounds: those of each chosen pixel
            vals = self._per_feature_values(flat, where, generator, low, high)
        elif self.value == "uniform":
            vals = torch.rand((n, c, k), generator=generator, device=device, dtype=x.dtype)
            vals.mul_(high - low).add_(low)  # (n, c, k)
        elif self.value == "salt_and_pepper":
            coin = torch.rand((n, 1, k), generator=generator, device=device) < 0.5
            vals = torch.where(coin, high, low).to(x.dtype).expand(n, c, k)
        elif self.value == "invert":
            vals = (high + low) - flat.gather(2, where)
        else:  # "white" or "black"
            level = high if self.value == "white" else low
            vals = torch.full((n, c, k), level, dtype=x.dtype, device=device)
        if self.replace and self.value in ("uniform", "salt_and_pepper") and device.type != "cpu":
            # A location drawn twice takes its later draw. The CPU's scatter writes draws in
            # order; elsewhere the order is unspecified, so repeats get that value first.
            vals = vals.gather(2, _last_draw_index(pos, p).expand(n, c, k))
        return flat.clone().scatter_(2, where, vals).reshape(x.shape)

    def _per_feature_values(self, flat, where, generator, low, high):
        """New values of the chosen pixels under per-feature bounds, shape ``(n, c, k)``.

        ``low`` and ``high`` have the shape of one sample; the random numbers
        are drawn as in the scalar case, then placed in each pixel's own range.
        """
        n, c, p = flat.shape
        k = where.shape[2]
        lo = low.reshape(1, c, p).expand(n, c, p).gather(2, where)  # (n, c, k)
        hi = high.reshape(1, c, p).expand(n, c, p).gather(2, where)
        if self.value == "uniform":
            vals = torch.rand((n, c, k), generator=generator, device=flat.device, dtype=flat.dtype)
            return torch.minimum(vals.mul_(hi - lo).add_(lo), hi)  # rounding never passes hi
        if self.value == "salt_and_pepper":
            coin = torch.rand((n, 1, k), generator=generator, device=flat.device) < 0.5
            return torch.where(coin, hi, lo)
        if self.value == "invert":
            return torch.minimum(torch.maximum((hi + lo) - flat.gather(2, where), lo), hi)
        return hi if self.value == "white" else lo


def _last_draw_index(pos: torch.Tensor, n_pixels: int) -> torch.Tensor:
    """For each draw, the index of the last draw at the same position.

    Parameters
    ----------
    pos : torch.Tensor of shape (n, 1, k), int64
        Drawn positions in ``[0, n_pixels)``.
    n_pixels : int
        Number of positions.

    Returns
    -------
    last : torch.Tensor of shape (n, 1, k), int64
        ``last[i, 0, j] = max{j' : pos[i, 0, j'] == pos[i, 0, j]}``; order-free
        (a max), hence the same on every device.
    """
    n, _, k = pos.shape
    last = torch.full((n, 1, n_pixels), -1, dtype=torch.int32, device=pos.device)  # (n, 1, p)
    draw = torch.arange(k, dtype=torch.int32, device=pos.device).expand(n, 1, k)
    last.scatter_reduce_(2, pos, draw, reduce="amax")
    return last.gather(2, pos).long()
