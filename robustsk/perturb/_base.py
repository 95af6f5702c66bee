"""The perturbation contract shared by every scheme in :mod:`robustsk.perturb`."""

from __future__ import annotations

from ..utils._types import ClipRange, RandomStateLike

from typing import Any
from numpy.typing import ArrayLike

import numpy as np
import torch

from ..utils import check_batch, check_clip, check_random_state_param, torch_generator


class Perturbation:
    """Base class of random perturbation schemes.

    A perturbation is a callable ``perturbation(X, *, random_state=None)`` that
    returns a perturbed copy of the batch ``X`` with the same type (numpy array
    or torch tensor), shape, device and valid range. Subclasses implement
    :meth:`_perturb` on a float tensor.

    Randomness: a call with ``random_state=None`` draws from the perturbation's
    own stream, created from the ``random_state`` given at construction, so
    successive calls differ but the whole sequence is reproducible. A call
    with an explicit ``random_state`` uses that instead.

    Parameters
    ----------
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid range of the inputs; outputs are clipped to it.
    random_state : None, int, numpy or torch Generator, default=None
        Seed of the perturbation's random stream.
    """

    def __init__(self, *, clip: ClipRange = (0.0, 1.0), random_state: RandomStateLike = None):
        self.clip = clip
        self.random_state = random_state

    def __call__(self, X: ArrayLike | torch.Tensor, *, random_state: RandomStateLike = None):
        X = check_batch(X, "X")
        check_clip(self.clip)
        check_random_state_param(random_state)
        self._check_params()
        as_numpy = not isinstance(X, torch.Tensor)
        x = _to_float_tensor(X)
        gen = self._generator(x.device, random_state)
        out = self._perturb(x, gen)
        if as_numpy:
            return out.cpu().numpy()
        return out

    # -- hooks --------------------------------------------------------------
    def _check_params(self):
        """Validate constructor parameters (called before any work)."""

    def _perturb(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------
    def _generator(self, device, random_state):
        if random_state is not None:
            return torch_generator(random_state, device)
        streams = self.__dict__.setdefault("_streams", {})
        key = str(device)
        if key not in streams:
            check_random_state_param(self.random_state)
            # Each device gets its own stream derived from the constructor's seed.
            streams[key] = torch_generator(self.random_state, device)
        return streams[key]

    def _clip(self, x: torch.Tensor) -> torch.Tensor:
        clip = check_clip(self.clip)
        if clip is None:
            return x
        return x.clamp_(clip[0], clip[1])

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_streams", None)
        return state

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters, as in scikit-learn."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}


def _to_float_tensor(X: ArrayLike | torch.Tensor) -> torch.Tensor:
    if isinstance(X, torch.Tensor):
        return X if torch.is_floating_point(X) else X.float()
    arr = np.asarray(X)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr))


def expand_per_sample(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a ``(batch,)`` tensor to broadcast over the other dims of ``x``."""
    return values.reshape((-1,) + (1,) * (x.ndim - 1))
