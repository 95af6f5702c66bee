"""Bad values of a declared parameter, for the entry-point tests.

One generator for every entry point: the values the declaration's own constraints propose
(:func:`robustsk.utils.invalid_values`, as tests/test_declared_params.py uses for the
classes), plus the usual suspects (bools, None, NaN, infinities, negatives, zero, huge
numbers, strings, containers) that the declaration rejects. A value the declaration allows is
never proposed, so the test asserts exactly what the declaration promises; that the
declaration itself is right is what the tests with fixed values check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from robustsk.utils import Interval, invalid_values
from robustsk.utils._constraints import _as_constraint

#: Values no numeric parameter of robustsk takes everywhere; each is proposed only where the
#: declaration rejects it.
SUSPECTS: list[Any] = [
    True,
    False,
    np.True_,
    None,
    float("nan"),
    float("inf"),
    float("-inf"),
    -1,
    -0.5,
    0,
    0.0,
    1.5,
    10**18,
    1e300,
    "1",
    "",
    [1],
    (1, 2, 3),
    1 + 2j,
]


def _rejected(value: Any, constraints: list) -> bool:
    return not any(c.is_satisfied_by(value) for c in constraints)


def bad_values(allowed: list) -> list[Any]:
    """The declaration's own bad values plus the suspects it rejects (deduplicated)."""
    constraints = [_as_constraint(c) for c in allowed]
    candidates = invalid_values(allowed) + [v for v in SUSPECTS if _rejected(v, constraints)]
    return list({f"{type(v).__name__}:{v!r}": v for v in candidates}.values())


def outside(allowed: list) -> st.SearchStrategy:
    """Numbers outside every interval of the declaration (random, for hypothesis): below a
    lower end, above an upper end, fractional for an integer interval; filtered to what the
    declaration rejects."""
    constraints = [_as_constraint(c) for c in allowed]
    parts: list[st.SearchStrategy] = []
    for c in constraints:
        if not isinstance(c, Interval):
            continue
        if c.low is not None:
            if c.integer:
                top = int(np.ceil(c.low)) - (1 if c._include_low else 0)
                parts.append(st.integers(max_value=top, min_value=top - 10**9))
            else:
                parts.append(
                    st.floats(max_value=c.low, exclude_max=c._include_low, allow_nan=False)
                )
        if c.high is not None:
            if c.integer:
                bottom = int(np.floor(c.high)) + (1 if c._include_high else 0)
                parts.append(st.integers(min_value=bottom, max_value=bottom + 10**9))
            else:
                parts.append(
                    st.floats(min_value=c.high, exclude_min=c._include_high, allow_nan=False)
                )
        if c.integer:
            parts.append(
                st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: not float(v).is_integer())
            )
    if not parts:
        return st.nothing()
    return st.one_of(parts).filter(lambda v: _rejected(v, constraints))


@contextlib.contextmanager
def watched(net: Any) -> Iterator[dict]:
    """Count the forward passes of ``net``'s module (copies made inside, as MC dropout's,
    keep the hook) and record whether any saw a NaN or an infinity."""
    seen = {"calls": 0, "non_finite": False}

    def hook(module, args, kwargs):
        seen["calls"] += 1
        for x in (*args, *kwargs.values()):
            if isinstance(x, torch.Tensor) and x.is_floating_point() and not x.isfinite().all():
                seen["non_finite"] = True

    handle = net.module_.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()
