"""A multi-layer perceptron that takes flat or image input."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from ._shapes import as_input_shape


class MLP(nn.Sequential):
    """Fully connected ReLU network; the default module of robustsk estimators.

    Images are flattened first, so the same net serves ``(n, d)`` and
    ``(n, c, h, w)`` input. It is a plain :class:`torch.nn.Sequential` of
    ``Flatten``, ``Linear``, ``ReLU`` (and ``Dropout``) layers.

    Parameters
    ----------
    input_shape : int or tuple of int
        Shape of one example, e.g. ``64`` or ``(1, 8, 8)``. Estimators fill it
        in from the training data.
    n_classes : int
        Number of outputs (logits). Estimators fill it in from ``y``.
    hidden_units : tuple of int, default=(128,)
        Width of each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden layer (0 disables it).
    """

    def __init__(
        self,
        input_shape: int | tuple[int, ...],
        n_classes: int,
        hidden_units: Sequence[int] = (128,),
        dropout: float = 0.0,
    ):
        shape = as_input_shape(input_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(shape)
        for units in hidden_units:
            layers += [nn.Linear(width, int(units)), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(units)
        layers.append(nn.Linear(width, int(n_classes)))
        super().__init__(*layers)
        self.input_shape = shape
        self.n_classes = int(n_classes)
