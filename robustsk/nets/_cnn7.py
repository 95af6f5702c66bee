"""CNN-7: the certified-training network of CIFAR-10 (five convolutions with batch norm)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ._normalize import normalize_layers
from ._shapes import flat_size, image_shape


class CNN7(nn.Sequential):
    """The 7-layer CNN of certified training on CIFAR-10 (Shi et al. 2021), batch norm included.

    ``Conv(w) BN ReLU, Conv(w) BN ReLU, Conv(2w, stride 2) BN ReLU, Conv(2w) BN ReLU,
    Conv(2w) BN ReLU, Linear(hidden) BN ReLU, Linear(n_classes)`` with 3x3 kernels.
    Only layers the bounds of :mod:`robustsk.certify` follow (with batch norm in
    evaluation mode, as in certified training), so
    :class:`~robustsk.estimators.CertifiedBudgetClassifier` trains it.

    Parameters
    ----------
    input_shape : tuple of int, default=(3, 32, 32)
        ``(c, h, w)`` of one image; estimators fill it in from the data.
    n_classes : int, default=10
        Number of outputs (logits).
    width : int, default=64
        Channels of the first two convolutions (``2 * width`` after them).
    hidden_units : int, default=512
        Width of the hidden linear layer.
    normalize : tuple (mean, std) or None, default=None
        Per-channel standardisation as the first layer (:class:`Normalize`), e.g.
        ``(CIFAR10_MEAN, CIFAR10_STD)``; eps and budgets stay in pixel units.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        n_classes: int = 10,
        width: int = 64,
        hidden_units: int = 512,
        normalize: tuple[Sequence[float], Sequence[float]] | None = None,
    ):
        c, h, w = image_shape(input_shape, "CNN7")
        k = int(width)

        def block(c_in, c_out, stride=1):
            return [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out), nn.ReLU()]

        features = nn.Sequential(
            *normalize_layers(normalize),
            *block(c, k),
            *block(k, k),
            *block(k, 2 * k, stride=2),
            *block(2 * k, 2 * k),
            *block(2 * k, 2 * k),
            nn.Flatten(),
        )
        n_flat = flat_size(features.eval(), (c, h, w))
        super().__init__(
            *features,
            nn.Linear(n_flat, int(hidden_units)),
            nn.BatchNorm1d(int(hidden_units)),
            nn.ReLU(),
            nn.Linear(int(hidden_units), int(n_classes)),
        )
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)
