"""Reaching inside a torch classifier: its module, device, input shape and log-probabilities.

Strategies that need more than ``predict_proba`` (MC dropout, gradients,
DeepFool, embeddings) use these helpers; they raise a clear ``TypeError`` for a
classifier that is not a fitted robustsk estimator or skorch net.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from ..utils import eval_mode


def float32_tensor(X, device) -> torch.Tensor:
    """``X`` as a float32 tensor on ``device``; read-only arrays (joblib's memory-mapped
    blocks) are copied first, since torch cannot wrap them."""
    arr = np.asarray(X, dtype=np.float32)
    if not arr.flags.writeable:
        arr = arr.copy()
    return torch.as_tensor(arr, device=device)


class TorchClassifier:
    """A fitted skorch/robustsk net seen as ``module``, ``device`` and input preparation."""

    def __init__(self, estimator, strategy: str):
        module = getattr(estimator, "module_", None)
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"{strategy} needs a fitted torch network (a robustsk estimator or a skorch "
                f"net with module_), got {type(estimator).__name__}. Use a probability-based "
                "strategy (max_entropy, margin, dre, ...) for other classifiers."
            )
        self.estimator = estimator
        self.module = module
        self.device = torch.device(getattr(estimator, "device", None) or "cpu")
        self.input_shape = getattr(estimator, "input_shape_", None)
        criterion = getattr(estimator, "criterion_", None)
        # A module trained with NLLLoss returns probabilities; otherwise logits.
        self.outputs_proba = isinstance(criterion, nn.NLLLoss)

    @contextlib.contextmanager
    def evaluating(self):
        """Put the module in eval mode for the block, then restore its previous mode."""
        with eval_mode(self.module):
            yield self.module

    def tensor(self, X) -> torch.Tensor:
        """Float32 tensor on the net's device, shaped as the net was trained."""
        if isinstance(X, torch.Tensor):
            x = X.to(device=self.device, dtype=torch.float32)
        else:
            x = float32_tensor(X, self.device)
        if self.input_shape is not None and tuple(x.shape[1:]) != tuple(self.input_shape):
            x = x.reshape((x.shape[0],) + tuple(self.input_shape))
        return x

    def log_proba(self, output: torch.Tensor) -> torch.Tensor:
        """Log-probabilities from the module's output (logits or probabilities)."""
        if isinstance(output, (tuple, list)):
            output = output[0]
        if self.outputs_proba:
            return torch.log(output.clamp_min(1e-12))
        return torch.log_softmax(output, dim=-1)
