"""The network of a reproduction on each data set: the standardisation it gets, its toy width.

Colour data sets get their per-channel standardisation as the network's first layer
(:class:`robustsk.nets.Normalize`), so every eps, sigma and budget stays in pixel
units; a toy run (``--toy``) shrinks the paper's network to a fraction of its width,
so that a check of a CIFAR-10 folder takes a minute on a CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..nets import CIFAR10_MEAN, CIFAR10_STD, CNN7, SVHN_MEAN, SVHN_STD, VGG8, VGG16, PreActResNet18

#: Per-channel (mean, std) of each colour data set, given to the network's ``normalize``.
NORMALIZE: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "svhn": (SVHN_MEAN, SVHN_STD),
    "cifar10": (CIFAR10_MEAN, CIFAR10_STD),
    "doubled-cifar": (CIFAR10_MEAN, CIFAR10_STD),
}

#: Constructor arguments that make each CIFAR-size network about 1/16 of its width.
TOY_WIDTH: dict[type, dict[str, Any]] = {
    VGG16: {"width_factor": 1 / 16},
    VGG8: {"width_factor": 1 / 16},
    PreActResNet18: {"width": 4},
    CNN7: {"width": 4, "hidden_units": 32},
}


def network_kwargs(dataset: str, module: type, *, toy: bool = False) -> dict[str, Any]:
    """Constructor arguments of ``module`` on ``dataset``: its standardisation (colour data
    sets) and, for a toy run, its reduced width."""
    kwargs: dict[str, Any] = {}
    if dataset in NORMALIZE:
        kwargs["normalize"] = NORMALIZE[dataset]
    if toy:
        kwargs.update(TOY_WIDTH.get(module, {}))
    return kwargs


def module_params(module_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``module_kwargs`` as an estimator's ``module__*`` parameters."""
    return {f"module__{key}": value for key, value in module_kwargs.items()}


def network_name(module: type, module_kwargs: Mapping[str, Any]) -> str:
    """The network as a summary states it: ``"VGG16"``, ``"VGG16 (width_factor=0.0625)"``."""
    shown = ", ".join(f"{k}={v:g}" for k, v in module_kwargs.items() if k != "normalize")
    return f"{module.__name__} ({shown})" if shown else module.__name__


def format_radius(value: float) -> str:
    """A radius as people write it: ``8/255`` for a multiple of 1/255 below 1, else ``0.3``."""
    steps = value * 255
    if 0 < value < 1 and abs(steps - round(steps)) < 1e-6 and round(steps) * 10 % 255:
        return f"{round(steps)}/255"
    return f"{value:g}"
