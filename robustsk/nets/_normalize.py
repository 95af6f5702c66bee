"""Per-channel standardisation as a layer: every eps, sigma and budget stays in pixels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

#: Per-channel mean and standard deviation of the CIFAR-10 training images (in [0, 1]).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)
#: Per-channel mean and standard deviation of the SVHN training images (in [0, 1]).
SVHN_MEAN = (0.4377, 0.4438, 0.4728)
SVHN_STD = (0.1980, 0.2010, 0.1970)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel: the first layer of a network trained on standardized data.

    With the standardisation inside the module, the data, the attacks' ``eps``,
    the noise's ``sigma``, the certified budgets and the clip range all stay in
    pixel units (``[0, 1]``); the bounds of :mod:`robustsk.certify` go through
    it exactly (it is an affine map per channel).

    Parameters
    ----------
    mean : sequence of float
        One value per channel (or one for all).
    std : sequence of float
        One positive value per channel (or one for all).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean_t.numel() != std_t.numel() or mean_t.numel() == 0:
            raise ValueError(
                f"mean and std must have one value per channel each, got {len(mean_t)} and "
                f"{len(std_t)} values."
            )
        if not torch.isfinite(mean_t).all() or not (std_t > 0).all():
            raise ValueError(f"std must be positive and mean finite, got mean={mean}, std={std}.")
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    def _view(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return v.view(-1, *([1] * (x.dim() - 2))) if x.dim() > 2 else v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._view(self.mean, x)) / self._view(self.std, x)

    def extra_repr(self) -> str:
        return f"mean={self.mean.tolist()}, std={self.std.tolist()}"


def normalize_layers(normalize: Any) -> list[nn.Module]:
    """``[Normalize(mean, std)]`` for ``normalize=(mean, std)``, ``[]`` for None."""
    if normalize is None:
        return []
    try:
        mean, std = normalize
    except (TypeError, ValueError):
        raise TypeError(
            f"normalize must be None or a pair (mean, std), got {normalize!r}."
        ) from None
    return [Normalize(mean, std)]
