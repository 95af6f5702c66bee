"""VGG16 and VGG8 with batch norm, the CIFAR-10 and SVHN networks of the robust active learning
experiments."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ._normalize import normalize_layers
from ._shapes import flat_size, image_shape

#: Channels of VGG16's thirteen convolutions; "M" is a 2x2 max pooling.
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
#: Channels of VGG8's six convolutions (VGG's first three stages).
_VGG8 = (64, 64, "M", 128, 128, "M", 256, 256, "M")


def _features(
    spec: tuple, c: int, size: int, width_factor: float, normalize, layers: list[nn.Module]
) -> int:
    """Append ``spec``'s ``Conv BN ReLU`` blocks and poolings to ``layers``; return the
    channels out. A pooling that would shrink the image below one pixel is left out."""
    layers += list(normalize_layers(normalize))
    c_in = c
    for v in spec:
        if v == "M":
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            continue
        c_out = max(1, round(int(v) * width_factor))
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
        c_in = c_out
    layers.append(nn.Flatten())
    return c_in


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
        layers: list[nn.Module] = []
        _features(_VGG16, c, min(h, w), width_factor, normalize, layers)
        features = nn.Sequential(*layers)
        n_flat = flat_size(features.eval(), (c, h, w))
        super().__init__(*features, nn.Linear(n_flat, int(n_classes)))
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)


class VGG8(nn.Sequential):
    """VGG8: six 3x3 convolutions with batch norm and two linear layers (eight weight layers).

    The robust active learning paper trains a "VGG8" on SVHN without giving its
    layout; this one is VGG's first three stages (``64 64 M 128 128 M 256 256 M``,
    each convolution ``Conv BN ReLU``) then ``Linear(hidden_units) ReLU
    Linear(n_classes)``: eight layers with weights, 4,096 features on 32 x 32
    input.

    Parameters
    ----------
    input_shape : tuple of int, default=(3, 32, 32)
        ``(c, h, w)`` of one image; estimators fill it in from the data.
    n_classes : int, default=10
        Number of outputs (logits).
    width_factor : float, default=1.0
        Multiplies every channel count and ``hidden_units``.
    hidden_units : int, default=256
        Width of the hidden linear layer (before ``width_factor``).
    normalize : tuple (mean, std) or None, default=None
        Per-channel standardisation as the first layer (:class:`Normalize`).
    """

    def __init__(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        n_classes: int = 10,
        width_factor: float = 1.0,
        hidden_units: int = 256,
        normalize: tuple[Sequence[float], Sequence[float]] | None = None,
    ):
        c, h, w = image_shape(input_shape, "VGG8")
        layers: list[nn.Module] = []
        _features(_VGG8, c, min(h, w), width_factor, normalize, layers)
        features = nn.Sequential(*layers)
        n_flat = flat_size(features.eval(), (c, h, w))
        hidden = max(1, round(int(hidden_units) * width_factor))
        super().__init__(
            *features, nn.Linear(n_flat, hidden), nn.ReLU(), nn.Linear(hidden, int(n_classes))
        )
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)
