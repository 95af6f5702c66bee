"""Number types of the command line's options: each refuses a bad value in one line.

Used as argparse ``type=``: ``--epochs 0`` fails with ``argument --epochs: must be a
positive integer, got '0'``. Imports nothing heavy.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def number(
    convert: Callable[[str], Any], what: str, ok: Callable[[Any], bool]
) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert`` the text, refuse it unless ``ok``, naming ``what``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


positive_int = number(int, "a positive integer", lambda v: v >= 1)
nonnegative_int = number(int, "an integer >= 0", lambda v: v >= 0)
positive_float = number(float, "a positive number", lambda v: math.isfinite(v) and v > 0)
port = number(int, "a port from 1 to 65535", lambda v: 1 <= v <= 65535)
