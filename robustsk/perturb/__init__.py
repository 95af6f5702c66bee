"""Random perturbation schemes: pure, vectorized over the batch, seeded, clipped.

Every scheme is a :class:`Perturbation`: ``scheme(X)`` returns a perturbed
copy of the batch with the input's type, shape, device and valid range. The
valid range is the ``clip`` parameter: ``(0, 1)`` by default, ``(0, 255)`` for
8-bit images, or per-feature arrays for tabular and standardized data; data
outside it get a warning.
"""

# Shared with the other subpackages, not public API (hence not in __all__): per-sample
# expansion and the valid-range helpers behind every ``clip`` parameter.
from ._base import Perturbation, expand_per_sample as expand_per_sample
from ._corruption import CORRUPTIONS, Corruption
from ._gaussian import GaussianNoise, add_gaussian_noise
from ._ladder import make_sigma_ladder, noise_ladder
from ._random_pixels import RandomPixels
from ._range import (
    Bounds as Bounds,
    ValueRange as ValueRange,
    check_range as check_range,
    check_range_shape as check_range_shape,
    clamp_ as clamp_,
    from_unit as from_unit,
    is_per_feature as is_per_feature,
    outside_range as outside_range,
    to_unit as to_unit,
    warn_outside_range as warn_outside_range,
)

__all__ = [
    "CORRUPTIONS",
    "Corruption",
    "GaussianNoise",
    "Perturbation",
    "RandomPixels",
    "add_gaussian_noise",
    "make_sigma_ladder",
    "noise_ladder",
]
