"""EGL: expected gradient length, from per-example gradient norms computed in batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn
from torch.func import functional_call, jacrev, vmap

from ..utils import (
    DEFAULT_BLOCK_SIZE,
    Interval,
    RandomStateLike,
    TorchClassifier,
    batches,
    declare_params,
    fill_doc,
    map_pool,
)
from ._base import check_pool, check_query, query_strategy, select_top
from ._docstrings import PARTS


def _factorizable(module: nn.Module) -> bool:
    """Whether every parameter sits in a Linear or (ungrouped) Conv2d layer."""
    for m in module.modules():
        own = list(m.parameters(recurse=False))
        if not own:
            continue
        if isinstance(m, nn.Linear):
            continue
        if isinstance(m, nn.Conv2d) and m.groups == 1 and m.padding_mode == "zeros":
            continue
        return False
    return True


def _layer_input(layer, a):
    """What a layer's weight gradient multiplies: the input, unfolded for a convolution."""
    if isinstance(layer, nn.Conv2d):
        return F.unfold(
            a,
            layer.kernel_size,
            dilation=layer.dilation,
            padding=layer.padding,
            stride=layer.stride,
        ).transpose(1, 2)  # (batch, L, K)
    return a


def _layer_sq_norms(layer, a, delta):
    """Per-example squared norm of one layer's parameter gradient, for one class.

    ``a`` is the layer's (unfolded) input and ``delta`` the gradient of the
    class's ``log p_c`` with respect to the layer's output, shape (batch, ...).
    Returns (batch,).
    """
    b = delta.shape[0]
    if isinstance(layer, nn.Linear):
        a2 = a.reshape(b, -1, a.shape[-1])  # (batch, T, in)
        d2 = delta.reshape(b, -1, delta.shape[-1])  # (batch, T, out)
        if a2.shape[1] == 1:  # the gradient is the outer product delta a^T
            sq = d2[:, 0].pow(2).sum(1) * a2[:, 0].pow(2).sum(1)
        else:
            sq = torch.bmm(d2.transpose(1, 2), a2).flatten(1).pow(2).sum(1)  # (batch,)
        if layer.bias is not None:
            sq = sq + d2.sum(1).pow(2).sum(1)
        return sq
    # Conv2d: the gradient is delta (O x L) times the unfolded input (L x K).
    d = delta.flatten(2)  # (batch, O, L)
    sq = torch.bmm(d, a).flatten(1).pow(2).sum(1)
    if layer.bias is not None:
        sq = sq + d.sum(2).pow(2).sum(1)
    return sq


def _grad_sq_norms_hooks(net, x):
    """(batch, C) squared gradient norms of log p_c, via layer inputs and output gradients.

    One backward pass per class to the layers' outputs (not to the weights), each
    followed at once by the per-example norms of that class's weight gradients, so no
    ``(C, batch, ...)`` gradient tensor is ever stacked or copied (measured: batching the C
    passes with ``is_grads_batched`` costs more here, in the copies that max-pooling's
    backward needs without a batching rule)."""
    layers = [m for m in net.module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    inputs, outputs = {}, {}

    def keep(mod, args, out):
        inputs[mod] = _layer_input(mod, args[0].detach())
        outputs[mod] = out

    handles = [m.register_forward_hook(keep) for m in layers]
    try:
        with torch.enable_grad():
            log_p = net.log_proba(net.module(x))  # (batch, C)
            outs = [outputs[m] for m in layers]
            n_classes = log_p.shape[1]
            sq = torch.zeros(x.shape[0], n_classes, device=x.device)
            for c in range(n_classes):
                deltas = torch.autograd.grad(
                    log_p[:, c].sum(), outs, retain_graph=c < n_classes - 1
                )
                for layer, delta in zip(layers, deltas):
                    sq[:, c] += _layer_sq_norms(layer, inputs[layer], delta)
    finally:
        for h in handles:
            h.remove()
    return sq, log_p.detach().exp()


def _grad_sq_norms_jacobian(net, x):
    """The same through a per-example Jacobian (any architecture, more memory)."""
    module = net.module
    params = {k: v.detach() for k, v in module.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in module.named_buffers()}

    def log_proba_one(p, xi):
        return net.log_proba(functional_call(module, (p, buffers), (xi.unsqueeze(0),)))[0]

    jac = vmap(jacrev(log_proba_one), in_dims=(None, 0))(params, x)  # (batch, C, *param)
    sq = sum(j.flatten(2).pow(2).sum(dim=2) for j in jac.values())
    with torch.no_grad():
        proba = net.log_proba(module(x)).exp()
    return sq, proba


@declare_params({"batch_size": [Interval(1, integer=True)]})
def egl_scores(classifier: Any, X_pool: np.ndarray, *, batch_size: int = 128) -> np.ndarray:
    """``sum_c p_c ||grad_theta L(x, c)||`` for every pool example (Eq. 11).

    The cross-entropy gradient for label ``c`` is minus the gradient of
    ``log p_c``. For networks whose parameters all sit in ``Linear`` and
    ``Conv2d`` layers, one backward pass per label runs to the layer outputs
    (not the weights), and the per-example
    parameter-gradient norms follow from each
    layer's input and output gradient (an outer product for a linear layer, an
    unfolded product for a convolution) without materializing per-example
    gradients. Other architectures use a per-example Jacobian
    (:func:`torch.func.vmap` of :func:`torch.func.jacrev`).

    Parameters
    ----------
    classifier : fitted robustsk estimator or skorch net
    X_pool : array-like of shape (n_pool, ...)
        Examples to score.
    batch_size : int, default=128
        Examples per batch.

    Returns
    -------
    scores : ndarray of shape (n_pool,)
    """
    net = TorchClassifier(classifier, "egl")
    X_pool = check_pool(X_pool, classifier, caller="egl_scores")
    fast = _factorizable(net.module)
    scores = np.empty(X_pool.shape[0])
    with net.evaluating():
        for s in batches(X_pool.shape[0], batch_size if fast else min(batch_size, 64)):
            x = net.tensor(X_pool[s])
            sq, proba = (_grad_sq_norms_hooks if fast else _grad_sq_norms_jacobian)(net, x)
            scores[s] = (proba * sq.clamp_min(0).sqrt()).sum(dim=1).double().cpu().numpy()
    return scores


@query_strategy()
@fill_doc(**PARTS)
def egl(
    classifier: Any,
    X_pool: ArrayLike,
    n_instances: int = 1,
    *,
    random_state: RandomStateLike = None,
    batch_size: int = 128,
    n_jobs: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Select the examples whose expected gradient length is largest (EGL).

    Parameters
    ----------
    {torch_classifier}
    {pool}
    random_state : None, int or numpy Generator, default=None
        Breaks ties.
    batch_size : int, default=128
        Examples per batch.
    {parallel}

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
        Expected gradient lengths.
    """
    estimator, X_pool, rng = check_query(classifier, X_pool, n_instances, random_state, name="egl")
    TorchClassifier(estimator, "egl")  # a torch network, or a TypeError before any work
    scores = map_pool(
        _egl_block,
        X_pool,
        n_jobs=n_jobs,
        block_size=block_size,
        estimator=estimator,
        batch_size=batch_size,
    )
    return select_top(scores, n_instances, rng)


def _egl_block(X, *, estimator, batch_size):
    return egl_scores(estimator, X, batch_size=batch_size)
