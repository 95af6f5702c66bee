"""Type aliases for annotations of the public API."""

from __future__ import annotations

import numpy as np
import torch

#: What ``random_state`` parameters accept (see ``check_random_state_param``).
RandomStateLike = int | np.random.Generator | np.random.RandomState | torch.Generator | None

#: A valid input range ``(low, high)``, or None for no clipping.
ClipRange = tuple[float, float] | None
