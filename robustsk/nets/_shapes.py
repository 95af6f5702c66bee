"""Input-shape handling shared by the reference networks."""

from __future__ import annotations

import numbers

import torch
from torch import nn


def as_input_shape(input_shape) -> tuple[int, ...]:
    """Normalize ``input_shape`` (an int for flat data, or a tuple) to a tuple of ints."""
    if isinstance(input_shape, numbers.Integral):
        shape: tuple[int, ...] = (int(input_shape),)
    else:
        try:
            shape = tuple(int(s) for s in input_shape)
        except TypeError:
            raise TypeError(
                f"input_shape must be an int or a tuple of ints, got {input_shape!r}."
            ) from None
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must hold positive sizes, got {input_shape!r}.")
    return shape


def image_shape(input_shape, name: str) -> tuple[int, int, int]:
    """Return ``(c, h, w)`` for a convolutional net, with a clear error otherwise."""
    shape = as_input_shape(input_shape)
    if len(shape) == 2:
        shape = (1,) + shape
    if len(shape) != 3:
        raise ValueError(
            f"{name} needs image input: input_shape must be (c, h, w) or (h, w), got "
            f"{input_shape!r}. Pass images of shape (n, c, h, w), or use MLP for flat data."
        )
    return shape


def flat_size(layers: nn.Module, shape) -> int:
    """Number of features ``layers`` outputs for one input of ``shape``."""
    with torch.no_grad():
        return int(layers(torch.zeros((1,) + tuple(shape))).numel())
