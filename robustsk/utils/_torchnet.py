"""The one layer that reaches into a fitted torch classifier: its module, device, input
shape, outputs and log-probabilities, and the batches inference streams rows in.

Strategies, metrics and oracles that need more than ``predict_proba`` (MC dropout,
gradients, attacks, DeepFool, embeddings, bounds, the torch RPR backend) go through
:class:`TorchClassifier`, for robustsk estimators and skorch nets alike, and, where the
caller asks for it, a scikit-learn Pipeline ending in one (composed into one torch module by
``_torch_pipeline``). Anything else (a bare ``torch.nn.Module``, an unfitted net, a
classifier without a network) gets a clear ``TypeError`` that names what was given, the way
out where there is one (a bare module can be wrapped, a pipeline's net taken out) and the
caller's own advice.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ._config import get_config
from ._modes import eval_mode
from ._torch_pipeline import is_pipeline, pipeline_module


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Slices covering ``range(n)`` in order, ``batch_size`` rows each (the last may be
    shorter)."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def float32_tensor(X, device) -> torch.Tensor:
    """``X`` as a float32 tensor on ``device``; read-only arrays (joblib's memory-mapped
    blocks) are copied first, since torch cannot wrap them."""
    arr = np.asarray(X, dtype=np.float32)
    if not arr.flags.writeable:
        arr = arr.copy()
    return torch.as_tensor(arr, device=device)


#: What a strategy that needs a torch network advises for other classifiers.
STRATEGY_ADVICE = (
    "Use a probability-based strategy (max_entropy, margin, dre, ...) for other classifiers."
)

_WRAP = (
    "wrap it in a skorch net first: NeuralNetClassifier(module, "
    "criterion=torch.nn.CrossEntropyLoss, classes=list(range(n_classes))).initialize() "
    "is a fitted net without training"
)


def _described(estimator, module) -> str:
    """What ``estimator`` is, for a refusal message, with the way out where there is one."""
    name = type(estimator).__name__
    if isinstance(estimator, nn.Module):
        return f"a bare torch.nn.Module ({name}); {_WRAP}"
    if module is not None:
        return f"a {name} whose module_ is a {type(module).__name__}"
    if hasattr(estimator, "module") and hasattr(estimator, "initialize"):
        return f"an unfitted {name} (no module_; fit it first)"
    if is_pipeline(estimator):
        last = estimator.steps[-1][1]
        if isinstance(getattr(last, "module_", None), nn.Module):
            return (
                "a Pipeline; pass its net and the transformed input instead: "
                "(pipe[-1], pipe[:-1].transform(X))"
            )
        return f"a Pipeline whose last step is a {type(last).__name__}"
    return f"a {name}"


#: Network -> its ``torch.compile`` form, kept while the network lives.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COMPILE_LOCK = threading.Lock()


def compiled(module: nn.Module) -> Callable[..., Any]:
    """``torch.compile(module)``, compiled once per module (the same parameters and mode)."""
    with _COMPILE_LOCK:
        fn = _COMPILED.get(module)
        if fn is None:
            fn = _COMPILED[module] = torch.compile(module, dynamic=True)
        return fn


class TorchClassifier:
    """A fitted skorch/robustsk net seen as ``module``, ``device``, input preparation and
    outputs.

    Parameters
    ----------
    estimator : fitted robustsk estimator or skorch net (or Pipeline, see ``pipeline_sample``)
        The classifier.
    caller : str
        The function that needs the network, named in error messages.
    advice : str, default=STRATEGY_ADVICE
        The last sentence of the refusal for other classifiers: what to use instead.
    pipeline_sample : array-like or None, default=None
        Rows of the caller's raw input. When given, a scikit-learn ``Pipeline``
        ending in a torch net is accepted too: ``module`` becomes one torch
        module from the raw input through the earlier steps (written in torch
        and checked on these rows) to the net, and ``input_shape`` is None. A
        step with no checked torch form is refused with a ``TypeError`` naming it.

    Raises
    ------
    TypeError
        For anything without a fitted torch ``module_``: it names ``caller``, what
        was given and the way out where there is one (a bare ``torch.nn.Module`` is
        wrapped in a skorch net, an unfitted net fitted, a Pipeline's net taken out),
        then ``advice``.
    """

    def __init__(
        self,
        estimator,
        caller: str,
        *,
        advice: str = STRATEGY_ADVICE,
        pipeline_sample=None,
    ):
        through = pipeline_sample is not None and is_pipeline(estimator)
        net = estimator.steps[-1][1] if through else estimator
        module = getattr(net, "module_", None)
        if not isinstance(module, nn.Module):
            what = _described(net, module)
            if through:
                what = f"a Pipeline whose last step {estimator.steps[-1][0]!r} is {what}"
            raise TypeError(
                f"{caller} needs a fitted torch network (a robustsk estimator or a skorch "
                f"net with module_), got {what}. {advice}"
            )
        self.estimator = estimator
        self.device = torch.device(getattr(net, "device", None) or "cpu")
        self.input_shape = getattr(net, "input_shape_", None)
        criterion = getattr(net, "criterion_", None)
        # A module trained with NLLLoss returns probabilities; otherwise logits.
        self.outputs_proba = isinstance(criterion, nn.NLLLoss)
        self._modes: list[nn.Module] = [module]
        self.module = module
        if through:
            self.module, users = pipeline_module(
                estimator, pipeline_sample, module, self.input_shape, self.device, caller
            )
            self.input_shape = None
            self._modes += users

    @contextlib.contextmanager
    def evaluating(self):
        """Put the module in eval mode for the block, then restore its previous mode."""
        with eval_mode(*self._modes):
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

    def output(self, X) -> torch.Tensor:
        """The module's output for rows ``X`` (logits, or probabilities for a module trained
        with NLLLoss); its first element where the module returns a tuple.

        Runs under the inference options of :func:`~robustsk.set_config` (precision,
        memory layout, compilation); the output is float32 whatever the precision. For
        inference only: engines that need gradients call ``module`` directly."""
        config = get_config()
        x = self.tensor(X)
        if config["inference_channels_last"] and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        forward = compiled(self.module) if config["inference_compile"] else self.module
        precision = config["inference_precision"]
        if precision == "float32":
            out = forward(x)
        else:
            with torch.autocast(self.device.type, dtype=getattr(torch, precision)):
                out = forward(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        return out if precision == "float32" else out.float()

    def log_proba(self, output: torch.Tensor) -> torch.Tensor:
        """Log-probabilities from the module's output (logits or probabilities)."""
        if isinstance(output, (tuple, list)):
            output = output[0]
        if self.outputs_proba:
            return torch.log(output.clamp_min(1e-12))
        return torch.log_softmax(output, dim=-1)

    def log_proba_module(self) -> LogProbaModule:
        """The network as an ``nn.Module`` from inputs to log-probabilities (for attacks)."""
        return LogProbaModule(self)


class LogProbaModule(nn.Module):
    """An nn.Module view of a fitted net: shapes the input as the net was trained and
    returns log-probabilities; its one submodule is the net's module.

    The view reports ``training=False`` without changing the net's mode (the caller
    holds :meth:`TorchClassifier.evaluating`), so a library that restores the mode it
    found (torchattacks calls ``model.train()`` after an attack on a model in training
    mode) leaves the net in eval mode.
    """

    def __init__(self, net: TorchClassifier):
        super().__init__()
        self.net = net
        self.inner = net.module
        self.training = False  # the view only; net.module keeps its mode

    def forward(self, x):
        return self.net.log_proba(self.inner(self.net.tensor(x)))
