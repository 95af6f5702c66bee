"""LeNet-5, the MNIST network of the robust active learning experiments."""

from __future__ import annotations

from torch import nn

from ._shapes import flat_size, image_shape


class LeNet5(nn.Sequential):
    """LeNet-5 (two 5x5 convolutions with max pooling, three linear layers).

    On 28x28 input it is the classic layout (6 and 16 channels, 120-84-n).
    Images smaller than 16 px (the 8x8 digits) get padding in the second
    convolution so that the spatial size never drops below 1.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
        ``(c, h, w)`` of one image; estimators fill it in from the data.
    n_classes : int, default=10
        Number of outputs (logits).
    """

    def __init__(self, input_shape: tuple[int, ...] = (1, 28, 28), n_classes: int = 10):
        c, h, w = image_shape(input_shape, "LeNet5")
        pad2 = 0 if min(h, w) >= 16 else 2
        features = nn.Sequential(
            nn.Conv2d(c, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(6, 16, 5, padding=pad2),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Flatten(),
        )
        n_flat = flat_size(features, (c, h, w))
        super().__init__(
            *features,
            nn.Linear(n_flat, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, int(n_classes)),
        )
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)
