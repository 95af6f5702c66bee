"""Turning a ``random_state`` into the generators numpy and torch need.

robustsk never touches global random state: every stochastic function takes a
``random_state`` and derives its own generator from it here.
"""

from __future__ import annotations

import numbers
from typing import Any, cast

import numpy as np
import torch

from ._types import RandomStateLike

_MAX_SEED = 2**31 - 1


def check_random_state_param(random_state: Any, name: str = "random_state") -> RandomStateLike:
    """Validate a ``random_state`` argument and return it unchanged.

    Accepted: ``None``, a non-negative int, a :class:`numpy.random.Generator`,
    a :class:`numpy.random.RandomState` or a :class:`torch.Generator`.
    """
    if random_state is None or isinstance(
        random_state, (np.random.Generator, np.random.RandomState, torch.Generator)
    ):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"{name} must be a non-negative int, got {random_state!r}.")
        return cast(int, random_state)
    raise TypeError(
        f"{name} must be None, an int, a numpy Generator/RandomState or a "
        f"torch.Generator, got {type(random_state).__name__}."
    )


def draw_seed(random_state: RandomStateLike) -> int:
    """Return an int seed derived from ``random_state`` (fresh entropy for None)."""
    check_random_state_param(random_state)
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] & _MAX_SEED)
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(_MAX_SEED))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(_MAX_SEED))
    # torch.Generator
    gen = cast(torch.Generator, random_state)
    return int(torch.randint(_MAX_SEED, (1,), generator=gen).item())


def numpy_generator(random_state: RandomStateLike) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``random_state``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(draw_seed(random_state))


def torch_generator(
    random_state: RandomStateLike, device: str | torch.device = "cpu"
) -> torch.Generator:
    """Return a :class:`torch.Generator` on ``device`` for ``random_state``.

    A :class:`torch.Generator` already on ``device`` is returned as is, so a
    caller can share one stream across calls.
    """
    device = torch.device(device)
    if isinstance(random_state, torch.Generator) and random_state.device.type == device.type:
        return random_state
    gen = torch.Generator(device=device)
    gen.manual_seed(draw_seed(random_state))
    return gen
