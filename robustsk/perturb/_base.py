"""The perturbation contract shared by every scheme in :mod:`robustsk.perturb`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..utils import (
    ParameterConstraints,
    RandomState,
    RandomStateLike,
    Range,
    check_batch,
    check_random_state_param,
    torch_generator,
    validate_params,
)
from ._range import ValueRange, check_range, check_range_shape, clamp_, warn_outside_range


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

    Valid range: ``clip`` is the range the data live in -- ``(0, 1)`` by
    default, ``(0, 255)`` for 8-bit images, or a pair of arrays with one bound
    per feature (broadcastable to the shape of one sample, e.g. ``(d,)`` for
    tabular rows or ``(c, 1, 1)`` per channel) for tabular or standardized
    data. Outputs stay in it. The first call that meets values outside it
    warns (a ``UserWarning``, once per perturbation object) and says how to
    pass ``clip``: data on another scale are otherwise silently clipped.

    Parameters
    ----------
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid range of the inputs (numbers, or per-feature arrays); outputs
        are clipped to it. ``None`` disables clipping where a scheme allows it.
    random_state : None, int, numpy or torch Generator, default=None
        Seed of the perturbation's random stream.

    Notes
    -----
    Each scheme declares what its parameters accept in
    ``_parameter_constraints`` (merged with its bases'); every call checks
    them before any work, so a bad value raises a ``ValueError`` or
    ``TypeError`` naming the parameter, the value and what is allowed.
    """

    #: What each parameter accepts; subclasses declare their own (merged with these).
    _parameter_constraints: ParameterConstraints = {
        "clip": [None, Range(check_range)],
        "random_state": [RandomState()],
    }

    def __init__(self, *, clip: ValueRange = (0.0, 1.0), random_state: RandomStateLike = None):
        self.clip = clip
        self.random_state = random_state

    def __call__(self, X: ArrayLike | torch.Tensor, *, random_state: RandomStateLike = None):
        return self._apply(X, random_state, warn=True)

    def _apply(self, X, random_state, *, warn: bool):
        """Validate, warn once about data outside ``clip`` (if ``warn``), perturb."""
        X = check_batch(X, "X")
        self._check_params()
        bounds = check_range(self.clip)
        check_random_state_param(random_state)
        as_numpy = not isinstance(X, torch.Tensor)
        x = _to_float_tensor(X)
        check_range_shape(bounds, tuple(x.shape[1:]))
        if warn and bounds is not None and not self.__dict__.get("_range_warned", False):
            who = f"{type(self).__name__}"
            if warn_outside_range(x, self.clip, who=who, stacklevel=3):
                self.__dict__["_range_warned"] = True
        gen = self._generator(x.device, random_state)
        out = self._perturb(x, gen)
        if as_numpy:
            return out.cpu().numpy()
        return out

    # -- checks -------------------------------------------------------------
    def _check_params(self, prefix: str = "") -> None:
        """Check the declared parameters (``_parameter_constraints``), before any work.

        Subclasses declare their parameters instead of overriding this. ``prefix``
        goes before each name in messages (``"perturbation."`` where the
        perturbation is itself a parameter).
        """
        validate_params(self, prefix=prefix)

    # -- hooks --------------------------------------------------------------
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
        return clamp_(x, check_range(self.clip))

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_streams", None)
        state.pop("_range_warned", None)
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
