"""The 15 common corruptions of ImageNet-C, on images of any size, through corrupt-tta."""

from __future__ import annotations

import contextlib
from typing import cast

import numpy as np
import torch

from ..utils import (
    Interval,
    Options,
    ParameterConstraints,
    RandomStateLike,
    Range,
    numpy_generator,
)
from ._base import Perturbation
from ._range import Bounds, ValueRange, check_range, from_unit, to_unit

#: The 15 corruptions of Hendrycks & Dietterich (2019), in their usual order.
CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)

# Corruptions whose formula is per-pixel: computed here, vectorized over the
# batch and seeded, with corrupt-tta's constants.
_GAUSSIAN = (0.08, 0.12, 0.18, 0.26, 0.38)
_SHOT = (60, 25, 12, 5, 3)
_IMPULSE = (0.03, 0.06, 0.09, 0.17, 0.27)
_CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)


@contextlib.contextmanager
def _seeded_global_numpy(seed: int):
    """Seed numpy's global RNG for corrupt-tta, then restore the caller's state."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _elastic_transform(image, severity):
    """corrupt-tta's elastic transform with its pixel constants scaled to the image.

    The published constants are in pixels of a 224 px image (an affine jitter
    of up to 22 px); on 8x8 or 28x28 images they would tear the image apart,
    so they are scaled by ``min(h, w) / 224``.
    """
    import cv2
    from scipy.ndimage import map_coordinates
    from skimage.filters import gaussian

    c = [(2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02), (0.12, 0.01, 0.02)][
        severity - 1
    ]
    image = np.array(image, dtype=np.float32) / 255.0
    h, w = image.shape[:2]
    size = min(h, w)
    c = tuple(v * size for v in c)
    center = np.float32((h, w)) // 2
    square = size // 3
    pts1 = np.float32([center + square, [center[0] + square, center[1] - square], center - square])
    pts2 = pts1 + np.random.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    image = cv2.warpAffine(
        image, cv2.getAffineTransform(pts1, pts2), (w, h), borderMode=cv2.BORDER_REFLECT_101
    )
    dx = (
        gaussian(np.random.uniform(-1, 1, size=(h, w)), c[1], mode="reflect", truncate=3) * c[0]
    ).astype(np.float32)
    dy = (
        gaussian(np.random.uniform(-1, 1, size=(h, w)), c[1], mode="reflect", truncate=3) * c[0]
    ).astype(np.float32)
    x, y = np.meshgrid(np.arange(w), np.arange(h))
    idx = np.reshape(y + dy, (-1, 1)), np.reshape(x + dx, (-1, 1))
    out = np.stack(
        [
            map_coordinates(image[..., i], idx, order=1, mode="reflect").reshape(h, w)
            for i in range(image.shape[2])
        ],
        axis=-1,
    )
    return np.clip(out, 0, 1) * 255


class Corruption(Perturbation):
    """One of the 15 common corruptions (ImageNet-C) at a given severity.

    Works on grayscale and RGB images of any size from 8x8 up: a batch of
    shape ``(n, c, h, w)`` with ``c`` in {1, 3}, or ``(n, h, w)`` grayscale.
    The output has the input's shape, type and valid range. Grayscale images
    are corrupted as RGB with equal channels and averaged back.

    The noise corruptions (Gaussian, shot, impulse) and contrast are computed
    here on the whole batch with corrupt-tta's constants; the others call
    corrupt-tta once per image under a seed drawn from ``random_state`` (numpy's
    global state is restored afterwards). Blur radii are in pixels, as in
    ImageNet-C, so they are relatively stronger on small images; the elastic
    transform's constants are scaled to the image size.

    Any valid range: the corruptions' formulas (and corrupt-tta's) assume
    images in [0, 1], so the batch is mapped from ``clip`` onto [0, 1],
    corrupted there and mapped back. Severity constants -- the noise standard
    deviations, brightness shifts, fog strength -- are therefore fractions of
    the range ``high - low``: ``gaussian_noise`` at severity 3 adds noise of
    standard deviation 0.18 of the range, 0.18 on [0, 1] data and 45.9 on
    [0, 255] data, so the same images on either scale get the same
    corruption. Values outside ``clip`` are clipped into it first (with a
    warning, once per object). Per-channel or per-pixel bounds (arrays
    broadcastable to one image's shape, e.g. ``(c, 1, 1)`` for per-channel
    standardized images) map each value by its own bounds.

    Parameters
    ----------
    name : str
        One of :data:`CORRUPTIONS`.
    severity : int, default=3
        Strength, 1 to 5.
    clip : tuple (low, high), default=(0.0, 1.0)
        Valid range of the inputs, e.g. ``(0, 255)`` for 8-bit images:
        numbers, or arrays broadcastable to one image's shape. Must not be
        None (the corruptions are defined relative to the range).
    random_state : None, int, numpy or torch Generator, default=None
        Seed of the perturbation's random stream.

    Examples
    --------
    >>> import numpy as np
    >>> from robustsk.perturb import Corruption
    >>> X = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    >>> Corruption("fog", severity=2, random_state=0)(X).shape
    (2, 1, 8, 8)
    """

    _parameter_constraints: ParameterConstraints = {
        "name": [Options(frozenset(CORRUPTIONS))],
        "severity": [Interval(1, 5, integer=True)],
        "clip": [
            Range(
                check_range,
                none_error=(
                    "clip must be a pair (low, high) for Corruption, got None: corruptions are "
                    "defined relative to the valid range (brightness, contrast, noise levels "
                    "are fractions of it). Pass the data's range, e.g. clip=(0, 255) for "
                    "8-bit images."
                ),
            )
        ],
    }

    def __init__(
        self,
        name: str,
        severity: int = 3,
        *,
        clip: ValueRange = (0.0, 1.0),
        random_state: RandomStateLike = None,
    ):
        super().__init__(clip=clip, random_state=random_state)
        self.name = name
        self.severity = severity

    def _perturb(self, x, generator):
        squeeze = x.ndim == 3
        if squeeze:
            x = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[1] not in (1, 3) or min(x.shape[2:]) < 2:
            raise ValueError(
                "X must be images of shape (n, c, h, w) with c in {1, 3} and h, w >= 2, or "
                f"(n, h, w); got shape {tuple(x.shape) if not squeeze else tuple(x.shape[1:])}."
            )
        bounds = cast(Bounds, check_range(self.clip))  # not None: its constraint refuses it
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=x.device).item())
        rng = numpy_generator(seed)
        unit = to_unit(x.detach().cpu().numpy(), bounds)  # (n, c, h, w) in [0, 1]
        out = self._corrupt_unit(unit, rng)  # (n, c, h, w) in [0, 1]
        out = torch.from_numpy(from_unit(out, bounds)).to(device=x.device, dtype=x.dtype)
        return out.squeeze(1) if squeeze else out

    def _corrupt_unit(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        s = self.severity - 1
        if self.name == "gaussian_noise":
            return np.clip(x + rng.normal(scale=_GAUSSIAN[s], size=x.shape), 0, 1)
        if self.name == "shot_noise":
            return np.clip(rng.poisson(x * _SHOT[s]) / _SHOT[s], 0, 1)
        if self.name == "impulse_noise":  # salt and pepper, half each, per value
            hit = rng.random(x.shape) < _IMPULSE[s]
            salt = rng.random(x.shape) < 0.5
            return np.where(hit, salt.astype(x.dtype), x)
        if self.name == "contrast":
            means = x.mean(axis=(1, 2, 3), keepdims=True)
            return np.clip((x - means) * _CONTRAST[s] + means, 0, 1)
        return self._corrupt_per_image(x, rng)

    def _corrupt_per_image(self, x, rng):
        import corrupt_tta

        n, c = x.shape[:2]
        hwc = np.transpose(x, (0, 2, 3, 1)) * 255.0  # (n, h, w, c)
        if c == 1:
            hwc = np.repeat(hwc, 3, axis=3)
        seeds = rng.integers(2**31 - 1, size=n)
        out = np.empty(hwc.shape, dtype=np.float64)
        for i in range(n):  # corrupt-tta works on one image at a time
            with _seeded_global_numpy(int(seeds[i])):
                if self.name == "elastic_transform":
                    res = _elastic_transform(hwc[i], self.severity)
                else:
                    res = corrupt_tta.corrupt(
                        hwc[i].astype(np.float32), self.severity, corruption_name=self.name
                    )
            out[i] = np.asarray(res, dtype=np.float64).reshape(hwc.shape[1:])
        out = np.clip(out / 255.0, 0, 1)
        if c == 1:
            out = out.mean(axis=3, keepdims=True)
        return np.transpose(out, (0, 3, 1, 2))
