"""A small convolutional net built only from layers the bound propagators support."""

from __future__ import annotations

from torch import nn

from ._shapes import flat_size, image_shape


class SmallCNN(nn.Sequential):
    """Two strided 4x4 convolutions and two linear layers (the CROWN-IBP "small" CNN).

    Only ``Conv2d``, ``ReLU``, ``Flatten`` and ``Linear`` layers, so interval
    and CROWN-IBP bounds apply to it directly.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
        ``(c, h, w)`` of one image; estimators fill it in from the data.
    n_classes : int, default=10
        Number of outputs (logits).
    channels : tuple of two int, default=(16, 32)
        Channels of the two convolutions.
    hidden_units : int, default=100
        Width of the hidden linear layer.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...] = (1, 28, 28),
        n_classes: int = 10,
        channels: tuple[int, int] = (16, 32),
        hidden_units: int = 100,
    ):
        c, h, w = image_shape(input_shape, "SmallCNN")
        features = nn.Sequential(
            nn.Conv2d(c, channels[0], 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels[0], channels[1], 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        n_flat = flat_size(features, (c, h, w))
        super().__init__(
            *features,
            nn.Linear(n_flat, int(hidden_units)),
            nn.ReLU(),
            nn.Linear(int(hidden_units), int(n_classes)),
        )
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)
