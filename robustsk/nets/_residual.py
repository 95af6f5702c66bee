"""A residual block the certified bounds follow: ``body(x) + shortcut(x)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._normalize import normalize_layers
from ._shapes import flat_size, image_shape


class Residual(nn.Module):
    """``body(x) + shortcut(x)``, with the identity as the default shortcut.

    The one skip connection the bounds of :mod:`robustsk.certify` go through
    (IBP, CROWN-IBP and CROWN, sound and equal to auto_LiRPA's): both branches
    are bounded from the block's input and their bounds added (IBP), or the
    linear coefficients of the block's output are carried back through both
    branches and summed (CROWN). ``body`` and ``shortcut`` are
    :class:`torch.nn.Sequential` containers of the layers the bounds support
    (residual blocks included); any other skip connection is refused.

    Parameters
    ----------
    body : torch.nn.Sequential
        The residual branch ``f``.
    shortcut : torch.nn.Sequential or None, default=None
        The projection of the shortcut (e.g. a 1x1 convolution when the block
        changes width or stride); None is the identity.
    """

    def __init__(self, body: nn.Sequential, shortcut: nn.Sequential | None = None):
        super().__init__()
        if not isinstance(body, nn.Sequential):
            raise TypeError(f"body must be a torch.nn.Sequential, got {type(body).__name__}.")
        if shortcut is not None and not isinstance(shortcut, nn.Sequential):
            raise TypeError(
                f"shortcut must be a torch.nn.Sequential or None, got {type(shortcut).__name__}."
            )
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class ResNet(nn.Sequential):
    """A small ResNet of :class:`Residual` blocks, for certified training.

    ``Conv(w) ReLU``, then per stage ``n_blocks`` blocks ``x + Conv BN ReLU Conv BN``
    followed by a ReLU (the first block of a later stage strides by 2 and doubles
    the width, with a 1x1 convolution and batch norm as its shortcut), then a
    global average pooling, ``Linear(hidden) ReLU Linear(n_classes)``. Only
    layers the bounds follow (batch norm in evaluation mode), so
    :class:`~robustsk.estimators.CertifiedBudgetClassifier` trains it.

    Parameters
    ----------
    input_shape : tuple of int, default=(3, 32, 32)
        ``(c, h, w)`` of one image; estimators fill it in from the data.
    n_classes : int, default=10
        Number of outputs (logits).
    width : int, default=16
        Channels of the first stage.
    n_stages : int, default=2
        Stages (each after the first halves the resolution and doubles the width).
    n_blocks : int, default=1
        Residual blocks per stage.
    hidden_units : int, default=128
        Width of the hidden linear layer.
    normalize : tuple (mean, std) or None, default=None
        Per-channel standardisation as the first layer (:class:`Normalize`).
    """

    def __init__(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        n_classes: int = 10,
        width: int = 16,
        n_stages: int = 2,
        n_blocks: int = 1,
        hidden_units: int = 128,
        normalize: tuple[Sequence[float], Sequence[float]] | None = None,
    ):
        c, h, w = image_shape(input_shape, "ResNet")
        k = int(width)
        layers: list[nn.Module] = [*normalize_layers(normalize), nn.Conv2d(c, k, 3, 1, 1)]
        layers.append(nn.ReLU())
        size = min(h, w)
        for stage in range(int(n_stages)):
            for block in range(int(n_blocks)):
                down = stage > 0 and block == 0 and size >= 2
                c_in, c_out = (k, 2 * k) if stage > 0 and block == 0 else (k, k)
                stride = 2 if down else 1
                body = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 3, stride, 1),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(),
                    nn.Conv2d(c_out, c_out, 3, 1, 1),
                    nn.BatchNorm2d(c_out),
                )
                shortcut = (
                    nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride), nn.BatchNorm2d(c_out))
                    if (c_in != c_out or stride != 1)
                    else None
                )
                layers += [Residual(body, shortcut), nn.ReLU()]
                k, size = c_out, (size + 1) // 2 if down else size
        features = nn.Sequential(*layers)
        with torch.no_grad():
            spatial = features.eval()(torch.zeros(1, c, h, w)).shape[-2:]
        features.append(nn.AvgPool2d(tuple(spatial)))
        features.append(nn.Flatten())
        n_flat = flat_size(features.eval(), (c, h, w))
        super().__init__(
            *features,
            nn.Linear(n_flat, int(hidden_units)),
            nn.ReLU(),
            nn.Linear(int(hidden_units), int(n_classes)),
        )
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)
