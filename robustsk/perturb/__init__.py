"""Random perturbation schemes: pure, vectorized over the batch, seeded, clipped.

Every scheme is a :class:`Perturbation`: ``scheme(X)`` returns a perturbed
copy of the batch with the input's type, shape, device and valid range. The
valid range is the ``clip`` parameter: ``(0, 1)`` by default, ``(0, 255)`` for
8-bit images, or per-feature arrays for tabular and standardized data; data
outside it get a warning.
"""

from ._base import Perturbation
from ._corruption import CORRUPTIONS, Corruption
from ._gaussian import GaussianNoise, add_gaussian_noise
from ._ladder import make_sigma_ladder, noise_ladder
from ._random_pixels import RandomPixels

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
