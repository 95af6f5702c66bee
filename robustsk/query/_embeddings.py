"""Penultimate-layer embeddings of a torch classifier, streamed in batches."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..utils import Interval, TorchClassifier, batches, declare_params
from ._base import check_pool


def last_linear(module: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` of ``module`` in registration order (the output layer)."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError(f"{type(module).__name__} has no Linear layer to take embeddings from.")
    return linears[-1]


@declare_params({"batch_size": [Interval(1, integer=True)]})
def penultimate_embeddings(estimator: Any, X: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """The input of the network's last linear layer for each row of ``X``.

    Parameters
    ----------
    estimator : fitted robustsk estimator or skorch net
    X : ndarray of shape (n, ...)
        Inputs.
    batch_size : int, default=1024
        Rows per forward pass.

    Returns
    -------
    embeddings : ndarray of shape (n, d)
    """
    net = TorchClassifier(estimator, "penultimate_embeddings")
    X = check_pool(X, estimator, name="X", caller="penultimate_embeddings")
    captured = []
    hook = last_linear(net.module).register_forward_hook(
        lambda mod, inputs, output: captured.append(inputs[0].detach().flatten(1))
    )
    out = []
    try:
        with net.evaluating(), torch.no_grad():
            for s in batches(X.shape[0], batch_size):
                net.module(net.tensor(X[s]))
                out.append(captured.pop().float().cpu().numpy())
    finally:
        hook.remove()
    return np.concatenate(out)
