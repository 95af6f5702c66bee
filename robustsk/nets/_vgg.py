"""VGG16 with batch norm, the CIFAR-10 network of the robust active learning experiments."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ._normalize import normalize_layers
from ._shapes import flat_size, image_shape

#: Channels of VGG16's thirteen convolutions; "M" is a 2x2 max pooling.
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG16(nn.Sequential):
    """VGG16 with batch norm after every convolution, and one linear classifier (CIFAR layout).

    Thirteen 3x3 convolutions (``Conv BN ReLU``) in five stages, each ending in
    a 2x2 max pooling, then ``Linear(n_classes)`` on the flattened features
    (512 of them on 32 x 32 input). Images smaller than 32 px lose the last
    poolings rather than shrink below one pixel.

    Parameters
    ----------
    input_shape : tuple of int, default=(3, 32, 32)
        ``(c, h, w)`` of one image; estimators fill it in from the data.
    n_classes : int, default=10
        Number of outputs (logits).
    width_factor : float, default=1.0
        Multiplies every channel count (0.25 gives a quarter-width VGG16 for
        quick runs).
    normalize : tuple (mean, std) or None, default=None
        Per-channel standardisation as the first layer (:class:`Normalize`).
    """

    def __init__(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        n_classes: int = 10,
        width_factor: float = 1.0,
        normalize: tuple[Sequence[float], Sequence[float]] | None = None,
    ):
        c, h, w = image_shape(input_shape, "VGG16")
        layers: list[nn.Module] = list(normalize_layers(normalize))
        c_in, size = c, min(h, w)
        for v in _VGG16:
            if v == "M":
                if size >= 2:
                    layers.append(nn.MaxPool2d(2))
                    size //= 2
                continue
            c_out = max(1, round(int(v) * width_factor))
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
            c_in = c_out
        layers.append(nn.Flatten())
        features = nn.Sequential(*layers)
        n_flat = flat_size(features.eval(), (c, h, w))
        super().__init__(*features, nn.Linear(n_flat, int(n_classes)))
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)
