"""PreAct ResNet-18, the CIFAR-10 network of robust training and of AQPL's experiments."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ._normalize import normalize_layers
from ._shapes import image_shape


class PreActBlock(nn.Module):
    """A pre-activation basic block: ``BN ReLU Conv BN ReLU Conv`` plus the shortcut.

    The shortcut is the identity, or a 1x1 convolution of the pre-activated input
    when the block changes the stride or the width (He et al. 2016).

    Parameters
    ----------
    in_planes : int
        Input channels.
    planes : int
        Output channels.
    stride : int, default=1
        Stride of the first convolution (and of the projection shortcut).
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = (
            nn.Conv2d(in_planes, planes, 1, stride, bias=False)
            if stride != 1 or in_planes != planes
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(nn.Module):
    """PreAct ResNet-18 (He et al. 2016) in the CIFAR layout used for robust training.

    A 3x3 stem, four stages of two :class:`PreActBlock` (64, 128, 256, 512
    channels, strides 1, 2, 2, 2), a final ``BN ReLU`` (as in Rice et al. 2020),
    global average pooling and one linear layer. Its skip connections make it a
    network for noise and adversarial training and for the strategies and
    metrics; certified bounds refuse it.

    Parameters
    ----------
    input_shape : tuple of int, default=(3, 32, 32)
        ``(c, h, w)`` of one image; estimators fill it in from the data.
    n_classes : int, default=10
        Number of outputs (logits).
    width : int, default=64
        Channels of the first stage (doubled at each later stage).
    normalize : tuple (mean, std) or None, default=None
        Per-channel standardisation as the first layer (:class:`Normalize`).
    """

    def __init__(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        n_classes: int = 10,
        width: int = 64,
        normalize: tuple[Sequence[float], Sequence[float]] | None = None,
    ):
        super().__init__()
        c, h, w = image_shape(input_shape, "PreActResNet18")
        k = int(width)
        self.normalize = nn.Sequential(*normalize_layers(normalize))
        self.stem = nn.Conv2d(c, k, 3, 1, 1, bias=False)
        blocks, in_planes = [], k
        for planes, stride in ((k, 1), (2 * k, 2), (4 * k, 2), (8 * k, 2)):
            blocks += [PreActBlock(in_planes, planes, stride), PreActBlock(planes, planes, 1)]
            in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(in_planes)
        self.linear = nn.Linear(in_planes, int(n_classes))
        self.input_shape = (c, h, w)
        self.n_classes = int(n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.stem(self.normalize(x)))
        out = F.relu(self.bn(out))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))
