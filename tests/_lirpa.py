"""auto_LiRPA 0.3 as an independent, test-only reference for IBP / CROWN-IBP / CROWN bounds.

auto_LiRPA (the Verified-Intelligence project's PyPI release) is not a
dependency of robustsk: tests that compare against it call
:func:`lirpa_available` and ``pytest.skip`` when it returns False. Install it
(without its pins, which ask for torch<1.13 and torchvision) with::

    pip install --no-deps auto_LiRPA==0.3 appdirs

``appdirs`` is its only import-time dependency that robustsk does not already
bring (tqdm and numpy come with robustsk; it also imports setuptools, which a
Python 3.11 venv has: add ``setuptools`` to that line on Python 3.12+). pip's
later installs print an "ERROR: ... auto-lirpa 0.3 requires torch<1.13.0"
resolver notice but exit 0. The wheel also installs an unrelated
top-level ``examples`` package into site-packages; robustsk's ``examples/`` has
no ``__init__.py`` and is not imported as a package, so nothing clashes.

Compatibility patches
---------------------
auto_LiRPA 0.3 (Sept. 2022) targets torch 1.11/1.12 and numpy 1.x. On torch
2.x / numpy 2.x six things break. :func:`_apply_patches` fixes each once per
process, at run time and never by editing site-packages. Patches 1-4 only *add*
a missing name (an existing one is never replaced) and are applied before the
import; 5-6 wrap two auto_LiRPA methods after it:

1. ``numpy.lib.arraysetops`` (private since numpy 2): auto_LiRPA's
   ``operators/base.py`` does ``from numpy.lib.arraysetops import isin`` at
   import time. The patch registers ``sys.modules["numpy.lib.arraysetops"]`` as
   an alias of ``numpy.lib._arraysetops_impl`` (or, failing that, a stub module
   holding ``numpy.isin``).
2. ``torch._six`` (removed in torch 2.0): ``BoundedModule.register_parameter``
   (called while the graph is converted) checks
   ``isinstance(name, torch._six.string_classes)``. The patch registers a stub
   ``torch._six`` module with ``string_classes = (str, bytes)``.
3. The private ONNX helpers ``auto_LiRPA/parse_graph.py`` imports at import
   time, ``from torch.onnx.utils import _optimize_graph`` and
   ``from torch.onnx.symbolic_helper import _set_opset_version``: in torch 2.x
   the TorchScript ONNX exporter moved to
   ``torch.onnx._internal.torchscript_exporter``, and ``torch.onnx.utils`` /
   ``torch.onnx.symbolic_helper`` re-export only public names, so the imports
   fail. The patch sets ``torch.onnx.utils._optimize_graph`` to the moved
   ``torchscript_exporter.utils._optimize_graph`` (the same lowering of the
   traced graph to ONNX ops), and defines the removed
   ``torch.onnx.symbolic_helper._set_opset_version(v)`` as
   ``GLOBALS.export_onnx_opset_version = v`` (what it did in torch 1.x).
   auto_LiRPA calls it with opset 12 before lowering; :func:`lirpa_bounds`
   restores the exporter's previous opset after each conversion.
4. ``torch._C.Node.__getitem__`` (``node["attr"]``), which old
   ``torch.onnx.utils`` monkey-patched onto ``torch._C.Node`` and torch 2.x no
   longer does: ``parse_graph`` reads node attributes with
   ``{k: n[k] for k in n.attributeNames()}``. The patch restores it as
   ``getattr(node, node.kindOf(k))(k)`` (torch's ``symbolic_helper._node_get``).
5. ``BoundedModule._named_members`` overrides ``nn.Module``'s with torch 1.x's
   signature; torch 2.x passes ``remove_duplicate=``, so
   ``BoundedModule.parameters()`` raises ``TypeError`` (hit by CROWN with
   ``conv_mode="matrix"``, through ``get_sparse_C``). The patch wraps it to
   accept and ignore ``remove_duplicate``.
6. ``BoundMatMul.interval_propagate`` takes no ``C``: a ``Linear`` without bias
   is traced as ``MatMul``, and when it is the last layer IBP merges ``C`` into it
   and crashes with ``TypeError``. The patch forwards ``C`` to
   ``BoundLinear.interval_propagate``, which handles it (the weight is
   transposed by ``_preprocess`` as for any MatMul).

Importing auto_LiRPA also has process-wide side effects, undone right after the
import: ``warnings.simplefilter("once")`` (twice), ``logging.basicConfig
(stream=sys.stdout)`` on the root logger, and
``torch._C._jit_set_profiling_executor(False)`` / ``_jit_set_profiling_mode
(False)``. (It also creates an empty ``~/.local/share/auto_LiRPA`` folder.)

:func:`lirpa_bounds` also works around two run-time traps. ``BoundedModule``
converts a model that has ``Dropout`` in *train* mode (then ``BoundDropout``
drops at random unless the bounded module is put in eval mode), but
``BoundParams.forward`` calls ``param.requires_grad_(self.training)`` on the
model's own, shared parameters, so a plain ``bounded.eval()`` would freeze
them: the helper puts every node in eval mode except the ``BoundParams``, whose
flag is set to what each parameter had (and restores ``requires_grad`` and the
training flags afterwards). And CROWN in the default ``conv_mode="patches"``
ignores a ``Conv2d``'s dilation (unsound bounds), so a net with a dilated
convolution is bounded with ``conv_mode="matrix"``.

Layers
------
With these, ``BoundedModule(model, x)`` and ``compute_bounds`` match a
hand-written dense implementation of each method (to ~1e-16 in float64, ~1e-6
in float32) on ``nn.Sequential`` nets, nested ones included, of Linear (with or
without bias), Conv2d (stride, zero padding, dilation), ReLU, Flatten,
BatchNorm1d/2d and Dropout (both in eval mode: BatchNorm is the per-channel
affine map of its running statistics, in IBP as centre/radius, in CROWN folded
into the coefficients) and AvgPool2d (a non-negative linear map: IBP pools the
lower and upper bounds). AvgPool2d is bounded wrongly by the backward methods
unless ``stride == kernel_size`` and there is no padding (0.3's backward
up-samples the coefficients by the kernel size), and ``ceil_mode=True``,
``divisor_override`` and ``count_include_pad=False`` with padding are not
supported at all: the helper raises ``NotImplementedError`` for these.
(With the non-default option ``sparse_intermediate_bounds=False``, CROWN
through an AvgPool2d crashes in "patches" mode.)

What the methods compute (auto_LiRPA 0.3, default options)
---------------------------------------------------------
With ``C`` of shape ``(batch, n_spec, n_classes)`` the bounds are on
``C @ logits``, shape ``(batch, n_spec)``.

* ``"IBP"``: interval propagation layer by layer, except that when the last
  layer is a ``Linear`` it is merged with ``C`` ("elided": the box of the last
  hidden layer is pushed through ``C W`` and ``C b``), which is tighter than
  boxing the logits and applying ``C``. (When the last layer is not a Linear,
  ``C`` is applied to the logits' box.)
* ``"CROWN-IBP"`` (``compute_bounds`` maps it to ``method="backward"`` with
  ``IBP=True``; "IBP+backward" is a synonym): the IBP bounds above for every
  intermediate (pre-activation) layer, then one CROWN backward pass from ``C``
  (the spec is the objective) to the input box. ReLU relaxation for an
  unstable neuron (l < 0 < u): upper line u (x - l) / (u - l); lower line ``x``
  if u > -l, else 0 ("adaptive"), the same for the lower and the upper bound
  of the spec. The returned bounds are the backward ones alone (not
  intersected with IBP's).
* ``"CROWN"``: the same backward pass, but each pre-activation layer's bounds
  come from their own CROWN backward pass (the first affine block's are exact).
  auto_LiRPA runs those passes only for the neurons an IBP step (from the
  previous layer's bounds) finds unstable, unless more than 90 % are, and keeps
  the IBP bounds of the others; the final bound equals plain CROWN's unless a
  neuron is stable by IBP and not by CROWN (then auto_LiRPA's is tighter).
  Much costlier than CROWN-IBP: use it on tiny inputs only.

``bound_lower`` and ``bound_upper`` are left at their default True (``ub`` is the
backward upper bound of ``C @ logits``); no other option is needed. Float64
models and boxes work too. Timing (1 CPU thread, robustsk's SmallCNN on 28x28,
batch 256, margin C): IBP ~0.03 s + 0.03 s backward; CROWN-IBP ~0.4 s bounds
+ ~0.35 s backward; CROWN ~25 s + ~50 s.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import types
import warnings

import torch

__all__ = ["lirpa_available", "lirpa_bounds", "METHODS"]

#: ``method`` names :func:`lirpa_bounds` accepts (passed to ``compute_bounds`` as is).
METHODS = ("IBP", "CROWN-IBP", "CROWN")

_STATE: dict = {}  # "ok": bool, "error": str, "lirpa": the auto_LiRPA module


def _onnx_globals():
    from torch.onnx._internal.torchscript_exporter._globals import GLOBALS

    return GLOBALS


def _apply_patches():
    """Apply the compatibility patches (see the module docstring) and import auto_LiRPA."""
    import numpy as np

    # 1. numpy.lib.arraysetops
    try:
        import numpy.lib.arraysetops  # noqa: F401
    except ImportError:
        try:
            import numpy.lib._arraysetops_impl as impl
        except ImportError:
            impl = types.ModuleType("numpy.lib.arraysetops")
            impl.isin = np.isin
        sys.modules["numpy.lib.arraysetops"] = impl

    # 2. torch._six
    if "torch._six" not in sys.modules and not hasattr(torch, "_six"):
        six = types.ModuleType("torch._six")
        six.string_classes = (str, bytes)
        sys.modules["torch._six"] = six
        torch._six = six

    # 3. private ONNX helpers
    import torch.onnx.symbolic_helper as symbolic_helper
    import torch.onnx.utils as onnx_utils

    if not hasattr(onnx_utils, "_optimize_graph"):
        from torch.onnx._internal.torchscript_exporter import utils as ts_utils

        onnx_utils._optimize_graph = ts_utils._optimize_graph
    if not hasattr(symbolic_helper, "_set_opset_version"):

        def _set_opset_version(opset_version):
            _onnx_globals().export_onnx_opset_version = opset_version

        symbolic_helper._set_opset_version = _set_opset_version

    # 4. Node.__getitem__
    if not hasattr(torch._C.Node, "__getitem__"):

        def _node_getitem(node, key):
            return getattr(node, node.kindOf(key))(key)

        torch._C.Node.__getitem__ = _node_getitem

    # Import, undoing the import's process-wide side effects.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    jit_setters = [
        getattr(torch._C, name, None)
        for name in ("_jit_set_profiling_executor", "_jit_set_profiling_mode")
    ]
    jit_setters = [(f, f(True)) for f in jit_setters if f is not None]  # f returns the old
    try:
        # record=True swallows what the import warns (torch.jit.script deprecation),
        # which its own simplefilter("once") would otherwise print; the filters it
        # sets are restored on exit.
        with warnings.catch_warnings(record=True):
            import auto_LiRPA
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
        for setter, old in jit_setters:
            setter(old)

    # 5. BoundedModule._named_members without remove_duplicate
    bounded_module = auto_LiRPA.BoundedModule
    if not getattr(bounded_module._named_members, "_robustsk_patched", False):
        named_members = bounded_module._named_members

        def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
            return named_members(self, get_members_fn, prefix=prefix, recurse=recurse)

        _named_members._robustsk_patched = True
        bounded_module._named_members = _named_members

    # 6. BoundMatMul.interval_propagate without C
    from auto_LiRPA.operators import BoundLinear, BoundMatMul

    if not getattr(BoundMatMul.interval_propagate, "_robustsk_patched", False):

        def interval_propagate(self, *v, C=None):
            return BoundLinear.interval_propagate(self, *v, C=C)

        interval_propagate._robustsk_patched = True
        BoundMatMul.interval_propagate = interval_propagate

    logging.getLogger("auto_LiRPA.utils").setLevel(logging.WARNING)  # its one logger
    return auto_LiRPA


def lirpa_available() -> bool:
    """True when auto_LiRPA imports (patched) and bounds a tiny net; never raises."""
    if "ok" not in _STATE:
        try:
            _STATE["lirpa"] = _apply_patches()
            net = torch.nn.Sequential(
                torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)
            )
            x = torch.zeros(1, 2, 2)
            C = torch.tensor([[[1.0, -1.0]]])
            for method in METHODS:
                _bounds(net, x - 1, x + 1, C, method)
            _STATE["ok"] = True
        except Exception as exc:  # ImportError, or an incompatibility not patched
            _STATE["ok"], _STATE["error"] = False, f"{type(exc).__name__}: {exc}"
    return _STATE["ok"]


def lirpa_unavailable_reason() -> str:
    """Why :func:`lirpa_available` is False ('' when it is True), for skip messages."""
    lirpa_available()
    return _STATE.get("error", "")


def lirpa_bounds(model, lower, upper, C, method, bound_opts=None):
    """auto_LiRPA's bounds on ``C @ model(x)`` for every ``x`` in ``[lower, upper]``.

    Parameters
    ----------
    model : torch.nn.Module
        The net (an ``nn.Sequential`` of the layers listed in the module
        docstring). It is put in eval mode for the call (BatchNorm with its
        running statistics, Dropout the identity) and its modules' training
        flags are restored afterwards. auto_LiRPA shares the model's parameters,
        so the returned bounds are differentiable with respect to them.
    lower, upper : torch.Tensor
        Per-element input box, shape ``(batch, *input_shape)``.
    C : torch.Tensor
        Specification, shape ``(batch, n_spec, n_classes)``; e.g. the margin
        matrix with rows ``e_y - e_j`` (true class minus each other class).
    method : {"IBP", "CROWN-IBP", "CROWN"}
    bound_opts : dict, optional
        Extra ``BoundedModule`` options (e.g. ``{"conv_mode": "matrix"}``).

    Returns
    -------
    lb, ub : torch.Tensor
        Shape ``(batch, n_spec)``.
    """
    if not lirpa_available():
        raise RuntimeError(f"auto_LiRPA is not usable: {_STATE.get('error')}")
    return _bounds(model, lower, upper, C, method, bound_opts)


def _bounds(model, lower, upper, C, method, bound_opts=None):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    lirpa = _STATE["lirpa"]
    bound_opts = dict(bound_opts or {})
    for layer in model.modules():
        if isinstance(layer, torch.nn.AvgPool2d):
            _check_avg_pool(layer, method)
        if isinstance(layer, torch.nn.Conv2d) and _pair(layer.dilation) != (1, 1):
            # "patches" mode ignores dilation in CROWN's intermediate bounds.
            bound_opts.setdefault("conv_mode", "matrix")
    flags = [(m, m.training) for m in model.modules()]
    grads = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    globals_ = _onnx_globals()
    opset = globals_.export_onnx_opset_version
    try:
        with warnings.catch_warnings(record=True), contextlib.redirect_stdout(io.StringIO()):
            bounded = lirpa.BoundedModule(
                model, torch.zeros_like(lower[:1]), bound_opts=bound_opts or None
            )
        # Evaluation mode for every node (a model with Dropout is converted in train
        # mode, so BoundDropout would drop), except that BoundParams.forward calls
        # ``param.requires_grad_(self.training)`` on the model's own (shared)
        # parameters: its training flag is set to what each parameter had.
        bounded.eval()
        for node in bounded.modules():
            if isinstance(node, lirpa.operators.BoundParams):
                node.training = node.param.requires_grad
        globals_.export_onnx_opset_version = opset
        ptb = lirpa.PerturbationLpNorm(norm=float("inf"), x_L=lower, x_U=upper)
        x = lirpa.BoundedTensor((lower + upper) / 2, ptb)
        lb, ub = bounded.compute_bounds(x=(x,), C=C, method=method)
    finally:
        globals_.export_onnx_opset_version = opset
        for m, training in flags:
            m.training = training
        for p, requires_grad in grads:
            p.requires_grad_(requires_grad)
    return lb, ub


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _check_avg_pool(layer, method):
    """Raise NotImplementedError where auto_LiRPA 0.3 would be wrong for this AvgPool2d."""
    kernel, padding = _pair(layer.kernel_size), _pair(layer.padding)
    stride = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
    if (
        layer.ceil_mode
        or layer.divisor_override is not None
        or (padding != (0, 0) and not layer.count_include_pad)
    ):
        # BoundAveragePool hard-codes ceil_mode=False, count_include_pad=True.
        raise NotImplementedError(f"auto_LiRPA 0.3 does not bound {layer}")
    if method != "IBP" and (stride != kernel or padding != (0, 0)):
        # Its backward up-samples by the kernel size: unsound otherwise.
        raise NotImplementedError(
            f"auto_LiRPA 0.3's {method} is wrong through {layer} (needs stride == kernel_size "
            "and no padding); use method='IBP'"
        )


def bounded_module(model, example, bound_opts=None):
    """Build auto_LiRPA's ``BoundedModule`` once; return ``bound(lower, upper, C, method) -> lb``.

    For benchmarks: the conversion (graph tracing) is paid once, as in a
    training loop, and each call only computes bounds (lower bounds only, as
    a training loss needs). The model stays in eval mode.
    """
    if not lirpa_available():
        raise RuntimeError(f"auto_LiRPA is not usable: {_STATE.get('error')}")
    lirpa = _STATE["lirpa"]
    model.eval()
    globals_ = _onnx_globals()
    opset = globals_.export_onnx_opset_version
    try:
        with warnings.catch_warnings(record=True), contextlib.redirect_stdout(io.StringIO()):
            bounded = lirpa.BoundedModule(
                model, torch.zeros_like(example[:1]), bound_opts=bound_opts or None
            )
        bounded.eval()
        for node in bounded.modules():
            if isinstance(node, lirpa.operators.BoundParams):
                node.training = node.param.requires_grad
    finally:
        globals_.export_onnx_opset_version = opset

    def bound(lower, upper, C, method):
        ptb = lirpa.PerturbationLpNorm(norm=float("inf"), x_L=lower, x_U=upper)
        x = lirpa.BoundedTensor((lower + upper) / 2, ptb)
        lb, _ = bounded.compute_bounds(x=(x,), C=C, method=method, bound_upper=False)
        return lb

    return bound
