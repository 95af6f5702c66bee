"""The layer sequence that bound propagation walks, and each layer's affine form."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Layers bounds propagate through (Dropout is the identity in evaluation).
SUPPORTED = (
    nn.Linear,
    nn.Conv2d,
    nn.ReLU,
    nn.Flatten,
    nn.AvgPool2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Dropout,
    nn.Identity,
)


def sequential_layers(module) -> list:
    """The layers of a (possibly nested) :class:`torch.nn.Sequential`, in order.

    Raises a :class:`TypeError` naming the first layer bounds cannot go
    through, or when ``module`` is not sequential (its ``forward`` could do
    anything).
    """
    if not isinstance(module, nn.Sequential):
        raise TypeError(
            f"bounds need a torch.nn.Sequential of {_names()}; got {type(module).__name__}. "
            "robustsk's MLP and SmallCNN are sequential."
        )
    layers = []
    for layer in module:
        if isinstance(layer, nn.Sequential):
            layers += sequential_layers(layer)
        elif isinstance(layer, (nn.Dropout, nn.Identity)):
            continue
        elif isinstance(layer, SUPPORTED):
            _check_layer(layer)
            layers.append(layer)
        else:
            raise TypeError(
                f"bounds cannot go through a {type(layer).__name__} layer; supported layers: "
                f"{_names()}."
            )
    return layers


def _names():
    return ", ".join(t.__name__ for t in SUPPORTED)


def _check_layer(layer):
    if isinstance(layer, nn.AvgPool2d) and (
        layer.ceil_mode
        or (layer.padding not in (0, (0, 0)) and not layer.count_include_pad)
        or layer.divisor_override is not None
    ):
        raise TypeError(
            "AvgPool2d is supported with ceil_mode=False, no divisor_override and "
            "count_include_pad=True when padded."
        )
    if isinstance(layer, nn.Conv2d) and layer.padding_mode != "zeros":
        raise TypeError(
            f"Conv2d with padding_mode={layer.padding_mode!r} is not supported; use 'zeros'."
        )


def _bn_affine(layer):
    """Scale and shift of a batch-norm layer with its running statistics."""
    scale = layer.running_var.add(layer.eps).rsqrt()
    if layer.weight is not None:
        scale = scale * layer.weight
    shift = -layer.running_mean * scale
    if layer.bias is not None:
        shift = shift + layer.bias
    return scale, shift


def _channel_view(v, ndim):
    return v.view(-1, *([1] * (ndim - 2)))


def linear_part(layer, x):
    """The layer without its bias (a linear map), applied to ``x``."""
    if isinstance(layer, nn.Linear):
        return F.linear(x, layer.weight)
    if isinstance(layer, nn.Conv2d):
        return F.conv2d(
            x, layer.weight, None, layer.stride, layer.padding, layer.dilation, layer.groups
        )
    if isinstance(layer, nn.AvgPool2d):
        return layer(x)
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        scale, _ = _bn_affine(layer)
        return x * _channel_view(scale, x.dim()) if x.dim() > 2 else x * scale
    if isinstance(layer, nn.Flatten):
        return layer(x)
    raise TypeError(f"{type(layer).__name__} is not affine.")


def abs_linear_part(layer, x):
    """``|W| x`` for the layer's linear map ``W`` (``x`` is a non-negative radius)."""
    if isinstance(layer, nn.Linear):
        return F.linear(x, layer.weight.abs())
    if isinstance(layer, nn.Conv2d):
        return F.conv2d(
            x, layer.weight.abs(), None, layer.stride, layer.padding, layer.dilation, layer.groups
        )
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        scale, _ = _bn_affine(layer)
        scale = scale.abs()
        return x * _channel_view(scale, x.dim()) if x.dim() > 2 else x * scale
    return linear_part(layer, x)  # AvgPool2d and Flatten have non-negative weights


def bias_part(layer, out_shape, dtype, device):
    """The layer's bias broadcast to its output shape (None when it has none)."""
    if isinstance(layer, (nn.Linear, nn.Conv2d)):
        if layer.bias is None:
            return None
        b = layer.bias
        return b.view(-1, 1, 1) if isinstance(layer, nn.Conv2d) else b
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        _, shift = _bn_affine(layer)
        return shift.view(-1, *([1] * (len(out_shape) - 1)))
    return None


def transpose_part(layer, A, in_shape):
    """``A W`` for coefficients ``A`` of shape ``(n, *out_shape)``: the linear map's adjoint.

    Returns coefficients of shape ``(n, *in_shape)``.
    """
    n = A.shape[0]
    if isinstance(layer, nn.Linear):
        return A.matmul(layer.weight)
    if isinstance(layer, nn.Flatten):
        return A.reshape(n, *in_shape)
    if isinstance(layer, nn.Conv2d):
        return torch.nn.grad.conv2d_input(
            (n, *in_shape),
            layer.weight,
            A,
            layer.stride,
            layer.padding,
            layer.dilation,
            layer.groups,
        )
    if isinstance(layer, nn.AvgPool2d):
        c = in_shape[0]
        k = _pair(layer.kernel_size)
        stride = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
        weight = A.new_full((c, 1, *k), 1.0 / (k[0] * k[1]))
        return torch.nn.grad.conv2d_input(
            (n, *in_shape), weight, A, stride, _pair(layer.padding), 1, c
        )
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        scale, _ = _bn_affine(layer)
        return A * (_channel_view(scale, A.dim()) if A.dim() > 2 else scale)
    raise TypeError(f"{type(layer).__name__} is not affine.")


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
