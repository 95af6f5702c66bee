"""What the reproductions' multi-seed runners share: the seeds' configurations and the spread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from ..utils import check_number


def seed_configs(cfg: Any, seeds: int) -> Iterator[tuple[int, Any]]:
    """``(k, cfg with random_state = cfg.random_state + k)`` for each of ``seeds`` seeds."""
    check_number(seeds, "seeds", low=1, integer=True)
    for k in range(seeds):
        yield k, replace(cfg, random_state=cfg.random_state + k)


def sample_sd(values: np.ndarray) -> float:
    """Sample standard deviation (``ddof=1``) of the seeds' values; 0 for one seed."""
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0
