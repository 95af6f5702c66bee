"""The layer sequence that bound propagation walks, and each layer's affine form.

Bounds are sound only for what they model: the plain composition of stock
layers. :func:`sequential_layers` therefore accepts a module only when its
computation provably is that composition, and refuses anything else with a
:class:`TypeError` naming it:

* containers are :class:`torch.nn.Sequential` (or subclasses) whose ``forward``
  is the stock one; any other container, or a ``forward`` that adds a skip
  connection, could compute anything;
* leaf layers are the stock classes in :data:`SUPPORTED` or subclasses that
  redefine nothing their ``forward`` reads (no ``forward``, ``__call__``,
  ``_conv_forward``, no ``weight`` property, ...), with attributes the bounds
  model (e.g. zero padding, ``Flatten(1, -1)``, batch norm with running
  statistics);
* no forward hooks or pre-hooks (on any walked module or registered
  globally), no per-instance ``forward`` and no compiled call, since those
  change what ``module(x)`` computes.
"""

from __future__ import annotations

import threading

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules import module as _module_globals

from ..nets import Normalize, Residual

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
    Normalize,
)

#: Layers that scale and shift each channel (batch norm with running statistics, Normalize).
_CHANNEL_AFFINE = (nn.BatchNorm1d, nn.BatchNorm2d, Normalize)

#: Names every module's call goes through; a subclass must not redefine them.
_CALL_NAMES = (
    "__call__",
    "_wrapped_call_impl",
    "_call_impl",
    "forward",
    "__getattr__",
    "__getattribute__",
    "training",
)

_BATCH_NORM_NAMES = (
    "_check_input_dim",
    "weight",
    "bias",
    "running_mean",
    "running_var",
    "eps",
    "momentum",
    "track_running_stats",
    "num_batches_tracked",
)

#: What each stock class's ``forward`` reads (methods and attributes). A subclass that
#: redefines one of them (a method, a property) computes something the bounds do not follow.
_FORWARD_READS: dict[type, tuple[str, ...]] = {
    nn.Sequential: ("__iter__",),
    nn.Linear: ("weight", "bias"),
    nn.Conv2d: (
        "_conv_forward",
        "weight",
        "bias",
        "stride",
        "padding",
        "dilation",
        "groups",
        "padding_mode",
        "_reversed_padding_repeated_twice",
    ),
    nn.ReLU: ("inplace",),
    nn.Flatten: ("start_dim", "end_dim"),
    nn.AvgPool2d: (
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    ),
    nn.BatchNorm1d: _BATCH_NORM_NAMES,
    nn.BatchNorm2d: _BATCH_NORM_NAMES,
    nn.Dropout: ("p", "inplace"),
    nn.Identity: (),
    Normalize: ("mean", "std", "_view"),
    Residual: ("body", "shortcut"),
}

#: Methods that, set on an instance, replace what its call runs.
_INSTANCE_METHODS = (
    "forward",
    "_call_impl",
    "_wrapped_call_impl",
    "_conv_forward",
    "_check_input_dim",
)

_MISSING = object()


class ResidualNode:
    """A :class:`~robustsk.nets.Residual` block in a layer list: ``body(x) + shortcut(x)``.

    ``body`` and ``shortcut`` are the blocks' own (checked) layer lists; an empty
    ``shortcut`` is the identity. The bounds recurse into both.
    """

    __slots__ = ("module", "body", "shortcut", "_shapes")

    def __init__(self, module: nn.Module, body: list, shortcut: list):
        self.module, self.body, self.shortcut = module, body, shortcut
        self._shapes: dict = {}

    def shapes(self, in_shape: tuple, like: torch.Tensor) -> tuple[list, list]:
        """The input and output shapes of every layer of each branch, for inputs of ``in_shape``."""
        key = (tuple(in_shape), like.dtype, like.device)
        if key not in self._shapes:
            example = like.new_zeros((1, *in_shape))
            body = layer_shapes(self.body, example)
            short = layer_shapes(self.shortcut, example)
            if body[-1] != short[-1]:
                raise ValueError(
                    f"the residual block's branches disagree: its body returns examples of "
                    f"shape {body[-1]} and its shortcut of shape {short[-1]} for inputs of "
                    f"shape {tuple(in_shape)}."
                )
            self._shapes[key] = (body, short)
        return self._shapes[key]


def sequential_layers(module) -> list:
    """The layers of a (possibly nested) :class:`torch.nn.Sequential`, in order.

    Checks that ``module(x)`` is exactly the composition of the returned
    layers (see the module docstring) and raises a :class:`TypeError` naming
    the first module that is not: an unsupported layer, a container or layer
    whose call differs from the stock one, a hook, or a layer setting the
    bounds do not model. Dropout and Identity layers are left out (the
    identity in evaluation).

    Parameters
    ----------
    module : torch.nn.Sequential
        The net.

    Returns
    -------
    layers : list of torch.nn.Module
        Linear, Conv2d, ReLU, Flatten, AvgPool2d and BatchNorm layers.
    """
    return walked(module)[0]


def walked(module) -> tuple[list, list]:
    """:func:`sequential_layers`' layers, and the module calls ``module(x)`` makes."""
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"bounds need a torch.nn.Sequential of {_names()}; got a "
            f"{type(module).__name__}. For a fitted estimator pass its module_."
        )
    if not isinstance(module, nn.Sequential):
        raise TypeError(
            f"bounds need a torch.nn.Sequential of {_names()}; got {type(module).__name__}, "
            "whose forward could compute anything. robustsk's MLP and SmallCNN are sequential."
        )
    _check_global_hooks()
    layers: list = []
    stocks: set = set()
    calls: list = []
    _walk(module, type(module).__name__, layers, stocks, calls)
    _check_stock_classes(stocks)
    return layers, calls


def traced_layers(module, example: torch.Tensor, walk: tuple | None = None) -> list:
    """:func:`sequential_layers`, with the walk checked against a run of the module.

    ``module`` is run once on the first example of ``example`` (see
    :func:`check_trace`); the layers are returned only when the run called
    exactly the walked modules, in the walked order, and overwrote no residual
    block's input.

    Parameters
    ----------
    module : torch.nn.Sequential
        The net.
    example : torch.Tensor of shape (n, ...)
        Inputs of the module's shape, dtype and device (e.g. a box's lower corner).
    walk : tuple or None, default=None
        ``walked(module)`` when the caller has it already.

    Returns
    -------
    layers : list of torch.nn.Module
    """
    layers, calls = walked(module) if walk is None else walk
    layer_shapes(layers, example[:1])  # a shape the layers cannot take: a clear error first
    check_trace(module, calls, example[:1])
    return layers


def check_trace(module: nn.Module, calls: list, example: torch.Tensor) -> None:
    """Run ``module`` on ``example`` and refuse any difference from the walked ``calls``.

    The walk models ``module(x)`` as the composition of the layers it lists; this
    is the guard against anything the walk does not model. Every module of the
    walk gets forward hooks for the run (removed after it, whatever happens);
    the run must call exactly ``calls``' modules, in that order, each once per
    listed call. A :class:`~robustsk.nets.Residual` block reads its input twice,
    so an in-place operation on it (``ReLU(inplace=True)`` at the start of the
    body, or behind an identity) changes what the block adds: the input's
    version counter is read when the block starts, when its shortcut starts
    and when it ends, and the block is refused when the body overwrote the
    input before the shortcut (or the ``+ x``) read it, or the shortcut
    overwrote it while the body's output is that same tensor. The run is in
    evaluation mode (restored after) under ``torch.no_grad()``: batch-norm
    statistics, dropout and the random state are left as they were.

    Raises
    ------
    TypeError
        Naming the first call that differs from the walk, or the block whose
        input was overwritten.
    """
    thread = threading.get_ident()
    seen: list = []
    depth = [0]
    blocks: list = []  # per running block: [block, input, version, depth, children, body output]
    overwritten: list = []

    def before(mod, args):
        if threading.get_ident() != thread:
            return
        seen.append(mod)
        if blocks and depth[0] == blocks[-1][3]:  # a branch of the running block starts
            block = blocks[-1]
            block[4] += 1
            if block[4] == 2 and block[1]._version != block[2]:
                overwritten.append(block[0])  # the body overwrote what the shortcut reads
        depth[0] += 1
        if isinstance(mod, Residual) and args and isinstance(args[0], torch.Tensor):
            blocks.append([mod, args[0], args[0]._version, depth[0], 0, None])

    def after(mod, args, output):
        if threading.get_ident() != thread:
            return
        depth[0] -= 1
        if not blocks:
            return
        block = blocks[-1]
        if block[0] is mod and depth[0] == block[3] - 1:
            blocks.pop()
            x, version, children, body = block[1], block[2], block[4], block[5]
            if x._version != version and (
                children < 2 or (body is not None and _same_storage(body, x))
            ):
                overwritten.append(mod)
        elif depth[0] == block[3] and block[4] == 1:
            block[5] = output  # the body's output

    unique = list({id(m): m for _, m in calls}.values())
    modes = [m.training for m in unique]
    handles = []
    try:
        for mod in unique:
            handles.append(mod.register_forward_pre_hook(before))
            handles.append(mod.register_forward_hook(after))
            mod.training = False
        with torch.no_grad():
            module(example.detach().clone())
    finally:
        for handle in handles:
            handle.remove()
        for mod, mode in zip(unique, modes):
            mod.training = mode
    for i, (path, expected) in enumerate(calls):
        if i >= len(seen) or seen[i] is not expected:
            got = "nothing" if i >= len(seen) else f"a {type(seen[i]).__name__}"
            raise TypeError(
                f"bounds cannot go through {type(module).__name__}: running it called {got} "
                f"where the bounds follow {path!r} ({type(expected).__name__}), call {i + 1} of "
                f"{len(calls)}; its computation is not the composition of its listed layers."
            )
    if len(seen) > len(calls):
        raise TypeError(
            f"bounds cannot go through {type(module).__name__}: running it called "
            f"{len(seen)} modules where the bounds follow {len(calls)} (the extra one is a "
            f"{type(seen[len(calls)]).__name__})."
        )
    if overwritten:
        path = next(p for p, m in calls if m is overwritten[0])
        raise TypeError(
            f"bounds cannot go through {path!r} (Residual): its input is overwritten in place "
            "inside the block (e.g. ReLU(inplace=True) at the start of its body), so the "
            "block adds another tensor than its input; use ReLU(inplace=False) there."
        )


def _same_storage(a, b) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    )


def check_module(
    module, input_shape: tuple[int, ...] | None = None, n_outputs: int | None = None
) -> list:
    """Check before any work that bounds can go through ``module``.

    :func:`sequential_layers`' checks, and with ``input_shape`` also that every
    layer gets an input of the rank it is bounded for, that the module
    returns one row of ``n_outputs`` logits per example, and that a run of it
    on one example calls exactly the walked layers (:func:`check_trace`).

    Parameters
    ----------
    module : torch.nn.Sequential
        The net.
    input_shape : tuple of int or None, default=None
        Shape of one example (without the batch dimension).
    n_outputs : int or None, default=None
        Expected number of logits.

    Returns
    -------
    layers : list of torch.nn.Module
    """
    if input_shape is None:
        return sequential_layers(module)
    param = next(module.parameters(), None)
    example = torch.zeros(
        (1, *input_shape),
        dtype=param.dtype if param is not None else torch.float32,
        device=param.device if param is not None else "cpu",
    )
    layers = traced_layers(module, example)
    out_shape = layer_shapes(layers, example)[-1]
    if len(out_shape) != 1 or (n_outputs is not None and out_shape[0] != n_outputs):
        expected = "n_classes" if n_outputs is None else n_outputs
        raise ValueError(
            f"{type(module).__name__} returns outputs of shape (n, {_dims(out_shape)}) for "
            f"inputs of shape (n, {_dims(input_shape)}); bounds need logits of shape "
            f"(n, {expected})."
        )
    return layers


def check_evaluation_mode(module) -> None:
    """Raise a :class:`ValueError` when ``module`` holds a layer whose training mode
    computes something else than the bounds model (batch statistics, dropped units).

    Bounds model BatchNorm with its running statistics and Dropout as the
    identity: what these layers compute in evaluation mode.
    """
    for name, layer in module.named_modules():
        if not layer.training:
            continue
        if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)) or (
            isinstance(layer, nn.Dropout) and layer.p > 0
        ):
            where = f"layer {name!r} ({type(layer).__name__})" if name else type(layer).__name__
            raise ValueError(
                f"{where} is in training mode, where it computes something else than the "
                "bounds model (BatchNorm with its running statistics, Dropout as the "
                "identity); call module.eval() first."
            )


def _dims(shape):
    return ", ".join(str(d) for d in shape)


def _names():
    return ", ".join(t.__name__ for t in (*SUPPORTED, Residual))


def _walk(module, path, layers, stocks, calls):
    """Check ``module`` (a Sequential) and its children; append its bounded leaf layers.

    The children are what ``Sequential.forward`` iterates (``_modules``' values, a
    module registered twice included each time), not ``named_children()``, which
    lists a reused module once: a reused layer is a layer each time it runs.
    ``calls`` gets ``(path, module)`` for every module call ``module(x)`` makes, in
    order, for :func:`check_trace`.
    """
    _check_call(module, path, nn.Sequential)
    stocks.add(nn.Sequential)
    calls.append((path, module))
    for name, child in module._modules.items():
        where = f"{path}.{name}"
        if not isinstance(child, nn.Module):
            raise TypeError(
                f"bounds cannot go through {where!r}: it is {child!r}, not a module, so "
                f"{type(module).__name__}.forward cannot call it."
            )
        if isinstance(child, nn.Sequential):
            _walk(child, where, layers, stocks, calls)
            continue
        if isinstance(child, Residual):
            _check_call(child, where, Residual)
            stocks.add(Residual)
            calls.append((where, child))
            for name in ("body", "shortcut"):
                branch = getattr(child, name)
                if not (branch is None and name == "shortcut") and not isinstance(
                    branch, nn.Sequential
                ):
                    raise TypeError(
                        f"bounds cannot go through {where!r} (Residual): its {name} is a "
                        f"{type(branch).__name__}, not a torch.nn.Sequential."
                    )
            body: list = []
            shortcut: list = []
            _walk(child.body, f"{where}.body", body, stocks, calls)
            if child.shortcut is not None:
                _walk(child.shortcut, f"{where}.shortcut", shortcut, stocks, calls)
            layers.append(ResidualNode(child, body, shortcut))
            continue
        stock = next((k for k in type(child).__mro__ if k in _FORWARD_READS), None)
        if stock is None or stock is nn.Sequential:
            raise TypeError(
                f"bounds cannot go through layer {where!r}, a {type(child).__name__}; "
                f"supported layers: {_names()} (and nn.Sequential containers)."
            )
        _check_call(child, where, stock)
        stocks.add(stock)
        _check_layer(child, where)
        calls.append((where, child))
        if not isinstance(child, (nn.Dropout, nn.Identity)):
            layers.append(child)


def _resolve(cls, name):
    """What ``name`` resolves to on the class ``cls`` (``_MISSING`` when nothing)."""
    for klass in cls.__mro__:
        value = klass.__dict__.get(name, _MISSING)
        if value is not _MISSING:
            return value
    return _MISSING


#: What the stock classes' call goes through, captured at import.
_STOCK_CALL = {
    stock: tuple((name, _resolve(stock, name)) for name in _CALL_NAMES + reads)
    for stock, reads in _FORWARD_READS.items()
}
_STOCK_MRO = {stock: frozenset(stock.__mro__) for stock in _FORWARD_READS}


def _check_stock_classes(stocks):
    """Refuse when a stock class itself was patched since import (e.g. ``nn.Linear.forward``)."""
    for stock in stocks:
        for name, value in _STOCK_CALL[stock]:
            if _resolve(stock, name) is not value:
                raise TypeError(
                    f"bounds cannot be computed: torch.nn.{stock.__name__}.{name} was replaced "
                    "after robustsk was imported, so the stock layers the bounds follow are "
                    "not what runs."
                )


def _check_call(module, where, stock):
    """Refuse a module whose call differs from ``stock``'s: overrides, hooks, compilation."""
    cls = type(module)
    label = f"{where!r} ({cls.__name__})" if cls.__name__ != where else repr(where)
    if cls is not stock:  # only classes outside the stock class's own MRO can redefine a name
        stock_mro = _STOCK_MRO[stock]
        for klass in cls.__mro__:
            if klass in stock_mro:
                continue
            for name, _ in _STOCK_CALL[stock]:
                if name in klass.__dict__:
                    raise TypeError(
                        f"bounds cannot go through {label}: {klass.__name__} redefines "
                        f"{name!r} of {stock.__name__}, so its output may differ from the "
                        f"stock layers the bounds follow. Use a plain {stock.__name__}, or a "
                        "subclass that keeps the stock forward."
                    )
    for name in _INSTANCE_METHODS:
        if name in vars(module):
            raise TypeError(
                f"bounds cannot go through {label}: its {name!r} is replaced on the instance."
            )
    for kind in ("_forward_pre_hooks", "_forward_hooks"):
        if getattr(module, kind):
            raise TypeError(
                f"bounds cannot go through {label}: it has forward "
                f"{'pre-' if 'pre' in kind else ''}hooks, which change its output "
                "(pruning and lazy modules use them too); remove them first."
            )
    if module._compiled_call_impl is not None:
        raise TypeError(
            f"bounds cannot go through {label}: it is compiled (module.compile()); bound "
            "the uncompiled module."
        )


def _check_global_hooks():
    if _module_globals._global_forward_pre_hooks or _module_globals._global_forward_hooks:
        raise TypeError(
            "bounds cannot be computed while global forward hooks are registered "
            "(torch.nn.modules.module.register_module_forward_hook or "
            "register_module_forward_pre_hook): they change every module's output."
        )


def _check_tensor(layer, where, name, *, optional=False):
    value = getattr(layer, name)
    if value is None and optional:
        return
    if type(value) not in (torch.Tensor, nn.Parameter):
        raise TypeError(
            f"bounds cannot go through {where!r} ({type(layer).__name__}): its {name} is a "
            f"{type(value).__name__}, not a plain torch.Tensor or Parameter."
        )


def _check_layer(layer, where):
    """Refuse layer settings the bounds do not model."""
    label = f"{where!r} ({type(layer).__name__})"
    if isinstance(layer, (nn.Linear, nn.Conv2d)):
        _check_tensor(layer, where, "weight")
        _check_tensor(layer, where, "bias", optional=True)
    if isinstance(layer, nn.Conv2d):
        if layer.padding_mode != "zeros":
            raise TypeError(
                f"bounds cannot go through {label}: padding_mode={layer.padding_mode!r} is not "
                "supported; use 'zeros'."
            )
        if layer.padding == "same" and any(
            d * (k - 1) % 2 for d, k in zip(layer.dilation, layer.weight.shape[-2:])
        ):
            raise TypeError(
                f"bounds cannot go through {label}: padding='same' pads unevenly for this "
                "kernel size and dilation; use an odd kernel or explicit padding."
            )
    if isinstance(layer, nn.Flatten) and (layer.start_dim, layer.end_dim) != (1, -1):
        raise TypeError(
            f"bounds cannot go through {label}: start_dim={layer.start_dim}, "
            f"end_dim={layer.end_dim}; only Flatten(start_dim=1, end_dim=-1) is supported."
        )
    if isinstance(layer, nn.AvgPool2d) and (
        layer.ceil_mode
        or (_pair(layer.padding) != (0, 0) and not layer.count_include_pad)
        or layer.divisor_override is not None
    ):
        raise TypeError(
            f"bounds cannot go through {label}: AvgPool2d is supported with ceil_mode=False, "
            "no divisor_override and count_include_pad=True when padded."
        )
    if isinstance(layer, Normalize):
        for name in ("mean", "std"):
            _check_tensor(layer, where, name)
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if layer.running_mean is None or layer.running_var is None:
            raise TypeError(
                f"bounds cannot go through {label}: it has no running statistics "
                "(track_running_stats=False), so it normalizes by batch statistics even in "
                "evaluation mode."
            )
        for name in ("running_mean", "running_var"):
            _check_tensor(layer, where, name)
        for name in ("weight", "bias"):
            _check_tensor(layer, where, name, optional=True)


#: Rank of one example (without the batch dimension) each layer is bounded for.
_INPUT_RANKS = (
    (nn.Linear, (1,)),
    (nn.Conv2d, (3,)),
    (nn.AvgPool2d, (3,)),
    (nn.BatchNorm2d, (3,)),
    (nn.BatchNorm1d, (1, 2)),
)


def check_input(layer, shape, like: torch.Tensor | None = None) -> None:
    """Raise a :class:`ValueError` when ``layer`` gets examples of a rank it is not
    bounded for (e.g. a Linear layer applied to images, a Conv2d to flat rows), or
    when its tensors' dtype or device differ from those of the bounds ``like``."""
    if like is not None:
        for name in ("weight", "bias", "running_mean", "running_var", "mean", "std"):
            value = getattr(layer, name, None)
            if isinstance(value, torch.Tensor) and (
                value.dtype != like.dtype or value.device != like.device
            ):
                raise ValueError(
                    f"{type(layer).__name__}.{name} is {value.dtype} on {value.device} but the "
                    f"input box is {like.dtype} on {like.device}; move one to the other "
                    "(module.to(...) or lower.to(...), upper.to(...))."
                )
    if isinstance(layer, ResidualNode):
        return
    for cls, ranks in _INPUT_RANKS:
        if isinstance(layer, cls) and len(shape) not in ranks:
            raise ValueError(
                f"{type(layer).__name__} gets examples of shape {tuple(shape)}; bounds need "
                f"{' or '.join(str(r) for r in ranks)}-dimensional examples there "
                "(flatten images before Linear layers)."
            )


def layer_shapes(layers, example) -> list:
    """Shape (without batch) of the input of every layer, then of the output."""
    shapes = [tuple(example.shape[1:])]
    with torch.no_grad():
        x = example[:1].detach()
        for layer in layers:
            check_input(layer, shapes[-1], example)
            if isinstance(layer, (nn.ReLU, *_CHANNEL_AFFINE)):
                shapes.append(shapes[-1])
                continue
            if isinstance(layer, ResidualNode):
                out = layer.shapes(shapes[-1], example)[0][-1]
                shapes.append(out)
                x = x.new_zeros((1, *out))
                continue
            x = linear_part(layer, x.reshape(1, *shapes[-1]))
            shapes.append(tuple(x.shape[1:]))
    return shapes


def _bn_affine(layer):
    """Scale and shift of a batch-norm layer with its running statistics (or of Normalize)."""
    if isinstance(layer, Normalize):
        scale = layer.std.reciprocal()
        return scale, -layer.mean * scale
    scale = layer.running_var.add(layer.eps).rsqrt()
    if layer.weight is not None:
        scale = scale * layer.weight
    shift = -layer.running_mean * scale
    if layer.bias is not None:
        shift = shift + layer.bias
    return scale, shift


def _channel_view(v, ndim):
    return v.view(-1, *([1] * (ndim - 2)))


def _conv_padding(layer):
    """The Conv2d's zero padding as two ints ('valid' and even 'same' resolved)."""
    if layer.padding == "valid":
        return (0, 0)
    if layer.padding == "same":
        kernel = layer.weight.shape[-2:]
        return tuple(d * (k - 1) // 2 for d, k in zip(layer.dilation, kernel))
    return _pair(layer.padding)


def _avg_pool(layer, x):
    return F.avg_pool2d(
        x,
        layer.kernel_size,
        layer.stride,
        layer.padding,
        layer.ceil_mode,
        layer.count_include_pad,
        layer.divisor_override,
    )


def linear_part(layer, x):
    """The layer without its bias (a linear map), applied to ``x``."""
    if isinstance(layer, nn.Linear):
        return F.linear(x, layer.weight)
    if isinstance(layer, nn.Conv2d):
        return F.conv2d(
            x, layer.weight, None, layer.stride, _conv_padding(layer), layer.dilation, layer.groups
        )
    if isinstance(layer, nn.AvgPool2d):
        return _avg_pool(layer, x)
    if isinstance(layer, _CHANNEL_AFFINE):
        scale, _ = _bn_affine(layer)
        return x * _channel_view(scale, x.dim()) if x.dim() > 2 else x * scale
    if isinstance(layer, nn.Flatten):
        return x.flatten(1)
    raise TypeError(f"{type(layer).__name__} is not affine.")


def abs_linear_part(layer, x):
    """``|W| x`` for the layer's linear map ``W`` (``x`` is a non-negative radius)."""
    if isinstance(layer, nn.Linear):
        return F.linear(x, layer.weight.abs())
    if isinstance(layer, nn.Conv2d):
        return F.conv2d(
            x,
            layer.weight.abs(),
            None,
            layer.stride,
            _conv_padding(layer),
            layer.dilation,
            layer.groups,
        )
    if isinstance(layer, _CHANNEL_AFFINE):
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
    if isinstance(layer, _CHANNEL_AFFINE):
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
            _conv_padding(layer),
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
    if isinstance(layer, _CHANNEL_AFFINE):
        scale, _ = _bn_affine(layer)
        return A * (_channel_view(scale, A.dim()) if A.dim() > 2 else scale)
    raise TypeError(f"{type(layer).__name__} is not affine.")


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
