"""Writing result tables."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from typing import Any


def write_csv(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike) -> None:
    """Write a list of dicts as CSV; the header is the union of their keys, in order.

    Parameters
    ----------
    rows : list of dict
        The records.
    path : str or path-like
        The file.
    """
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
