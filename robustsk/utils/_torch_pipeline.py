"""A scikit-learn Pipeline ending in a torch net, seen as one torch module on the raw input.

Gradient methods (attacks) need the derivative of the net's output with respect
to the pipeline's *raw* input. That exists when every step before the net is a
fixed, differentiable transform that can be written in torch. Each supported
step is translated to a small ``nn.Module``; the translation is checked against
the step's own ``transform`` on rows of the caller's data (values, shape, and
that gradients flow), so a translation that does not match is refused, never
used. Anything else is refused with a ``TypeError`` that names the step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._modes import eval_mode

#: What a step before the net may be, in words (used in error messages and the docs).
SUPPORTED_STEPS = (
    "StandardScaler, MinMaxScaler, MaxAbsScaler, PCA, a FunctionTransformer whose func "
    "also works on torch tensors (e.g. lambda X: X.reshape(-1, 1, 8, 8)), a transformer "
    "that is a torch.nn.Module (its forward is its transform), a nested Pipeline of these, "
    "or 'passthrough'"
)


class _NoTorchForm(Exception):
    """A step has no torch form; the message says why."""


class _Standardize(nn.Module):
    """``(x - mean) / scale`` per feature (either may be absent)."""

    def __init__(self, mean: torch.Tensor | None, scale: torch.Tensor | None):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)

    def forward(self, x):
        if self.mean is not None:
            x = x - self.mean
        if self.scale is not None:
            x = x / self.scale
        return x


class _MinMax(nn.Module):
    """``x * scale + shift`` per feature, then clamped to ``bounds`` if given."""

    def __init__(self, scale, shift, bounds: tuple[float, float] | None):
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)
        self.bounds = bounds

    def forward(self, x):
        x = x * self.scale + self.shift
        return x if self.bounds is None else x.clamp(*self.bounds)


class _Project(nn.Module):
    """PCA: ``(x @ components.T - mean @ components.T) / scale``."""

    def __init__(self, components, offset, scale):
        super().__init__()
        self.register_buffer("components", components)  # (k, d)
        self.register_buffer("offset", offset)  # (k,)
        self.register_buffer("scale", scale)  # (k,) or None

    def forward(self, x):
        x = x @ self.components.T - self.offset  # (n, k)
        return x if self.scale is None else x / self.scale


class _Func(nn.Module):
    """A FunctionTransformer's ``func(x, **kw_args)`` applied to a tensor."""

    def __init__(self, func: Callable[..., Any], kw_args: dict | None):
        super().__init__()
        self.func = func
        self.kw_args = kw_args or {}

    def forward(self, x):
        out = self.func(x, **self.kw_args)
        if not isinstance(out, torch.Tensor):
            raise _NoTorchForm(
                f"its func returned a {type(out).__name__} for a torch tensor, not a tensor"
            )
        return out


class _Forward(nn.Module):
    """A module step's forward; the first element when it returns a tuple."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.inner = module

    def forward(self, x):
        out = self.inner(x)
        return out[0] if isinstance(out, (tuple, list)) else out


class PipelineModule(nn.Module):
    """Raw input -> the translated steps -> the net's module (reshaped as it was trained)."""

    def __init__(self, front: list[nn.Module], net: nn.Module, input_shape):
        super().__init__()
        self.front = nn.ModuleList(front)
        self.net = net
        self.input_shape = None if input_shape is None else tuple(input_shape)

    def forward(self, x):
        for step in self.front:
            x = step(x)
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            x = x.reshape((x.shape[0],) + self.input_shape)
        return self.net(x)


def is_pipeline(estimator: Any) -> bool:
    """Whether ``estimator`` is a scikit-learn Pipeline."""
    return isinstance(estimator, Pipeline)


def _step_name(step) -> str:
    """``FunctionTransformer(func=log1p)`` or the class name."""
    if isinstance(step, FunctionTransformer):
        func = getattr(step.func, "__name__", None) or repr(step.func)
        return f"FunctionTransformer(func={func})"
    return type(step).__name__


def _is_passthrough(step) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


def _tensor(a, device):
    return None if a is None else torch.as_tensor(np.asarray(a, dtype=np.float32), device=device)


def _translate(step, device) -> tuple[list[nn.Module], list[nn.Module]]:
    """The torch form of one fitted step: ``(modules in order, user modules to put in eval)``."""
    if _is_passthrough(step):
        return [], []
    if isinstance(step, Pipeline):
        front: list[nn.Module] = []
        users: list[nn.Module] = []
        for _, inner in step.steps:
            f, u = _translate(inner, device)
            front += f
            users += u
        return front, users
    if isinstance(step, nn.Module):
        return [_Forward(step)], [step]
    if isinstance(step, FunctionTransformer):
        if step.func is None:
            return [], []
        return [_Func(step.func, step.kw_args)], []
    if isinstance(step, StandardScaler):
        check_is_fitted(step)
        return [_Standardize(_tensor(step.mean_, device), _tensor(step.scale_, device))], []
    if isinstance(step, MinMaxScaler):
        check_is_fitted(step)
        low, high = step.feature_range
        bounds = (float(low), float(high)) if step.clip else None
        return [_MinMax(_tensor(step.scale_, device), _tensor(step.min_, device), bounds)], []
    if isinstance(step, MaxAbsScaler):
        check_is_fitted(step)
        return [_Standardize(None, _tensor(step.scale_, device))], []
    if isinstance(step, PCA):
        check_is_fitted(step)
        comp = np.asarray(step.components_, dtype=np.float64)
        offset = np.asarray(step.mean_, dtype=np.float64) @ comp.T
        scale = None
        if step.whiten:
            scale = np.sqrt(np.asarray(step.explained_variance_, dtype=np.float64))
            scale = np.maximum(scale, np.finfo(scale.dtype).eps)
        return [
            _Project(_tensor(comp, device), _tensor(offset, device), _tensor(scale, device))
        ], []
    raise _NoTorchForm("robustsk cannot write this transform in torch")


def _check_translation(step, modules, users, X, device):
    """Compare the torch form with ``step.transform`` on rows ``X``; return the transformed rows."""
    expected = np.asarray(
        X
        if step is None or (isinstance(step, str) and step == "passthrough")
        else step.transform(X)
    )
    if not modules:
        return expected
    x = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device).requires_grad_(True)
    try:
        with eval_mode(*users):
            out = x
            for m in modules:
                out = m(out)
    except _NoTorchForm:
        raise
    except Exception as e:  # the func or module fails on a tensor
        raise _NoTorchForm(f"it fails on a torch tensor ({type(e).__name__}: {e})") from None
    if not isinstance(out, torch.Tensor):
        raise _NoTorchForm(f"its torch form returned a {type(out).__name__}, not a tensor")
    if not out.requires_grad:
        raise _NoTorchForm(
            "gradients do not flow through it (its output does not depend on a "
            "differentiable torch computation on its input)"
        )
    got = out.detach().double().cpu().numpy()
    if got.shape != expected.shape:
        raise _NoTorchForm(
            f"on a torch tensor it gives shape {got.shape}, its transform gives {expected.shape}"
        )
    ref = expected.astype(np.float64)
    tol = 1e-4 * (1.0 + float(np.abs(ref).max(initial=0.0)))
    if not np.allclose(got, ref, rtol=1e-4, atol=tol):
        raise _NoTorchForm(
            "its torch form differs from its transform (largest difference "
            f"{float(np.abs(got - ref).max()):.3g})"
        )
    return expected


def pipeline_module(pipeline: Pipeline, X_sample, net_module, input_shape, device, caller: str):
    """The torch module ``raw input -> pipeline steps -> net``, checked on rows ``X_sample``.

    Returns ``(module, user_modules)``; ``user_modules`` are the torch modules
    among the steps, whose train/eval mode the caller manages.

    Raises
    ------
    TypeError
        Naming the first step that has no checked torch form, and what is needed.
    """
    front: list[nn.Module] = []
    users: list[nn.Module] = []
    Xt = np.asarray(X_sample)
    for i, (name, step) in enumerate(pipeline.steps[:-1]):
        try:
            modules, step_users = _translate(step, device)
            Xt = _check_translation(step, modules, step_users, Xt, device)
        except _NoTorchForm as why:
            raise TypeError(
                f"{caller} attacks a Pipeline through its steps, in torch, and step {i} "
                f"{name!r} ({_step_name(step)}) cannot be differentiated there: {why}. "
                f"Steps before the net must be one of: {SUPPORTED_STEPS}. Transform X "
                "before the pipeline instead, or use a metric that needs only predict "
                "(rpr_score, corruption_accuracy)."
            ) from None
        front += modules
        users += step_users
    return PipelineModule(front, net_module, input_shape), users
