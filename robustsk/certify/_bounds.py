"""Interval (IBP), CROWN-IBP and CROWN bounds of sequential ReLU nets on per-element boxes.

All bounds are computed with torch operations, so they are differentiable with
respect to the weights and to the box (hence to per-pixel budgets), and run on
the net's device batched over examples.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from ..utils import ClipRange, check_options
from ._layers import (
    ResidualNode,
    abs_linear_part,
    bias_part,
    check_evaluation_mode,
    check_input,
    layer_shapes,
    linear_part,
    traced_layers,
    transpose_part,
    walked,
)

METHODS = ("ibp", "crown-ibp", "crown", "best")

#: Coefficient elements per backward pass of intermediate CROWN bounds (memory bound).
_ELEMENTS = 1 << 25


def _ibp_is_exact(layers):
    """IBP is exact on a box through at most one mixing affine layer (plus element-wise ones)."""
    mixing = [
        la for la in layers if isinstance(la, (nn.Linear, nn.Conv2d, nn.AvgPool2d, ResidualNode))
    ]
    return len(mixing) <= 1 and not any(isinstance(la, (nn.ReLU, ResidualNode)) for la in layers)


def relu_bounds(layers, inputs) -> dict:
    """The interval of the input of every ReLU, from :func:`_ibp`'s ``inputs``: ``{i: (lo, hi)}``,
    and for a residual block ``{i: (body's dict, shortcut's dict)}``."""
    out: dict = {}
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.ReLU):
            out[i] = inputs[i][:2]
        elif isinstance(layer, ResidualNode):
            _, _, body_inputs, short_inputs = inputs[i]
            out[i] = (
                relu_bounds(layer.body, body_inputs),
                relu_bounds(layer.shortcut, short_inputs),
            )
    return out


def _widest(shapes):
    return max(math.prod(s) for s in shapes)


def input_box(
    X: torch.Tensor, eps: float | np.ndarray | torch.Tensor, clip: ClipRange = (0.0, 1.0)
) -> tuple[torch.Tensor, torch.Tensor]:
    """The box ``[clip(X - eps), clip(X + eps)]`` of per-element budgets.

    Parameters
    ----------
    X : torch.Tensor of shape (n, ...)
        Clean inputs.
    eps : float or torch.Tensor broadcastable to ``X``
        Budget of each element (a scalar, one per example, or one per pixel).
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid input range.

    Returns
    -------
    lower, upper : torch.Tensor of the shape of ``X``
    """
    eps = torch.as_tensor(eps, dtype=X.dtype, device=X.device)
    if eps.dim() == 1 and X.dim() > 1 and eps.shape[0] == X.shape[0]:
        eps = eps.view(-1, *([1] * (X.dim() - 1)))
    lower, upper = X - eps, X + eps
    if clip is not None:
        lower, upper = lower.clamp(clip[0], clip[1]), upper.clamp(clip[0], clip[1])
    return lower, upper


def margin_matrix(y: ArrayLike | torch.Tensor, n_classes: int) -> torch.Tensor:
    """Specification ``C`` of the margins ``logit_y - logit_k`` for every ``k != y``.

    Parameters
    ----------
    y : torch.Tensor of shape (n,)
        Class indices.
    n_classes : int
        Number of logits.

    Returns
    -------
    C : torch.Tensor of shape (n, n_classes - 1, n_classes)
    """
    y = torch.as_tensor(y, dtype=torch.long)
    n = y.shape[0]
    eye = torch.eye(n_classes, device=y.device)
    C = eye[y].unsqueeze(1) - eye.unsqueeze(0)  # (n, K, K): row k is e_y - e_k
    others = torch.arange(n_classes, device=y.device).expand(n, n_classes)
    keep = others != y.unsqueeze(1)
    return C[keep].view(n, n_classes - 1, n_classes)


def interval_bounds(
    module: nn.Module, lower: torch.Tensor, upper: torch.Tensor, C: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Interval bound propagation (IBP) of ``C @ module(x)`` for ``x`` in the box.

    When the last layer is ``Linear`` and ``C`` is given, ``C`` is merged into
    it (``C W``), which is tighter than bounding the logits first.

    Parameters
    ----------
    module : torch.nn.Sequential
        In evaluation mode, of Linear, Conv2d, ReLU, Flatten, AvgPool2d,
        BatchNorm (running statistics), Dropout and Identity layers, nested
        Sequential containers, each with its stock ``forward`` and no hooks;
        anything else is refused (see "Raises").
    lower : torch.Tensor of shape (n, ...)
        Lower corner of the input box.
    upper : torch.Tensor of shape (n, ...)
        Upper corner of the input box.
    C : torch.Tensor of shape (n, s, n_outputs) or None, default=None
        Specification; None bounds the outputs themselves.

    Returns
    -------
    lb, ub : torch.Tensor of shape (n, s), or (n, n_outputs) without ``C``

    Raises
    ------
    TypeError
        When ``module`` is not provably the plain composition of supported
        layers (see :func:`sequential_layers`).
    ValueError
        When a BatchNorm or Dropout layer is in training mode, or the box or
        ``C`` do not fit.
    """
    layers = checked_layers(module, lower, upper, C)
    lb, ub, _ = _ibp(layers, lower, upper, C)
    return lb, ub


def checked_layers(
    module: nn.Module, lower: torch.Tensor, upper: torch.Tensor, C: torch.Tensor | None = None
) -> list:
    """The layers of ``module`` for a public bound: structure, mode, box and spec checked."""
    walk = walked(module)
    check_evaluation_mode(module)
    if not (isinstance(lower, torch.Tensor) and isinstance(upper, torch.Tensor)):
        raise TypeError(
            f"lower and upper must be tensors, got {type(lower).__name__} and "
            f"{type(upper).__name__}."
        )
    if lower.shape != upper.shape or lower.dim() < 2:
        raise ValueError(
            "lower and upper must have the same shape (n, ...) with a batch dimension, got "
            f"{tuple(lower.shape)} and {tuple(upper.shape)}."
        )
    if not bool((lower <= upper).all()):
        raise ValueError("the box must have lower <= upper everywhere (and no NaN).")
    if C is not None and (C.dim() != 3 or C.shape[0] != lower.shape[0]):
        raise ValueError(
            f"C must have shape (n, s, n_outputs) with n={lower.shape[0]}, got {tuple(C.shape)}."
        )
    return traced_layers(module, lower, walk)


def _check_output(out_shape, C):
    """The net's output (``out_shape`` per example) must be the row ``C`` specifies on."""
    if C is not None and tuple(out_shape) != (C.shape[-1],):
        raise ValueError(
            f"the module returns outputs of shape (n, {', '.join(map(str, out_shape))}); the "
            f"specification C of shape {tuple(C.shape)} needs (n, {C.shape[-1]})."
        )


def ibp_lower(
    module: nn.Module, lower: torch.Tensor, upper: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    """IBP lower bounds of ``C @ module(x)`` for certified training.

    The module may be in training mode: the bounds follow BatchNorm's running
    statistics and treat Dropout as the identity (its evaluation mode).
    """
    lb, _, _ = _ibp(traced_layers(module, lower), lower, upper, C)
    return lb


def _ibp(layers, lower, upper, C=None):
    """IBP through ``layers``; also returns the bounds of every layer's input."""
    inputs = []
    lo, hi = lower, upper
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        inputs.append((lo, hi))
        check_input(layer, lo.shape[1:], lo)
        if isinstance(layer, ResidualNode):  # both branches from the block's input, added
            blo, bhi, body_inputs = _ibp(layer.body, lo, hi)
            slo, shi, short_inputs = _ibp(layer.shortcut, lo, hi)
            inputs[-1] = (lo, hi, body_inputs, short_inputs)
            lo, hi = blo + slo, bhi + shi
            continue
        if i == last and C is not None and isinstance(layer, nn.Linear):
            _check_output(layer.weight.shape[:1], C)
            W = C.matmul(layer.weight)  # (n, s, in)
            mid, rad = (hi + lo) / 2, (hi - lo) / 2
            out_mid = W.matmul(mid.unsqueeze(-1)).squeeze(-1)
            if layer.bias is not None:
                out_mid = out_mid + C.matmul(layer.bias)
            out_rad = W.abs().matmul(rad.unsqueeze(-1)).squeeze(-1)
            return out_mid - out_rad, out_mid + out_rad, inputs
        if isinstance(layer, nn.ReLU):
            lo, hi = lo.clamp(min=0), hi.clamp(min=0)
            continue
        mid, rad = (hi + lo) / 2, (hi - lo) / 2
        out_mid = linear_part(layer, mid)
        bias = bias_part(layer, out_mid.shape[1:], out_mid.dtype, out_mid.device)
        if bias is not None:
            out_mid = out_mid + bias
        out_rad = abs_linear_part(layer, rad)
        lo, hi = out_mid - out_rad, out_mid + out_rad
    if C is not None:
        _check_output(lo.shape[1:], C)
        Cp, Cn = C.clamp(min=0), C.clamp(max=0)
        lo, hi = (
            (Cp.matmul(lo.unsqueeze(-1)) + Cn.matmul(hi.unsqueeze(-1))).squeeze(-1),
            (Cp.matmul(hi.unsqueeze(-1)) + Cn.matmul(lo.unsqueeze(-1))).squeeze(-1),
        )
    return lo, hi, inputs


def _relu_relaxation(lo, hi):
    """CROWN's linear relaxation of ReLU on ``[lo, hi]`` (the adaptive lower slope).

    Upper line ``d_u x + b_u`` through ``(l, 0)`` and ``(u, u)``; lower line
    ``d_l x`` with ``d_l = 1`` when ``u > -l`` else ``0``. Stable neurons get
    the exact identity or zero.
    """
    lo_r = lo.clamp(max=0)
    hi_r = torch.maximum(hi.clamp(min=0), lo_r + 1e-8)
    upper_d = hi_r / (hi_r - lo_r)
    upper_b = -lo_r * upper_d
    lower_d = (upper_d > 0.5).to(upper_d.dtype)
    return lower_d, upper_d, upper_b


def _backward(
    layers, shapes, end, A, relu_inputs, lower, upper, *, need_lower=True, need_upper=True
):
    """CROWN: bounds of ``A @ node_end`` by backward linear relaxation to the input box.

    ``shapes[i]`` is the shape (without batch) of the input of layer ``i`` and
    ``shapes[i + 1]`` of its output; ``A`` has shape ``(n, s, *shapes[end + 1])``.
    ``relu_inputs`` holds the bounds of the input of every ReLU (:func:`relu_bounds`).
    """
    Al, Au, bl, bu = _propagate(
        layers,
        shapes,
        end,
        A if need_lower else None,
        A if need_upper else None,
        relu_inputs,
        lower,
    )
    return _concretize(Al, Au, bl, bu, lower, upper)


def _propagate(layers, shapes, end, Al, Au, relu_inputs, like):
    """Carry the coefficients ``Al`` / ``Au`` of the output of layer ``end`` back to the input
    of layer 0: returns the coefficients there and the constant terms (``bl``, ``bu``)."""
    ref = Al if Al is not None else Au
    n, s = ref.shape[:2]
    bl = ref.new_zeros(n, s)
    bu = ref.new_zeros(n, s)
    for i in range(end, -1, -1):
        layer = layers[i]
        if isinstance(layer, nn.ReLU):
            lo, hi = relu_inputs[i]
            lower_d, upper_d, upper_b = _relu_relaxation(lo, hi)
            gap = (upper_d - lower_d).unsqueeze(1)
            if Al is not None:  # negative coefficients take the upper line
                neg = Al.clamp(max=0)
                bl = bl + _dot(neg, upper_b)
                Al = Al * lower_d.unsqueeze(1) + neg * gap
            if Au is not None:  # positive coefficients take the upper line
                pos = Au.clamp(min=0)
                bu = bu + _dot(pos, upper_b)
                Au = Au * lower_d.unsqueeze(1) + pos * gap
            continue
        if isinstance(layer, ResidualNode):  # A y = A body(x) + A shortcut(x): both branches
            body_shapes, short_shapes = layer.shapes(shapes[i], like)
            body_relus, short_relus = relu_inputs[i]
            branches = [
                _propagate(layer.body, body_shapes, len(layer.body) - 1, Al, Au, body_relus, like)
            ]
            if layer.shortcut:
                branches.append(
                    _propagate(
                        layer.shortcut,
                        short_shapes,
                        len(layer.shortcut) - 1,
                        Al,
                        Au,
                        short_relus,
                        like,
                    )
                )
            else:
                branches.append((Al, Au, 0.0, 0.0))
            (Al_b, Au_b, bl_b, bu_b), (Al_s, Au_s, bl_s, bu_s) = branches
            Al = None if Al is None else Al_b + Al_s
            Au = None if Au is None else Au_b + Au_s
            bl, bu = bl + bl_b + bl_s, bu + bu_b + bu_s
            continue
        out_shape, in_shape = shapes[i + 1], shapes[i]
        bias = bias_part(layer, out_shape, ref.dtype, ref.device)
        if Al is not None:
            if bias is not None:
                bl = bl + _bias_dot(Al, bias)
            Al = transpose_part(layer, Al.reshape(n * s, *out_shape), in_shape)
            Al = Al.reshape(n, s, *in_shape)
        if Au is not None:
            if bias is not None:
                bu = bu + _bias_dot(Au, bias)
            Au = transpose_part(layer, Au.reshape(n * s, *out_shape), in_shape)
            Au = Au.reshape(n, s, *in_shape)
    return Al, Au, bl, bu


def _concretize(Al, Au, bl, bu, lower, upper):
    """``A x + b`` over the box ``[lower, upper]``: ``A mid -/+ |A| rad + b``."""
    mid = ((upper + lower) / 2).flatten(1).unsqueeze(-1)  # (n, d, 1)
    rad = ((upper - lower) / 2).flatten(1).unsqueeze(-1)
    lb = ub = None
    if Al is not None:
        Al = Al.flatten(2)
        lb = (Al.bmm(mid) - Al.abs().bmm(rad)).squeeze(-1) + bl
    if Au is not None:
        Au = Au.flatten(2)
        ub = (Au.bmm(mid) + Au.abs().bmm(rad)).squeeze(-1) + bu
    return lb, ub


def _dot(A, v):
    """``sum_j A[b, s, j] v[b, j]`` for coefficients ``A`` (n, s, ...) and ``v`` (n, ...)."""
    return A.flatten(2).bmm(v.flatten(1).unsqueeze(-1)).squeeze(-1)


def _bias_dot(A, bias):
    """``sum A * bias`` over each row of ``A`` (n, s, ...), ``bias`` broadcast per channel."""
    if bias.dim() == 3 and A.dim() == 5:  # a per-channel bias of a (c, h, w) output
        return A.sum(dim=(-1, -2)).matmul(bias.flatten())
    return (A * bias).flatten(2).sum(-1)


_shapes = layer_shapes


def crown_bounds(
    module: nn.Module,
    lower: torch.Tensor,
    upper: torch.Tensor,
    C: torch.Tensor | None = None,
    *,
    intermediate: str = "crown",
    bound_lower: bool = True,
    bound_upper: bool = True,
    spec_chunk: int | None = None,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """CROWN bounds of ``C @ module(x)`` for ``x`` in the box.

    The output layer is bounded by backward linear relaxation (CROWN, Zhang
    et al. 2018). ``intermediate="ibp"`` takes the ReLU input bounds from
    interval propagation: CROWN-IBP (Zhang et al. 2020), cheap enough for
    training. ``intermediate="crown"`` computes them by CROWN too, layer by
    layer (tighter, for evaluation; the specification of an intermediate layer
    is the identity over its neurons that IBP leaves unstable, processed
    ``spec_chunk`` at a time; stable neurons keep their IBP bounds, since
    their relaxation is exact either way).

    Parameters
    ----------
    module : torch.nn.Sequential
        In evaluation mode, of Linear, Conv2d, ReLU, Flatten, AvgPool2d,
        BatchNorm (running statistics), Dropout and Identity layers, nested
        Sequential containers, each with its stock ``forward`` and no hooks;
        anything else is refused (see "Raises").
    lower : torch.Tensor of shape (n, ...)
        Lower corner of the input box.
    upper : torch.Tensor of shape (n, ...)
        Upper corner of the input box.
    C : torch.Tensor of shape (n, s, n_outputs) or None, default=None
        Specification; None bounds the outputs themselves.
    intermediate : {"crown", "ibp"}, default="crown"
        How ReLU input bounds are obtained.
    bound_lower : bool, default=True
        Compute the lower bound (else None is returned for it).
    bound_upper : bool, default=True
        Compute the upper bound (else None is returned for it).
    spec_chunk : int or None, default=None
        Neurons bounded together for intermediate CROWN bounds; None sizes
        the chunks to about 32M coefficients (memory bound).

    Returns
    -------
    lb, ub : torch.Tensor of shape (n, s) (or (n, n_outputs)), or None

    Raises
    ------
    TypeError
        As :func:`interval_bounds`.
    ValueError
        As :func:`interval_bounds`.
    """
    check_options(intermediate, "intermediate", {"crown", "ibp"})
    layers = checked_layers(module, lower, upper, C)
    shapes = _shapes(layers, lower)
    _check_output(shapes[-1], C)
    n = lower.shape[0]
    _, _, inputs = _ibp(layers, lower, upper)
    relu_inputs = relu_bounds(layers, inputs)
    if intermediate == "crown":
        # IBP first; CROWN then refines only the neurons IBP leaves unstable in some example
        # (a stable neuron's relaxation is exact whatever its bounds), like auto_LiRPA.
        _refine(layers, shapes, relu_inputs, lower, upper, _to_input, spec_chunk, exact=True)
    out_shape = shapes[-1]
    if C is None:
        size = math.prod(out_shape)
        C = (
            torch.eye(size, dtype=lower.dtype, device=lower.device)
            .view(1, size, *out_shape)
            .expand(n, -1, *out_shape)
        )
    return _backward(
        layers,
        shapes,
        len(layers) - 1,
        C.to(lower.dtype),
        relu_inputs,
        lower,
        upper,
        need_lower=bound_lower,
        need_upper=bound_upper,
    )


def _to_input(Al, Au, bl, bu):
    """The coefficients already on the network's input: nothing more to carry."""
    return Al, Au, bl, bu


def _refine(layers, shapes, relu_inputs, lower, upper, carry, spec_chunk, *, exact):
    """Tighten, in order, the bounds of every ReLU input of ``layers`` by CROWN (in place).

    ``carry(Al, Au, bl, bu)`` brings coefficients on the input of ``layers[0]`` back to
    the network's input (the layers before a residual block's branch); ``exact`` says
    whether IBP is exact up to ``layers[0]`` (then the first layers keep IBP's bounds).
    """
    n = lower.shape[0]
    for i, layer in enumerate(layers):
        if isinstance(layer, ResidualNode):

            def through_block(Al, Au, bl, bu, i=i):
                Al, Au, bl2, bu2 = _propagate(layers, shapes, i - 1, Al, Au, relu_inputs, lower)
                return carry(Al, Au, bl + bl2, bu + bu2)

            body_shapes, short_shapes = layer.shapes(shapes[i], lower)
            body_relus, short_relus = relu_inputs[i]
            _refine(layer.body, body_shapes, body_relus, lower, upper, through_block, spec_chunk,
                    exact=False)  # fmt: skip
            _refine(layer.shortcut, short_shapes, short_relus, lower, upper, through_block,
                    spec_chunk, exact=False)  # fmt: skip
            continue
        if not isinstance(layer, nn.ReLU):
            continue
        lo, hi = relu_inputs[i]
        if exact and _ibp_is_exact(layers[:i]):
            continue
        unstable = ((lo < 0) & (hi > 0)).flatten(1).any(0).nonzero().squeeze(1)
        lo, hi = lo.flatten(1).clone(), hi.flatten(1).clone()
        size = lo.shape[1]
        chunk = spec_chunk or max(1, _ELEMENTS // max(1, n * _widest(shapes[: i + 1])))
        eye = torch.eye(size, dtype=lower.dtype, device=lower.device)
        for start in range(0, unstable.numel(), chunk):
            idx = unstable[start : start + chunk]
            A = eye[idx].view(1, idx.numel(), *shapes[i]).expand(n, -1, *shapes[i])
            Al, Au, bl, bu = _propagate(layers, shapes, i - 1, A, A, relu_inputs, lower)
            lb, ub = _concretize(*carry(Al, Au, bl, bu), lower, upper)
            lo[:, idx], hi[:, idx] = lb, ub
        relu_inputs[i] = (lo.view(n, *shapes[i]), hi.view(n, *shapes[i]))


def crown_ibp_and_ibp_lower(
    module: nn.Module, lower: torch.Tensor, upper: torch.Tensor, C: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower bounds of ``C @ module(x)`` by CROWN-IBP and by IBP, from one interval pass.

    CROWN-IBP training mixes the two bounds; both need the same interval
    propagation (IBP's final bound, CROWN-IBP's intermediate bounds), so it
    runs once. Equal to ``compute_bounds`` with ``method="crown-ibp"`` and
    ``method="ibp"``.
    """
    layers = traced_layers(module, lower)
    shapes = _shapes(layers, lower)
    ibp_lb, _, inputs = _ibp(layers, lower, upper, C)
    relu_inputs = relu_bounds(layers, inputs)
    crown_lb, _ = _backward(
        layers,
        shapes,
        len(layers) - 1,
        C.to(lower.dtype),
        relu_inputs,
        lower,
        upper,
        need_upper=False,
    )
    return cast(torch.Tensor, crown_lb), ibp_lb


def compute_bounds(
    module: nn.Module,
    lower: torch.Tensor,
    upper: torch.Tensor,
    C: torch.Tensor | None = None,
    method: str = "crown-ibp",
    **kwargs: Any,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Bounds of ``C @ module(x)`` on the box ``[lower, upper]`` by ``method``.

    Parameters
    ----------
    module : torch.nn.Sequential
        The net (see :func:`interval_bounds` for the supported layers).
    lower : torch.Tensor of shape (n, ...)
        Lower corner of the input box.
    upper : torch.Tensor of shape (n, ...)
        Upper corner of the input box.
    C : torch.Tensor of shape (n, s, n_outputs) or None, default=None
        Specification, e.g. :func:`margin_matrix`.
    method : {"ibp", "crown-ibp", "crown", "best"}, default="crown-ibp"
        Interval propagation, CROWN on IBP intermediate bounds, full CROWN,
        or "best": the tighter of IBP and CROWN-IBP for each bound (both are
        sound, so is their maximum). Neither of the two is always tighter:
        after IBP or CROWN-IBP training (whose CROWN share falls to 0) IBP
        usually is, on a naturally trained net CROWN-IBP.
    **kwargs
        Passed to :func:`crown_bounds` (``bound_lower``, ``bound_upper``, ...).

    Returns
    -------
    lb, ub : torch.Tensor

    Raises
    ------
    TypeError
        When ``module`` is not provably the plain composition of supported
        layers: a container whose ``forward`` is not the stock one (e.g. a
        skip connection), an unknown layer, a layer subclass that redefines
        its ``forward``, forward hooks, or unsupported settings. The message
        names the module.
    ValueError
        When a BatchNorm or Dropout layer is in training mode, or the box or
        ``C`` do not fit the module.
    """
    check_options(method, "method", set(METHODS))
    if method == "ibp":
        return interval_bounds(module, lower, upper, C)
    if method == "best":
        ibp = interval_bounds(module, lower, upper, C)
        crown = crown_bounds(module, lower, upper, C, intermediate="ibp", **kwargs)
        return _tighter(ibp[0], crown[0], torch.maximum), _tighter(ibp[1], crown[1], torch.minimum)
    intermediate = "ibp" if method == "crown-ibp" else "crown"
    return crown_bounds(module, lower, upper, C, intermediate=intermediate, **kwargs)


def _tighter(ibp, crown, pick):
    """IBP's bound, or the tighter of IBP's and CROWN-IBP's where CROWN-IBP computed one."""
    return ibp if crown is None else pick(ibp, crown)


def margin_lower_bounds(
    module: nn.Module,
    X: np.ndarray,
    codes: np.ndarray,
    eps: float | np.ndarray,
    n_classes: int,
    *,
    clip: ClipRange = (0.0, 1.0),
    method: str = "crown-ibp",
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Lower bounds of every margin ``f_y - f_k`` over each example's box, batched.

    The evaluation loop shared by certification and verified error: batches of
    ``X`` go to ``device``, get their boxes from ``eps`` and their margin
    specification from ``codes``, and are bounded without gradients. Each
    bound is also capped by the margin of the clean input itself, as
    ``module`` computes it: the box ``[clip(x - eps), clip(x + eps)]`` leaves
    out an ``x`` outside the valid range, and a certificate must never cover
    an example that is misclassified as it is.

    Parameters
    ----------
    module : torch.nn.Sequential
        The net, already in the mode to bound (eval).
    X : ndarray of shape (n, ...)
        Inputs, float32, in the module's input shape.
    codes : ndarray of shape (n,)
        Class indices.
    eps : float or ndarray broadcastable to ``X``
        Budgets.
    n_classes : int
        Number of logits.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid input range.
    method : {"ibp", "crown-ibp", "crown", "best"}, default="crown-ibp"
        Bound method (see :func:`compute_bounds`).
    batch_size : int, default=256
        Examples per bound computation.
    device : str or torch.device, default="cpu"
        Where the batches are bounded.

    Returns
    -------
    lb : ndarray of shape (n, n_classes - 1)
    """
    eps = np.asarray(eps, dtype=np.float32)
    if not np.isfinite(eps).all() or (eps < 0).any():
        raise ValueError("budget must hold finite non-negative budgets.")
    eps = eps if eps.ndim == 0 else np.broadcast_to(eps, X.shape)
    kwargs = {} if method == "ibp" else {"bound_upper": False}
    out = []
    with torch.no_grad():
        for start in range(0, X.shape[0], batch_size):
            stop = min(start + batch_size, X.shape[0])
            xb = torch.as_tensor(X[start:stop], device=device)
            e = eps if eps.ndim == 0 else np.array(eps[start:stop])
            lower, upper = input_box(xb, torch.as_tensor(e, device=device), clip)
            C = margin_matrix(torch.as_tensor(codes[start:stop], device=device), n_classes)
            lb, _ = compute_bounds(module, lower, upper, C, method=method, **kwargs)
            clean = C.to(xb.dtype).matmul(module(xb).unsqueeze(-1)).squeeze(-1)  # (n, K-1)
            out.append(torch.minimum(cast(torch.Tensor, lb), clean).cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, n_classes - 1), np.float32)
