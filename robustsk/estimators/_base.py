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
  keep per-example state (noise level, budget) in a fitted array, and, when
  ``fit`` is given ``sample_weight``, their weights (the loss is weighted);
* a validation split (``train_split``) scores on the same encoded labels it
  trains on, so skorch's callbacks (``EarlyStopping``, ``LRScheduler``) work;
* ``save_params`` also saves the data's input shape and classes, so
  ``initialize()`` + ``load_params`` restore a working estimator.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d
from skorch import NeuralNetClassifier
from skorch.exceptions import NotInitializedError
from skorch.history import History
from skorch.utils import to_tensor
from torch import nn
from torch.utils.data import Dataset

from ..nets import MLP
from ..utils import (
    ClipRange,
    Device,
    Interval,
    ParameterConstraints,
    RandomState,
    RandomStateLike,
    Range,
    check_clip,
    check_per_sample,
    draw_seed,
    resolve_device,
    torch_generator,
    validate_params,
)
from ._progress import EpochProgressBar, TerminalAwarePrintLog

#: Keys of the dict that carries a training batch: the inputs, their row indices and,
#: when ``fit`` was given ``sample_weight``, their weights.
DATA_KEY = "X"
INDEX_KEY = "sample_index"
SAMPLE_WEIGHT_KEY = "sample_weight"

#: Entry that ``save_params`` adds to the module's saved state dict: the training data's
#: input shape and classes (JSON, as a uint8 tensor so that safetensors can hold it too).
FITTED_DATA_KEY = "robustsk.fitted_data"


#: Held by a seeded fit for its whole run: module initialization, shuffling and dropout draw
#: from torch's process-wide generator, so concurrent seeded fits in threads would interleave
#: their draws (reentrant: a fit may run inside another, e.g. a learner's retraining).
_SEEDED_FITS = threading.RLock()


def weighted_mean(losses: torch.Tensor, weight: Any) -> torch.Tensor:
    """``sum(w * l) / sum(w)`` over a batch; ``mean(l)`` when ``weight`` is None.

    A batch whose weights are all 0 has loss 0 (and no gradient).
    """
    if weight is None:
        return losses.mean()
    w = torch.as_tensor(weight, dtype=losses.dtype, device=losses.device)  # (B,)
    total = w.sum()
    return (w * losses).sum() / torch.where(total > 0, total, torch.ones_like(total))


def _check_per_example(criterion: Any) -> None:
    """Refuse a criterion that cannot give one loss per example."""
    if not isinstance(getattr(criterion, "reduction", None), str):
        raise TypeError(
            "sample_weight weights the loss of each example, which needs a criterion with "
            "a 'reduction' attribute (as torch's losses have), got a "
            f"{type(criterion).__name__}."
        )


@contextlib.contextmanager
def _per_example(criterion: Any) -> Iterator[None]:
    """Let a torch loss return one value per example (``reduction="none"``) for a while."""
    _check_per_example(criterion)
    saved = criterion.reduction
    criterion.reduction = "none"
    try:
        yield
    finally:
        criterion.reduction = saved


def _is_net_data(X: Any) -> bool:
    """Whether ``X`` is the net's own training data, as skorch's callbacks pass it back:
    a torch Dataset, or the dict of inputs and row indices of a training batch."""
    return isinstance(X, Dataset) or (isinstance(X, Mapping) and INDEX_KEY in X)


def _encode_fitted_data(input_shape: tuple[int, ...], classes: np.ndarray) -> torch.Tensor:
    text = json.dumps(
        {
            "input_shape": list(input_shape),
            "classes": classes.tolist(),
            "classes_dtype": classes.dtype.str,
        }
    )
    return torch.frombuffer(bytearray(text.encode()), dtype=torch.uint8)


def _decode_fitted_data(tensor: torch.Tensor) -> tuple[tuple[int, ...], np.ndarray]:
    meta = json.loads(tensor.cpu().numpy().tobytes().decode())
    classes = np.asarray(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
    return tuple(int(n) for n in meta["input_shape"]), classes


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
        Training epochs per ``fit`` call, at least 1 (0 or less is refused: it would
        return an untrained model).
    batch_size : int, default=128
    train_split : callable or None, default=None
        No validation split by default (small labelled sets in active learning);
        pass ``skorch.dataset.ValidSplit(5, stratified=True)`` to hold one out:
        the history then records ``valid_loss`` (on clean inputs) and
        ``valid_acc`` every epoch, for ``EarlyStopping`` or an ``LRScheduler``.
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

    Notes
    -----
    **Sample weights.** ``fit(X, y, sample_weight=w)`` weights each example's
    loss: a batch's loss is ``sum(w_i * l_i) / sum(w_i)`` over its examples
    (the weighted mean, so weights of all 2 train as no weights; a weight of 0
    removes an example). The normalisation is per batch: with mini-batches,
    integer weights are close to, not exactly, repeating rows. The criterion
    must have a ``reduction`` attribute (torch's losses do); a validation
    split's ``valid_loss`` is weighted the same way. ``sample_weight`` is a
    plain ``fit`` argument, so ``cross_val_score(est, X, y,
    params={"sample_weight": w})`` passes it through (and, with metadata
    routing enabled, ``est.set_fit_request(sample_weight=True)`` requests it).

    **Saving and loading.** ``save_params(f_params=...)`` writes the module's
    state dict plus one entry, ``"robustsk.fitted_data"``, holding the input
    shape and the classes of the training data. A new estimator built with the
    same parameters then restores the fitted one::

        net.save_params(f_params="params.pt")
        new = sklearn.base.clone(net).initialize()   # or the class with the same arguments
        new.load_params(f_params="params.pt")        # new.predict(X) == net.predict(X)

    While the module is sized from data not seen yet (``module=None``, or a
    class taking ``input_shape`` / ``n_classes`` not given as ``module__``
    arguments), ``initialize()`` only checks the parameters and
    ``load_params`` builds the module from the saved shape. To load the file
    into a bare module, drop that entry first:
    ``state.pop("robustsk.fitted_data")``. Pickle and joblib keep the whole
    estimator, as with any skorch net.

    **Output.** With ``verbose=1`` each epoch prints one row of skorch's
    table. On a terminal (or in a notebook) a batch progress bar runs and the
    best values are coloured; otherwise (a log file, a pipe) the bar is left
    out and the rows are plain text, without carriage returns or colour codes.

    **Parameter checks.** Each class declares what its parameters accept in
    ``_parameter_constraints`` (merged with its bases'); ``fit``,
    ``partial_fit`` and ``initialize`` check them all once, before any work,
    and a bad value raises a ``ValueError`` or ``TypeError`` naming the
    parameter, the value and what is allowed.
    """

    #: What each parameter accepts (the subclasses' declarations are merged in).
    _parameter_constraints: ParameterConstraints = {
        "clip": [None, Range()],
        "random_state": [RandomState()],
        "device": [Device()],
        # skorch runs range(max_epochs): 0 or less would return an untrained model
        "max_epochs": [Interval(1, integer=True)],
    }

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
        """The constructor's parameters (skorch's, with ``__`` routing), nothing private.

        skorch lists every attribute whose name does not end in ``_``, so the
        private state of a fit (``_call_seed``, ``_train_generator``, ...) would
        show in ``repr``, ``clone`` and grid searches; names starting with ``_``
        are left out.
        """
        params = super().get_params(deep=deep, **kwargs)
        params["device"] = self.__dict__.get("device")
        return {key: value for key, value in params.items() if not key.startswith("_")}

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
        callbacks = [
            (name, TerminalAwarePrintLog() if name == "print_log" else callback)
            for name, callback in super().get_default_callbacks()
        ]
        return [*callbacks, ("progress_bar", EpochProgressBar())]

    # ---------------------------------------------------------------- module
    def initialize(self) -> RobustNetClassifier:
        """Check the parameters (a device this torch cannot use fails here), then
        build the module, criterion and optimizer as skorch does.

        While the module is sized from data not seen yet (``module=None``, or a
        class taking ``input_shape`` / ``n_classes`` not given as ``module__``
        arguments), only the parameters are checked: :meth:`fit` builds the
        module from the data, :meth:`load_params` from the saved shape, and
        ``initialized_`` stays False until then.

        Returns
        -------
        self
        """
        self._check_declared_params()
        if self._waits_for_data():
            self.initialized_ = False
            return self
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
        if "n_classes" in accepted and self._classes_known():
            data["n_classes"] = len(self.classes_)
        if self.module is None and len(data) < 2 and self._waits_for_data():
            raise RuntimeError(
                "module=None builds an MLP from the data: call fit (or load_params), "
                "not initialize_module."
            )
        return data

    def _classes_known(self) -> bool:
        return hasattr(self, "classes_")  # skorch's classes_ raises AttributeError until known

    def _module_data_arguments(self) -> set[str]:
        """The module arguments taken from the data (not given as ``module__`` ones)."""
        module = MLP if self.module is None else self.module
        if isinstance(module, nn.Module) or not callable(module):
            return set()
        try:
            accepted = inspect.signature(module).parameters
        except (TypeError, ValueError):
            return set()
        return {"input_shape", "n_classes"}.intersection(accepted) - set(
            self.get_params_for("module")
        )

    def _waits_for_data(self) -> bool:
        """Whether building the modules needs the data's shape or classes, not known yet."""
        needs = self._module_data_arguments()
        return ("input_shape" in needs and not hasattr(self, "input_shape_")) or (
            "n_classes" in needs and not self._classes_known()
        )

    # ----------------------------------------------------------- save / load
    def save_params(
        self,
        f_params: Any = None,
        f_optimizer: Any = None,
        f_criterion: Any = None,
        f_history: Any = None,
        use_safetensors: bool = False,
        **kwargs: Any,
    ) -> None:
        """Save the module's parameters (with the data's shape and classes) and more.

        As :meth:`skorch.net.NeuralNet.save_params`; the state dict written to
        ``f_params`` holds one more entry, ``"robustsk.fitted_data"`` (the
        input shape and the classes of the training data), which
        :meth:`load_params` reads to restore a working estimator.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like, str or None
            Where to save each part; None skips it.
        use_safetensors : bool, default=False
            Save with safetensors instead of torch (not for the optimizer).
        **kwargs
            ``f_<name>`` for another module of the net, e.g. ``f_budget_generator``.
        """
        f_module = kwargs.pop("f_module", None)
        if f_params is not None and f_module is not None:
            raise TypeError("save_params called with both f_params and f_module, please choose one")
        target = f_params if f_params is not None else f_module
        if target is not None:
            self._save_module(target, use_safetensors)
        rest = {
            key: value
            for key, value in dict(
                f_optimizer=f_optimizer, f_criterion=f_criterion, f_history=f_history, **kwargs
            ).items()
            if value is not None
        }
        if rest or target is None:
            super().save_params(use_safetensors=use_safetensors, **rest)

    def load_params(
        self,
        f_params: Any = None,
        f_optimizer: Any = None,
        f_criterion: Any = None,
        f_history: Any = None,
        checkpoint: Any = None,
        use_safetensors: bool = False,
        **kwargs: Any,
    ) -> None:
        """Load what :meth:`save_params` saved, building the module if needed.

        As :meth:`skorch.net.NeuralNet.load_params`. When ``f_params`` holds
        the data's shape and classes (it was written by :meth:`save_params`),
        they are restored (``input_shape_``, ``n_features_in_``, ``classes_``)
        and the module is built from them first if it is not built yet (or was
        built for other data), so ``initialize()`` followed by ``load_params``
        gives the saved estimator.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like, str or None
            Where to load each part from; None skips it.
        checkpoint : skorch.callbacks.Checkpoint or None, default=None
            Load the files of this checkpoint; explicit ``f_*`` arguments win.
        use_safetensors : bool, default=False
            The files were saved with safetensors.
        **kwargs
            ``f_<name>`` for another module of the net, e.g. ``f_budget_generator``.
        """
        f_module = kwargs.pop("f_module", None)
        if f_params is not None and f_module is not None:
            raise TypeError("load_params called with both f_params and f_module, please choose one")
        files = dict(kwargs, f_optimizer=f_optimizer, f_criterion=f_criterion)
        files["f_history"] = f_history
        target = f_params if f_params is not None else f_module
        if checkpoint is not None:
            # As skorch does, with the checkpoint's params file read here too.
            if not self.initialized_ and not self._waits_for_data():
                self.initialize()
            if f_history is None and checkpoint.f_history is not None:
                self.history_ = History.from_file(checkpoint.f_history_)
            saved = checkpoint.get_formatted_files(self)
            if target is None:
                target = saved.pop("f_params", None) or saved.pop("f_module", None)
            saved.pop("f_params", None)
            saved.pop("f_module", None)
            files = {key: files.get(key) or saved.get(key) for key in {*files, *saved}}
        if target is not None:
            self._load_module(target, use_safetensors)
        rest = {key: value for key, value in files.items() if value is not None}
        if rest or target is None:
            super().load_params(use_safetensors=use_safetensors, **rest)

    def _save_module(self, f: Any, use_safetensors: bool) -> None:
        if not self.initialized_:
            raise NotInitializedError(
                "Cannot save state of an un-initialized model. Please initialize first by "
                "calling .initialize() or by fitting the model with .fit(...)."
            )
        state = self.module_.state_dict()
        if hasattr(self, "input_shape_") and self._classes_known():
            try:
                state[FITTED_DATA_KEY] = _encode_fitted_data(
                    self.input_shape_, np.asarray(self.classes_)
                )
            except TypeError:
                warnings.warn(
                    f"classes_ {self.classes_!r} cannot be written to f_params; the file "
                    "holds the module's parameters only. Give the estimator that loads it "
                    "classes=... and module__input_shape=....",
                    UserWarning,
                    stacklevel=3,
                )
        if not use_safetensors:
            torch.save(state, f)
            return
        from safetensors.torch import save, save_file

        if isinstance(f, (str, os.PathLike)):
            save_file(dict(state), f)
        else:
            f.write(save(dict(state)))

    def _load_module(self, f: Any, use_safetensors: bool) -> None:
        if use_safetensors:
            from safetensors.torch import load, load_file

            if isinstance(f, (str, os.PathLike)):
                state = load_file(f, device="cpu")
            else:
                state = load(f.read())
        else:
            load_kwargs = self.torch_load_kwargs
            if load_kwargs is None:
                load_kwargs = {"weights_only": True}
            state = torch.load(f, **{"map_location": "cpu", **load_kwargs})
        fitted = state.pop(FITTED_DATA_KEY, None)
        changed = False
        if fitted is not None:
            changed = self._restore_fitted_data(*_decode_fitted_data(fitted))
        if not self.initialized_ or changed:
            if self._waits_for_data():
                raise ValueError(
                    "f_params holds the module's parameters only (no input shape and "
                    "classes: it was not written by save_params of a fitted robustsk "
                    f"estimator), and {type(self).__name__} sizes its module from the data. "
                    "Give the input shape and the classes: module__input_shape=... and "
                    "classes=..., or fit first."
                )
            # The saved parameters replace the new ones: keep the caller's random stream.
            with torch.random.fork_rng(devices=[]):
                self.initialize()
        self.module_.load_state_dict(state)

    def _restore_fitted_data(self, input_shape: tuple[int, ...], classes: np.ndarray) -> bool:
        """Set the data attributes saved with the parameters; whether they differ from
        those the module was built for (then it is built again)."""
        if self.classes is not None and not np.array_equal(np.asarray(self.classes), classes):
            raise ValueError(
                f"f_params was saved with classes {classes.tolist()!r}, but this estimator "
                f"has classes={self.classes!r}."
            )
        old_shape = getattr(self, "input_shape_", input_shape)
        old_classes = np.asarray(self.classes_) if self._classes_known() else classes
        changed = old_shape != input_shape or not np.array_equal(old_classes, classes)
        self.input_shape_ = input_shape
        self.n_features_in_ = int(math.prod(input_shape))
        self.classes_inferred_ = classes
        return changed

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

    def _check_declared_params(self) -> None:
        """Check the declared parameters (``_parameter_constraints``), then the
        relations between them (:meth:`_check_param_relations`)."""
        validate_params(self, {"device": self.__dict__.get("device")})  # as given, not resolved
        self._check_param_relations()
        # The valid range the training steps use: checked here, once, not once per batch.
        self._checked_clip = check_clip(self.clip)

    def _check_param_relations(self) -> None:
        """Hook: checks that involve several parameters (none here)."""

    def _check_fit_params(self, n_samples: int, fit_params: dict, *, reset: bool) -> dict:
        """Hook: validate and consume per-sample fit parameters; return the rest.

        Called after ``X`` and ``y`` are validated and before any training.
        """
        return fit_params

    def _check_sample_weight(self, sample_weight, codes: np.ndarray, *, reset: bool):
        """Validate ``sample_weight``: None, or float32 weights of shape (n_samples,)."""
        if sample_weight is None:
            return None
        n_samples = codes.shape[0]
        if isinstance(sample_weight, torch.Tensor):
            sample_weight = sample_weight.detach().cpu().numpy()
        elif not np.isscalar(sample_weight):
            sample_weight = np.asarray(sample_weight)  # lists, pandas Series, array-likes
        weight = check_per_sample(sample_weight, n_samples, "sample_weight", low=0.0)
        weight = np.broadcast_to(np.float32(weight), (n_samples,)).astype(np.float32)
        if n_samples and not weight.any():
            raise ValueError(
                "sample_weight must contain at least one non-zero weight, got all zeros."
            )
        if reset and self.classes is None:
            weighted = np.unique(codes[weight > 0])
            if weighted.shape[0] < 2:
                raise ValueError(
                    "sample_weight leaves a single class with non-zero weight "
                    f"({self.classes_[weighted[0]]!r}); a classifier needs at least 2 classes."
                )
        return weight

    # ------------------------------------------------------------------- fit
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        **fit_params: Any,
    ) -> RobustNetClassifier:
        """Validate the data, (re)initialize the net and train it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, c, h, w)
            Training inputs, in the valid range ``clip``.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weight of each example's loss, not all 0; a batch's loss
            is ``sum(w * l) / sum(w)``. None weights all examples equally.
        **fit_params
            Passed on to the module's ``forward``.

        Returns
        -------
        self
        """
        return self._fit(
            X,
            y,
            reset=not (self.warm_start and self.initialized_),
            sample_weight=sample_weight,
            **fit_params,
        )

    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        classes: ArrayLike | None = None,
        *,
        sample_weight: ArrayLike | None = None,
        **fit_params: Any,
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
        return self._fit(
            X, y, reset=not self.initialized_, sample_weight=sample_weight, **fit_params
        )

    def _fit(self, X, y, *, reset: bool, sample_weight=None, **fit_params):
        self._check_declared_params()
        X = self._check_X(X, reset=reset)
        y = self._check_y(y, X.shape[0], reset=reset)
        weight = self._check_sample_weight(sample_weight, y, reset=reset)
        fit_params = self._check_fit_params(X.shape[0], fit_params, reset=reset)
        clip = self._checked_clip
        if clip is not None and (X.min() < clip[0] or X.max() > clip[1]):
            warnings.warn(
                f"X has values in [{X.min():.3g}, {X.max():.3g}], outside clip={self.clip!r}; "
                "perturbed copies are clipped to clip. Scale X into that range or pass "
                "clip=None.",
                UserWarning,
                stacklevel=3,
            )
        data = {DATA_KEY: X, INDEX_KEY: np.arange(X.shape[0])}
        if weight is not None:
            data[SAMPLE_WEIGHT_KEY] = weight
        with self._seeded(reset):
            if reset:
                self.initialize()
            if weight is not None:
                _check_per_example(self.criterion_)
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

    def get_loss(
        self, y_pred: torch.Tensor, y_true: Any, X: Any = None, training: bool = False
    ) -> torch.Tensor:
        """skorch's loss, weighted when the batch carries sample weights.

        ``X`` is the batch dict (:meth:`batch_inputs`); when ``fit`` was given
        ``sample_weight`` it holds the weights of the batch's examples and the
        loss is ``sum(w * l) / sum(w)`` over the criterion's per-example losses.

        Parameters
        ----------
        y_pred : torch.Tensor of shape (batch, n_classes)
            The module's output.
        y_true : torch.Tensor of shape (batch,)
            Encoded labels.
        X : dict, torch.Tensor or None, default=None
            The batch's inputs.
        training : bool, default=False
            Whether the loss is for training.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        weight = X.get(SAMPLE_WEIGHT_KEY) if isinstance(X, Mapping) else None
        if weight is None:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        with _per_example(self.criterion_):
            losses = super().get_loss(y_pred, y_true, X=X, training=training)
        if losses.shape != (y_pred.shape[0],):
            raise TypeError(
                "sample_weight needs one loss per example, but the criterion "
                f"{type(self.criterion_).__name__} with reduction='none' returned shape "
                f"{tuple(losses.shape)}."
            )
        return weighted_mean(losses, weight)

    def batch_inputs(self, batch: Any, x: torch.Tensor) -> dict[str, Any]:
        """The dict of a training batch with its inputs replaced by ``x``.

        A robust training step passes it as ``X`` to :meth:`get_loss`: ``x`` is
        what the module saw (perturbed copies), and the batch's row indices and
        sample weights come along.

        Parameters
        ----------
        batch : tuple
            The training batch.
        x : torch.Tensor
            The inputs the module was given.

        Returns
        -------
        dict
        """
        return {**batch[0], DATA_KEY: x}

    def batch_sample_weight(self, batch: Any) -> torch.Tensor | None:
        """Sample weights of a training batch's examples, or None without weights.

        Parameters
        ----------
        batch : tuple
            The training batch.

        Returns
        -------
        weight : torch.Tensor of shape (batch,) or None
        """
        weight = batch[0].get(SAMPLE_WEIGHT_KEY)
        return None if weight is None else to_tensor(weight, device=self._tensor_device())

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
            Flat input is reshaped to the training images' shape. skorch's
            callbacks may also pass the net's own training data (a torch
            ``Dataset`` or a batch dict), which is used as is.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        self.check_is_fitted()
        if not _is_net_data(X):
            X = self._check_X(X, reset=False)
        # DataLoader draws a seed from torch's global generator; keep the caller's stream.
        with torch.random.fork_rng(devices=[]):
            return super().predict_proba(X)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class labels (from ``classes_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, c, h, w)
            Inputs. The net's own training data as skorch's callbacks pass it
            (a torch ``Dataset`` or a batch dict, e.g. to score ``valid_acc``)
            holds encoded labels as targets; for it the encoded labels
            ``0 .. n_classes - 1`` are returned, as skorch does.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        codes = self.predict_proba(X).argmax(axis=1)
        return codes if _is_net_data(X) else self.classes_[codes]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
