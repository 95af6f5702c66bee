"""What every robustsk estimator shares: a skorch classifier with sklearn-grade input handling.

Subclasses change one training hook (``train_step_single``); this base class
does the plumbing around it:

* validation of ``X`` and ``y`` before any work (NaN, shapes, one-class ``y``),
  float32 casting, flat ``(n, d)`` or image ``(n, c, h, w)`` input, any labels;
* ``module=None`` builds an :class:`~robustsk.nets.MLP`, and a module class that
  accepts ``input_shape`` / ``n_classes`` gets them from the data;
* ``device="auto"``, ``random_state`` (training is reproducible without touching
  the caller's global torch state), ``clip`` (valid input range);
* each training batch carries the indices of its examples, so a subclass can
  keep per-example state (noise level, budget) in a fitted array.
"""

from __future__ import annotations

from typing import Any
from numpy.typing import ArrayLike
from ..utils._types import ClipRange, RandomStateLike

import contextlib
import threading
import inspect
import math
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn
from skorch import NeuralNetClassifier
from skorch.utils import to_tensor
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from ..nets import MLP
from ..utils import (
    check_clip,
    check_device,
    check_random_state_param,
    draw_seed,
    resolve_device,
    torch_generator,
)
from ._progress import EpochProgressBar

#: Keys of the dict that carries a training batch: the inputs and their row indices.
DATA_KEY = "X"
INDEX_KEY = "sample_index"


#: Held by a seeded fit for its whole run: module initialization, shuffling and dropout draw
#: from torch's process-wide generator, so concurrent seeded fits in threads would interleave
#: their draws (reentrant: a fit may run inside another, e.g. a learner's retraining).
_SEEDED_FITS = threading.RLock()


class RobustNetClassifier(NeuralNetClassifier):
    """Base class of robustsk's skorch classifiers (standard training as is).

    Used directly it is a plain :class:`skorch.NeuralNetClassifier` with
    robustsk's input handling, which makes it the "Standard" baseline of the
    papers. Subclasses override :meth:`train_step_single`.

    Parameters
    ----------
    module : torch.nn.Module class or instance, or None, default=None
        The network. ``None`` builds an :class:`~robustsk.nets.MLP`; a class
        whose ``__init__`` takes ``input_shape`` and ``n_classes`` gets them from
        the data unless given as ``module__input_shape`` / ``module__n_classes``.
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        The module returns logits.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=1e-3
    max_epochs : int, default=10
    batch_size : int, default=128
    train_split : callable or None, default=None
        No validation split by default (small labelled sets in active learning);
        pass ``skorch.dataset.ValidSplit(5, stratified=True)`` to hold one out.
    device : str, torch.device or None, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU. Reading the
        ``device`` attribute gives the resolved device; ``get_params`` gives
        the value passed in.
    clip : tuple (low, high) or None, default=(0.0, 1.0)
        Valid range of the inputs; perturbed inputs are clipped to it.
    random_state : None, int or numpy Generator/RandomState, default=None
        Seeds weight initialization, batch order and perturbations. The
        caller's global torch random state is left as it was.
    **kwargs
        Any other :class:`skorch.NeuralNetClassifier` parameter (``classes``,
        ``callbacks``, ``verbose``, ``warm_start``, ``module__*``, ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, from ``classes`` if given, else from ``y``.
    n_features_in_ : int
        Number of input features (``prod(input_shape_)``).
    input_shape_ : tuple of int
        Shape of one training example.
    module_ : torch.nn.Module
        The trained network.
    history_ : skorch.History
        Per-epoch and per-batch records.
    """

    def __init__(
        self,
        module: type[nn.Module] | nn.Module | None = None,
        *args: Any,
        criterion: type[nn.Module] = torch.nn.CrossEntropyLoss,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 10,
        batch_size: int = 128,
        train_split: Any = None,
        device: str | torch.device | None = "auto",
        clip: ClipRange = (0.0, 1.0),
        random_state: RandomStateLike = None,
        **kwargs: Any,
    ):
        super().__init__(
            module,
            *args,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            **kwargs,
        )
        self.clip = clip
        self.random_state = random_state

    # ------------------------------------------------------------------ device
    @property
    def device(self):
        return resolve_device(self.__dict__.get("device", "cpu"))

    @device.setter
    def device(self, value):
        self.__dict__["device"] = value

    def _tensor_device(self):
        """Where batches go: the device, or the module's own one for ``device=None``
        (set by accelerate and other wrappers that place the module themselves)."""
        device = self.device
        if device is not None:
            return device
        module = getattr(self, "module_", None)
        param = next(module.parameters(), None) if module is not None else None
        return param.device if param is not None else torch.device("cpu")

    def get_params(self, deep: bool = True, **kwargs: Any) -> dict[str, Any]:
        params = super().get_params(deep=deep, **kwargs)
        params["device"] = self.__dict__.get("device")
        return params

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_train_generator", None)
        return state

    def __setstate__(self, state):
        requested = state["device"]
        state["device"] = resolve_device(requested)
        super().__setstate__(state)
        if isinstance(requested, str) and requested == "auto":
            self.__dict__["device"] = requested

    # ------------------------------------------------------------- callbacks
    def get_default_callbacks(self) -> list[tuple[str, Any]]:
        return [*super().get_default_callbacks(), ("progress_bar", EpochProgressBar())]

    # ---------------------------------------------------------------- module
    def initialize(self) -> RobustNetClassifier:
        """Check the parameters (a device this torch cannot use fails here), then
        build the module, criterion and optimizer as skorch does."""
        self._check_params()
        return super().initialize()

    def initialize_module(self) -> RobustNetClassifier:
        """Build the module, filling ``input_shape``/``n_classes`` from the data."""
        kwargs = self.get_params_for("module")
        module = MLP if self.module is None else self.module
        is_factory = callable(module) and not isinstance(module, torch.nn.Module)
        if isinstance(module, type) or is_factory:
            kwargs = {**self._data_module_kwargs(module), **kwargs}
        self.module_ = self.initialized_instance(module, kwargs)
        return self

    def _data_module_kwargs(self, module_cls):
        try:
            accepted = inspect.signature(module_cls).parameters
        except (TypeError, ValueError):
            return {}
        data = {}
        if "input_shape" in accepted and hasattr(self, "input_shape_"):
            data["input_shape"] = self.input_shape_
        if "n_classes" in accepted and hasattr(self, "classes_inferred_"):
            data["n_classes"] = len(self.classes_)
        if self.module is None and not data:
            raise RuntimeError("module=None builds an MLP from the data: call fit, not initialize.")
        return data

    # ------------------------------------------------------------ validation
    def _check_X(self, X, *, reset: bool):
        """Validate and cast ``X``; returns a float32 array of shape (n, *input_shape_)."""
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = check_array(X, dtype=np.float32, allow_nd=True, ensure_all_finite=True, input_name="X")
        if X.ndim not in (2, 4):
            raise ValueError(
                f"X must have shape (n_samples, n_features) or (n_samples, channels, height, "
                f"width), got an array of shape {X.shape}. Reshape your data, e.g. "
                "X.reshape(-1, 1) for a single feature."
            )
        if reset:
            self.input_shape_ = tuple(X.shape[1:])
            self.n_features_in_ = int(math.prod(self.input_shape_))
        else:
            n_features = int(math.prod(X.shape[1:]))
            if n_features != self.n_features_in_:
                raise ValueError(
                    f"X has {n_features} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            if tuple(X.shape[1:]) != self.input_shape_:
                X = X.reshape((X.shape[0],) + self.input_shape_)
        return np.ascontiguousarray(X)

    def _check_y(self, y, n_samples: int, *, reset: bool):
        """Validate ``y``; sets ``classes_`` on reset and returns int64 codes."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {n_samples} and {y.shape[0]}."
            )
        if type_of_target(y) == "continuous" or (y.dtype.kind == "f" and not np.isfinite(y).all()):
            raise ValueError("Unknown label type: y must hold class labels, got continuous values.")
        check_classification_targets(y)
        if reset:
            labels = np.unique(y) if self.classes is None else np.asarray(self.classes)
            if self.classes is None and labels.shape[0] < 2:
                raise ValueError(
                    f"y has only one class ({labels[0]!r}); a classifier needs at least 2 classes."
                )
            self.classes_inferred_ = labels
        labels = self.classes_
        codes = np.searchsorted(labels, y)
        codes = np.clip(codes, 0, len(labels) - 1)
        unknown = labels[codes] != y
        if unknown.any():
            raise ValueError(
                f"y contains labels not in classes_ {labels.tolist()!r}: "
                f"{np.unique(y[unknown]).tolist()!r}."
            )
        return codes.astype(np.int64)

    def _check_params(self):
        """Validate the estimator's own parameters; subclasses extend this."""
        check_clip(self.clip)
        check_random_state_param(self.random_state)
        check_device(self.__dict__.get("device"), "device")

    def _check_fit_params(self, n_samples: int, fit_params: dict, *, reset: bool) -> dict:
        """Hook: validate and consume per-sample fit parameters; return the rest.

        Called after ``X`` and ``y`` are validated and before any training.
        """
        return fit_params

    # ------------------------------------------------------------------- fit
    def fit(self, X: ArrayLike, y: ArrayLike, **fit_params: Any) -> RobustNetClassifier:
        """Validate the data, (re)initialize the net and train it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, c, h, w)
            Training inputs, in the valid range ``clip``.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        **fit_params
            Passed on to the module's ``forward``.

        Returns
        -------
        self
        """
        return self._fit(X, y, reset=not (self.warm_start and self.initialized_), **fit_params)

    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None, **fit_params: Any
    ) -> RobustNetClassifier:
        """Train further without re-initializing (warm start).

        Parameters are as in :meth:`fit`; ``classes`` is accepted for
        scikit-learn compatibility and used when given on the first call.

        Returns
        -------
        self
        """
        if classes is not None and not self.initialized_:
            self.set_params(classes=classes)
        return self._fit(X, y, reset=not self.initialized_, **fit_params)

    def _fit(self, X, y, *, reset: bool, **fit_params):
        self._check_params()
        X = self._check_X(X, reset=reset)
        y = self._check_y(y, X.shape[0], reset=reset)
        fit_params = self._check_fit_params(X.shape[0], fit_params, reset=reset)
        clip = check_clip(self.clip)
        if clip is not None and (X.min() < clip[0] or X.max() > clip[1]):
            warnings.warn(
                f"X has values in [{X.min():.3g}, {X.max():.3g}], outside clip={self.clip!r}; "
                "perturbed copies are clipped to clip. Scale X into that range or pass "
                "clip=None.",
                UserWarning,
                stacklevel=3,
            )
        data = {DATA_KEY: X, INDEX_KEY: np.arange(X.shape[0])}
        with self._seeded(reset):
            if reset:
                self.initialize()
            self._train_generator = torch_generator(self._call_seed + 1, self._tensor_device())
            # NeuralNet.partial_fit runs skorch's loop on the validated data.
            super().partial_fit(data, y, **fit_params)
        return self

    @contextlib.contextmanager
    def _seeded(self, reset: bool):
        """Seed torch for this call only; the caller's global RNG state is restored.

        torch's global generator is shared by the threads of a process, so seeded
        fits running in threads (a thread-based joblib or Dask backend) take turns
        on it; fits in separate processes are not affected.
        """
        if self.random_state is None:
            self._call_seed = draw_seed(None)
            yield
            return
        # Successive warm-start calls continue rather than repeat the stream.
        history = None if reset else getattr(self, "history_", None)
        epochs_done = 0 if history is None else len(history)
        self._call_seed = (draw_seed(self.random_state) + 7919 * epochs_done) % (2**31 - 1)
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with _SEEDED_FITS, torch.random.fork_rng(devices=devices):
            torch.manual_seed(self._call_seed)
            yield

    def check_data(self, X: ArrayLike, y: ArrayLike | None = None) -> None:
        # Labels are validated and encoded by _check_y; classes_ is set there.
        pass

    # ------------------------------------------------------------ train hooks
    def infer(self, x: torch.Tensor, **fit_params: Any) -> torch.Tensor:
        """Forward a batch; a training batch's dict is reduced to its inputs."""
        if isinstance(x, Mapping) and INDEX_KEY in x:
            x = x[DATA_KEY]
        return super().infer(x, **fit_params)

    def backward_loss(self, loss: torch.Tensor) -> None:
        """Backpropagate a training loss; the one place robust training steps call backward.

        Override it to route the backward pass elsewhere, e.g. through
        Hugging Face accelerate for multi-GPU training::

            class AcceleratedNoiseClassifier(AccelerateMixin, NoiseTrainedClassifier):
                train_step_single = NoiseTrainedClassifier.train_step_single

                def backward_loss(self, loss):
                    self.accelerator.backward(loss)

        Parameters
        ----------
        loss : torch.Tensor
            Scalar loss of the batch.
        """
        loss.backward()

    def unpack_training_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Return ``(x, y, index)`` tensors on the net's device for a training batch."""
        Xi, yi = batch
        x = to_tensor(Xi[DATA_KEY], device=self._tensor_device())
        index = Xi[INDEX_KEY]
        y = to_tensor(yi, device=self._tensor_device())
        return x, y, index

    # --------------------------------------------------------------- predict
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, c, h, w)
            Flat input is reshaped to the training images' shape.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        self.check_is_fitted()
        X = self._check_X(X, reset=False)
        # DataLoader draws a seed from torch's global generator; keep the caller's stream.
        with torch.random.fork_rng(devices=[]):
            return super().predict_proba(X)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class labels (from ``classes_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, c, h, w)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
