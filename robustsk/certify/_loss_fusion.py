"""Loss fusion: an upper bound of the worst-case cross-entropy with one specification row.

CROWN-IBP training bounds the ``K - 1`` margins ``f_y - f_k`` (one backward
pass row each) and feeds their lower bounds to the cross-entropy. Loss fusion
(Xu et al. 2020, auto_LiRPA) bounds the cross-entropy itself: with
``d_k = f_k - f_y`` in the interval IBP gives,

* ``exp(d_k)`` lies under its chord on ``[l_k, u_k]`` (exp is convex), so
  ``S = 1 + sum_k exp(d_k)`` lies under a linear function of ``d``;
* ``log`` is concave, so ``log S <= log s0 + S / s0 - 1`` (its tangent at
  ``s0``, the middle of the interval of ``S``).

The composition is linear in the logits, and CROWN bounds it from above with a
single backward row instead of ``K - 1``: a different (generally looser) bound
than the margin bounds, for a fraction of their cost.
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils import check_options
from ._bounds import (
    _backward,
    _ibp,
    _shapes,
    checked_layers,
    compute_bounds,
    margin_matrix,
    relu_bounds,
)
from ._layers import traced_layers


def _ibp_cross_entropy(margin_lower: torch.Tensor) -> torch.Tensor:
    """``log(1 + sum_k exp(-lb_k))``: the cross-entropy bound implied by margin lower bounds."""
    zeros = margin_lower.new_zeros(margin_lower.shape[0], 1)
    return torch.logsumexp(torch.cat([zeros, -margin_lower], dim=1), dim=1)


def fused_and_ibp_cross_entropy(
    module: nn.Module, lower: torch.Tensor, upper: torch.Tensor, C: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example upper bounds of the worst-case cross-entropy: loss fusion and IBP.

    Both come from one interval pass (the fused bound needs IBP's intermediate
    bounds and its margin interval). ``C`` is the margin specification of the
    labels (:func:`~robustsk.certify.margin_matrix`). For certified training:
    the module may be in training mode (BatchNorm is bounded with its running
    statistics, Dropout as the identity).

    Returns
    -------
    fused, ibp : torch.Tensor of shape (n,)
    """
    layers = traced_layers(module, lower)
    shapes = _shapes(layers, lower)
    margin_lo, margin_hi, inputs = _ibp(layers, lower, upper, C)
    ibp = _ibp_cross_entropy(margin_lo)
    d_lo, d_hi = -margin_hi, -margin_lo  # d_k = f_k - f_y
    # scale by exp(-m) with m >= every d_k (and >= 0, the true class's term) against overflow
    m = d_hi.amax(dim=1, keepdim=True).clamp_min(0)
    e_lo, e_hi, e_true = torch.exp(d_lo - m), torch.exp(d_hi - m), torch.exp(-m)
    width = d_hi - d_lo
    slope = torch.where(width > 1e-6, (e_hi - e_lo) / width.clamp_min(1e-6), e_hi)
    intercept = e_lo - slope * d_lo  # chord of exp on [d_lo, d_hi], scaled
    s0 = e_true + (e_lo.sum(1, keepdim=True) + e_hi.sum(1, keepdim=True)) / 2
    const = m + torch.log(s0) - 1 + (e_true + intercept.sum(1, keepdim=True)) / s0
    # sum_k (slope_k / s0) d_k with d = -C f, i.e. the row w = -(slope / s0) C over the logits
    w = -(slope / s0).unsqueeze(1).matmul(C.to(lower.dtype))  # (n, 1, K)
    _, ub = _backward(
        layers,
        shapes,
        len(layers) - 1,
        w,
        relu_bounds(layers, inputs),
        lower,
        upper,
        need_lower=False,
    )
    assert ub is not None
    return const.squeeze(1) + ub.squeeze(1), ibp


def cross_entropy_upper_bound(
    module: nn.Module,
    lower: torch.Tensor,
    upper: torch.Tensor,
    y: torch.Tensor,
    *,
    method: str = "fused",
) -> torch.Tensor:
    """Upper bound of ``max CE(module(x), y)`` over each example's box.

    Parameters
    ----------
    module : torch.nn.Sequential
        The net (see :func:`~robustsk.certify.interval_bounds` for the layers).
    lower : torch.Tensor of shape (n, ...)
        Lower corner of the input box.
    upper : torch.Tensor of shape (n, ...)
        Upper corner of the input box.
    y : torch.Tensor of shape (n,)
        Class indices.
    method : {"fused", "ibp", "crown-ibp"}, default="fused"
        "fused": loss fusion, one CROWN-IBP backward row for the loss itself;
        "ibp" and "crown-ibp": the cross-entropy of the worst-case logits
        implied by IBP or CROWN-IBP margin lower bounds (``K - 1`` rows).

    Returns
    -------
    bound : torch.Tensor of shape (n,)
        Differentiable in the weights and the box.
    """
    check_options(method, "method", {"fused", "ibp", "crown-ibp"})
    layers = checked_layers(module, lower, upper)
    out_shape = _shapes(layers, lower)[-1]
    if len(out_shape) != 1:
        raise ValueError(
            f"the module returns outputs of shape (n, {', '.join(map(str, out_shape))}); the "
            "cross-entropy needs logits of shape (n, n_classes)."
        )
    n_classes = out_shape[0]
    C = margin_matrix(torch.as_tensor(y, device=lower.device), n_classes).to(lower.dtype)
    if method == "fused":
        fused, _ = fused_and_ibp_cross_entropy(module, lower, upper, C)
        return fused
    kwargs = {} if method == "ibp" else {"bound_upper": False}
    margin_lower, _ = compute_bounds(module, lower, upper, C, method=method, **kwargs)
    assert margin_lower is not None
    return _ibp_cross_entropy(margin_lower)
