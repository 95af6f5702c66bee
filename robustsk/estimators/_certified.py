"""Certified training with uniform or learned contextual perturbation budgets."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torch.nn import functional as F

from ..certify import (
    BudgetGenerator,
    budget_range,
    check_module,
    crown_ibp_and_ibp_lower,
    fused_and_ibp_cross_entropy,
    ibp_lower,
    input_box,
    margin_lower_bounds,
    margin_matrix,
    refine_budgets,
)
from ..utils import (
    DEPRECATED,
    Boolean,
    InstanceOf,
    Interval,
    IsCallable,
    Options,
    ParameterConstraints,
    Range,
    check_clip,
    check_number,
    check_options,
    eval_mode,
    rename_message,
    resolve_renamed,
)
from ._base import RobustNetClassifier, weighted_mean
from ._chance import warn_if_at_chance


def robust_loss(lb, reduction="mean"):
    """Cross-entropy of the worst-case logits implied by margin lower bounds ``lb`` (n, K-1).

    With logit ``0`` for the true class and ``-lb_k`` for every other class,
    this upper-bounds the cross-entropy of every input in the box.
    ``reduction="none"`` gives one value per example.
    """
    z = torch.cat([lb.new_zeros(lb.shape[0], 1), -lb], dim=1)
    return F.cross_entropy(z, lb.new_zeros(lb.shape[0], dtype=torch.long), reduction=reduction)


def _is_deprecated(value: Any) -> bool:
    return isinstance(value, str) and value == DEPRECATED


def _check_ratio_range(value: Any, name: str) -> tuple[float, float]:
    """``(low, high)`` with ``0 < low <= 1 <= high``: the budget's limits relative to eps0."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}.")
    low = check_number(value[0], f"{name}[0]", low=0.0, high=1.0, include_low=False)
    high = check_number(value[1], f"{name}[1]", low=1.0)
    return float(low), float(high)


class CertifiedBudgetClassifier(RobustNetClassifier):
    """A skorch classifier trained to be certifiably robust under per-pixel budgets.

    Certified training (CROWN-IBP, Zhang et al. 2020) where each input gets
    its own per-element budgets ``eps(x)`` (Xu et al. 2021). With
    ``budget_mode="learned"`` a :class:`~robustsk.certify.BudgetGenerator` proposes
    budgets in ``[l, u]`` (log space) that
    :func:`~robustsk.certify.refine_budgets` brings to the volume of a uniform
    ``eps0`` ball, ``sum_i log eps_i = n log eps0``, with
    ``(l, u) = (low * eps0, min(high * eps0, 1))`` for ``ratio_range=(low, high)``;
    the classifier and the generator are trained jointly on the robust loss.
    ``budget_mode="uniform"`` is plain certified training at ``eps0``.

    The loss of a batch is ``kappa * CE(f(x), y) + (1 - kappa) * L_rob`` where
    ``L_rob`` is the cross-entropy of the worst-case logits given by the lower
    bounds of the margins ``f_y - f_k`` over the box
    ``[clip(x - r eps(x)), clip(x + r eps(x))]``. The ramp factor ``r`` is 0
    for the first ``ramp_start`` epochs, then grows linearly (per batch) to 1
    over ``ramp_length`` epochs; ``kappa`` moves from ``kappa_start`` to
    ``kappa_end`` with it. With ``bound="crown-ibp"`` the margin bounds are
    ``beta * CROWN-IBP + (1 - beta) * IBP`` with ``beta = 1 - r``, as in
    CROWN-IBP; ``bound="ibp"`` uses interval bounds only.

    Parameters
    ----------
    module : torch.nn.Sequential class or instance, or None, default=None
        The classifier; its layers must be ones the bounds support (see
        :func:`robustsk.certify.interval_bounds`). ``None`` builds an MLP;
        :class:`robustsk.nets.SmallCNN` is CROWN-IBP's small CNN. Checked
        when the module is built, before any training epoch: anything the
        bounds cannot follow exactly raises a :class:`TypeError` naming it.
    eps0 : float, default=0.4
        Target budget (the paper's MNIST setting).
    ratio_range : tuple (low, high), default=(0.5, 2.0)
        Limits of a budget relative to ``eps0``: ``0 < low <= 1 <= high``
        (the upper limit ``high * eps0`` is capped at 1).
    budget_mode : {"learned", "uniform"}, default="learned"
        Budgets from the budget generator, or ``eps0`` everywhere.
    bound : {"crown-ibp", "ibp"}, default="crown-ibp"
        Bounds used for training.
    loss_fusion : bool, default=False
        With ``bound="crown-ibp"``, bound the robust cross-entropy itself
        (:func:`~robustsk.certify.cross_entropy_upper_bound`, one CROWN
        backward row) instead of the ``n_classes - 1`` margins: several
        times cheaper per step, a slightly looser bound at large budgets. The
        CROWN-IBP / IBP mix (``beta = 1 - r``) is then taken on the two loss
        bounds. No effect with ``bound="ibp"``, where both are the same.
    budget_generator : torch.nn.Module class or instance, or None, default=None
        The budget network: a class (or callable) built with ``input_shape``
        and the ``budget_generator__*`` arguments (e.g.
        ``budget_generator__head="conv"``), or a module; None is
        :class:`~robustsk.certify.BudgetGenerator`.
    ramp_start : int, default=1
        Epochs of natural training before the budgets ramp up.
    ramp_length : int or None, default=None
        Epochs of the linear ramp; None means 60% of ``max_epochs`` (the
        paper's 60 of 100).
    kappa_start : float, default=1.0
        Weight of the natural loss at the start of the ramp.
    kappa_end : float, default=0.0
        Weight of the natural loss once the ramp is complete.
    eval_batch_size : int, default=256
        Examples per bound computation in :meth:`certify` and :meth:`budgets`.
    alpha_low : float, deprecated
        Old name of ``ratio_range[0]``; it stops working in 0.3.
    alpha_high : float, deprecated
        Old name of ``ratio_range[1]``; it stops working in 0.3.
    budget : {"learned", "uniform"}, deprecated
        Old name of ``budget_mode``; it stops working in 0.3.
    generator : torch.nn.Module class or None, deprecated
        Old name of ``budget_generator``; it stops working in 0.3.
    **kwargs
        Everything :class:`~robustsk.estimators.RobustNetClassifier` takes.

    Attributes
    ----------
    budget_generator_ : torch.nn.Module or None
        The trained budget generator (None for uniform budgets).
    budget_range_ : tuple (low, high)
        The range constraint ``[l, u]``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of input features.
    input_shape_ : tuple of int
        Shape of one training example.
    module_ : torch.nn.Module
        The trained classifier.

    Notes
    -----
    A validation split (``train_split``) scores clean inputs (the ramp counts
    the training share's batches); ``sample_weight`` weights both the natural
    and the robust loss of each example. ``save_params(f_params=...)``
    followed by ``initialize()`` + ``load_params(f_params=...)`` restores the
    classifier; with learned budgets pass ``f_budget_generator=...`` to both as well,
    for :meth:`budgets` and :meth:`certify`. See
    :class:`~robustsk.estimators.RobustNetClassifier`.

    References
    ----------
    .. [1] Xu et al. "Learning Contextual Perturbation Budgets for Training
       Robust Neural Networks", 2021.
    .. [2] Zhang et al. "Towards Stable and Efficient Training of Verifiably
       Robust Neural Networks", ICLR 2020.

    Examples
    --------
    >>> from robustsk.datasets import load_digits_images
    >>> from robustsk.estimators import CertifiedBudgetClassifier
    >>> X, y = load_digits_images(return_X_y=True)
    >>> clf = CertifiedBudgetClassifier(eps0=0.05, max_epochs=2, ramp_start=0, verbose=0,
    ...                                 random_state=0).fit(X[:200], y[:200])
    >>> clf.budgets(X[:2]).shape
    (2, 1, 8, 8)
    >>> clf.certify(X[:5], y[:5]).dtype
    dtype('bool')
    """

    _parameter_constraints: ParameterConstraints = {
        "eps0": [Interval(0.0, 1.0, closed="right")],
        "ratio_range": [Range(_check_ratio_range)],
        "budget_mode": [Options({"learned", "uniform"})],
        "bound": [Options({"crown-ibp", "ibp"})],
        "loss_fusion": [Boolean()],
        "budget_generator": [None, IsCallable(), InstanceOf(nn.Module)],
        "alpha_low": [Options({DEPRECATED}), Interval(0.0, 1.0, closed="right")],
        "alpha_high": [Options({DEPRECATED}), Interval(1.0)],
        "budget": [Options({DEPRECATED, "learned", "uniform"})],
        "generator": [Options({DEPRECATED}), None, IsCallable()],
        "ramp_start": [Interval(0, integer=True)],
        "ramp_length": [None, Interval(0, integer=True)],
        "kappa_start": [Interval(0.0, 1.0)],
        "kappa_end": [Interval(0.0, 1.0)],
        "eval_batch_size": [Interval(1, integer=True)],
    }

    def __init__(
        self,
        module: type[nn.Module] | nn.Module | None = None,
        *args: Any,
        eps0: float = 0.4,
        ratio_range: tuple[float, float] = (0.5, 2.0),
        budget_mode: str = "learned",
        bound: str = "crown-ibp",
        loss_fusion: bool = False,
        budget_generator: type[nn.Module] | nn.Module | None = None,
        ramp_start: int = 1,
        ramp_length: int | None = None,
        kappa_start: float = 1.0,
        kappa_end: float = 0.0,
        eval_batch_size: int = 256,
        alpha_low: Any = DEPRECATED,
        alpha_high: Any = DEPRECATED,
        budget: Any = DEPRECATED,
        generator: Any = DEPRECATED,
        **kwargs: Any,
    ):
        # before skorch's __init__: a module instance set after it counts as a component
        # built outside initialize_module, which skorch refuses
        self.budget_generator = budget_generator
        self.generator = generator
        super().__init__(module, *args, **kwargs)
        self.eps0 = eps0
        self.ratio_range = ratio_range
        self.budget_mode = budget_mode
        self.bound = bound
        self.loss_fusion = loss_fusion
        self.ramp_start = ramp_start
        self.ramp_length = ramp_length
        self.kappa_start = kappa_start
        self.kappa_end = kappa_end
        self.eval_batch_size = eval_batch_size
        self.alpha_low = alpha_low
        self.alpha_high = alpha_high
        self.budget = budget

    def _settings(self) -> tuple[str, tuple[float, float], Any]:
        """``(budget_mode, ratio_range, budget_generator)``, from the old names where those
        were set (with a FutureWarning)."""
        mode = resolve_renamed(self, "budget", "budget_mode", "learned")
        low, high = self.ratio_range
        if not _is_deprecated(self.alpha_low) or not _is_deprecated(self.alpha_high):
            old = (
                low if _is_deprecated(self.alpha_low) else self.alpha_low,
                high if _is_deprecated(self.alpha_high) else self.alpha_high,
            )
            if tuple(self.ratio_range) != (0.5, 2.0):
                raise ValueError(
                    f"{type(self).__name__}: got alpha_low/alpha_high and ratio_range="
                    f"{self.ratio_range!r}; alpha_low and alpha_high are the old names of "
                    "ratio_range's limits, set ratio_range only."
                )
            warnings.warn(
                rename_message(
                    type(self).__name__,
                    "alpha_low/alpha_high",
                    "ratio_range",
                    f"ratio_range=({old[0]!r}, {old[1]!r})",
                ),
                FutureWarning,
                stacklevel=3,
            )
            low, high = old
        generator = resolve_renamed(self, "generator", "budget_generator", None)
        return mode, (float(low), float(high)), generator

    # ---------------------------------------------------------------- modules
    def initialize_module(self) -> RobustNetClassifier:
        """Build the classifier and, for learned budgets, the budget generator.

        The classifier is checked here, before any training epoch: a module
        the bounds cannot follow exactly (an unknown layer, a container whose
        ``forward`` is not the stock one, a layer subclass with its own
        ``forward``, forward hooks, ...) raises a :class:`TypeError` naming it.
        """
        super().initialize_module()
        if getattr(self, "compile", False):
            raise TypeError(
                "CertifiedBudgetClassifier does not support compile=True: bounds follow the "
                "module's layers, and a compiled module is not checked to compute them."
            )
        n_classes = len(self.classes_) if hasattr(self, "classes_inferred_") else None
        check_module(self.module_, getattr(self, "input_shape_", None), n_classes)
        mode, (low, high), generator = self._settings()
        params = self.get_params_for("budget_generator")
        self.budget_generator_: torch.nn.Module | None = None  # uniform: no generator
        if mode == "learned":
            generator = BudgetGenerator if generator is None else generator
            if isinstance(generator, torch.nn.Module):
                if params:
                    raise ValueError(
                        f"budget_generator__{next(iter(params))}: budget_generator__* "
                        "arguments build the budget generator from a class; "
                        "budget_generator is a module instance here."
                    )
                self.budget_generator_ = generator
            else:
                self.budget_generator_ = generator(input_shape=self.input_shape_, **params)
        if self.budget_generator_ is not None and "budget_generator" not in self._modules:
            # known as a prefix already (set below), so skorch did not register it
            self._register_attribute("budget_generator_", self.budget_generator_, prefixes=False)
        prefixes: list[str] = list(getattr(self, "prefixes_", []))
        if "budget_generator" not in prefixes:
            # budget_generator__* arguments stay valid when the mode is "uniform"
            self.prefixes_ = [*prefixes, "budget_generator"]
        self.budget_range_ = budget_range(self.eps0, low, high)
        return self

    def _waits_for_data(self) -> bool:
        """The budget generator is sized from the data too."""
        mode, _, generator = self._settings()
        sized = mode == "learned" and not isinstance(generator, torch.nn.Module)
        return super()._waits_for_data() or (sized and not hasattr(self, "input_shape_"))

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """skorch's end-of-training hook; warns when the fit ends at chance (``eps0`` too
        large for the data)."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        warn_if_at_chance(self, X, y, "eps0")

    # ------------------------------------------------------------- save / load
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
        """Load what :meth:`save_params` saved; learned budgets need their generator too.

        As :meth:`RobustNetClassifier.load_params`. With ``budget_mode="learned"``
        the certificates depend on the budget generator as much as on the
        classifier, so loading the classifier's parameters (``f_params``, or a
        checkpoint's) without the generator's (``f_budget_generator``, e.g.
        ``save_params(f_params="net.pt", f_budget_generator="budgets.pt")``, or
        ``Checkpoint(f_budget_generator=...)``) is refused with a
        :class:`ValueError` before anything is loaded: it would pair trained
        weights with an untrained generator, and certify other points.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like, str or None
            Where to load each part from; None skips it.
        checkpoint : skorch.callbacks.Checkpoint or None, default=None
            Load the files of this checkpoint; explicit ``f_*`` arguments win.
        use_safetensors : bool, default=False
            The files were saved with safetensors.
        **kwargs
            ``f_budget_generator`` (and ``f_<name>`` for another module of the net).
        """
        classifier = f_params is not None or kwargs.get("f_module") is not None
        generator = kwargs.get("f_budget_generator") is not None
        if checkpoint is not None:
            classifier = classifier or checkpoint.f_params is not None
            generator = generator or getattr(checkpoint, "f_budget_generator", None) is not None
        if classifier and not generator and self._settings()[0] == "learned":
            raise ValueError(
                f"{type(self).__name__}.load_params: f_params without f_budget_generator "
                "would pair the trained classifier with an untrained budget generator "
                "(budget_mode='learned'), which certifies other points. Save and load both: "
                "save_params(f_params=..., f_budget_generator=...), load_params(f_params=..., "
                "f_budget_generator=...) (Checkpoint(..., f_budget_generator=...) for a "
                "checkpoint), or pickle the estimator."
            )
        super().load_params(
            f_params,
            f_optimizer,
            f_criterion,
            f_history,
            checkpoint=checkpoint,
            use_safetensors=use_safetensors,
            **kwargs,
        )

    # --------------------------------------------------------------- budgets
    def _budget_tensor(self, x):
        """Budgets of a batch (a tensor on the device), differentiable for training."""
        if self.budget_generator_ is None:
            return torch.full_like(x, float(self.eps0))
        low, high = self.budget_range_
        return refine_budgets(self.budget_generator_(x), float(self.eps0), low, high)

    def ramp(self) -> float:
        """The current ramp factor ``r`` in [0, 1] (budgets are scaled by it)."""
        epochs = len(self.history_) - 1 if len(self.history_) else 0  # completed epochs
        batches = len(self.history_[-1]["batches"]) if len(self.history_) else 0
        per_epoch = max(1, getattr(self, "_batches_per_epoch", 1))
        progress = epochs + batches / per_epoch - self.ramp_start
        length = (
            self.ramp_length
            if self.ramp_length is not None
            else max(1, round(0.6 * self.max_epochs))
        )
        if length == 0:
            return 1.0 if progress >= 0 else 0.0
        return float(min(1.0, max(0.0, progress / length)))

    def on_epoch_begin(
        self, net: Any, dataset_train: Any = None, dataset_valid: Any = None, **kwargs: Any
    ) -> None:
        """Count the epoch's training batches (the ramp advances per batch)."""
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        if dataset_train is not None:
            n_samples = len(dataset_train)  # the training share of a validation split
            bs = self.get_params_for("iterator_train").get("batch_size", self.batch_size)
            bs = n_samples if bs in (None, -1) else bs
            self._batches_per_epoch = max(1, math.ceil(n_samples / bs))

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """One optimizer step on ``kappa * natural + (1 - kappa) * robust`` loss."""
        x, y, _ = self.unpack_training_batch(batch)
        self._set_training(True)
        if self.budget_generator_ is not None:
            self.budget_generator_.train()
        r = self.ramp()
        kappa = self.kappa_start + (self.kappa_end - self.kappa_start) * r
        y_pred = self.infer(x, **fit_params)
        loss = self.get_loss(y_pred, y, X=self.batch_inputs(batch, x), training=True)
        if r > 0:
            robust = self._robust_loss(x, y, r, self.batch_sample_weight(batch))
            loss = kappa * loss + (1 - kappa) * robust
        self.backward_loss(loss)
        return {"loss": loss, "y_pred": y_pred}

    def _robust_loss(self, x, y, r, weight=None):
        """Upper bound of the batch's (weighted) mean worst-case cross-entropy at ramp
        factor ``r``."""
        if not (self.loss_fusion and self.bound == "crown-ibp" and r < 1):
            lb = self._margin_bounds(x, y, r)
            return (
                robust_loss(lb)
                if weight is None
                else weighted_mean(robust_loss(lb, "none"), weight)
            )
        lower, upper = input_box(x, r * self._budget_tensor(x), self._checked_clip)
        C = margin_matrix(y, len(self.classes_))
        fused, ibp = fused_and_ibp_cross_entropy(self.module_, lower, upper, C)  # (B,), (B,)
        return weighted_mean((1 - r) * fused + r * ibp, weight)

    def _margin_bounds(self, x, y, r):
        lower, upper = input_box(x, r * self._budget_tensor(x), self._checked_clip)
        C = margin_matrix(y, len(self.classes_))
        if self.bound == "ibp" or r >= 1:
            return ibp_lower(self.module_, lower, upper, C)
        crown, ibp = crown_ibp_and_ibp_lower(self.module_, lower, upper, C)
        return (1 - r) * crown + r * ibp

    # --------------------------------------------------------- public API
    def _batches(self, X):
        X = self._check_X(X, reset=False)
        for start in range(0, X.shape[0], self.eval_batch_size):
            yield (
                start,
                torch.as_tensor(
                    X[start : start + self.eval_batch_size], device=self._tensor_device()
                ),
            )

    def budgets(self, X: ArrayLike) -> np.ndarray:
        """Per-element budgets ``eps(x)`` of each example.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs.

        Returns
        -------
        eps : ndarray of the shape of ``X`` (as the network sees it)
            Budgets in ``[l, u]`` with ``mean(log eps) = log eps0`` per example
            (``eps0`` everywhere for uniform budgets).
        """
        self.check_is_fitted()
        out = []
        with torch.no_grad(), eval_mode(self.budget_generator_):
            for _, xb in self._batches(X):
                out.append(self._budget_tensor(xb).cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, *self.input_shape_), np.float32)

    def margin_bounds(
        self, X: ArrayLike, y: ArrayLike, *, budget: Any = None, bound: str = "crown-ibp"
    ) -> np.ndarray:
        """Lower bounds of ``f_y(x') - f_k(x')`` over each example's box, for every ``k != y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs.
        y : array-like of shape (n_samples,)
            True labels.
        budget : None, "learned", "uniform", ndarray or fitted CertifiedBudgetClassifier
            Budgets of the boxes: None uses this model's own (learned or
            uniform), "uniform" is ``eps0`` everywhere, "learned" this model's
            generator, an array gives them per element (broadcastable to
            ``X``), another fitted model lends its generator (Table 1's
            cross evaluation).
        bound : {"crown-ibp", "ibp", "crown", "best"}, default="crown-ibp"
            Bound method; "crown" is usually the tightest and the slowest;
            "best" is the tighter of IBP and CROWN-IBP for each margin, which
            after IBP or CROWN-IBP training is usually IBP's (see
            :func:`~robustsk.certify.compute_bounds`).

        Returns
        -------
        lb : ndarray of shape (n_samples, n_classes - 1)
        """
        self.check_is_fitted()
        check_options(bound, "bound", {"crown-ibp", "ibp", "crown", "best"})
        Xc = self._check_X(X, reset=False)
        codes = self._check_y(y, Xc.shape[0], reset=False)
        eps = self._resolve_budget(budget, Xc)
        with eval_mode(self.module_):
            return margin_lower_bounds(
                self.module_,
                Xc,
                codes,
                eps,
                len(self.classes_),
                clip=check_clip(self.clip),
                method=bound,
                batch_size=self.eval_batch_size,
                device=self._tensor_device(),
            )

    def certify(
        self, X: ArrayLike, y: ArrayLike, *, budget: Any = None, bound: str = "crown-ibp"
    ) -> np.ndarray:
        """Which examples are verified: every margin's lower bound is positive.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs.
        y : array-like of shape (n_samples,)
            True labels.
        budget : None, "learned", "uniform", ndarray or fitted CertifiedBudgetClassifier
            See :meth:`margin_bounds`.
        bound : {"crown-ibp", "ibp", "crown", "best"}, default="crown-ibp"
            Bound method.

        Returns
        -------
        verified : ndarray of bool, shape (n_samples,)
        """
        return np.asarray((self.margin_bounds(X, y, budget=budget, bound=bound) > 0).all(axis=1))

    def _resolve_budget(self, budget, X):
        if budget is None:
            return float(self.eps0) if self.budget_generator_ is None else self.budgets(X)
        if isinstance(budget, str):
            check_options(budget, "budget", {"learned", "uniform"})
            if budget == "uniform":
                return float(self.eps0)
            if self.budget_generator_ is None:
                raise ValueError(
                    "budget='learned' needs a model trained with learned budgets; "
                    "pass a fitted learned-budget model as budget= instead."
                )
            return self.budgets(X)
        if isinstance(budget, CertifiedBudgetClassifier):
            return budget.budgets(X)
        if (
            hasattr(budget, "fit")
            or isinstance(budget, torch.nn.Module)
            or np.asarray(budget).dtype == bool  # True would be read as a budget of 1.0
        ):
            raise TypeError(
                "budget must be None, 'learned', 'uniform', an array of budgets or a fitted "
                f"CertifiedBudgetClassifier (whose generator lends its budgets), got a "
                f"{type(budget).__name__}."
            )
        eps = np.asarray(budget, dtype=np.float32)
        if not np.all(np.isfinite(eps)) or (eps < 0).any():
            raise ValueError("budget arrays must hold finite non-negative budgets.")
        try:
            return np.ascontiguousarray(np.broadcast_to(eps, X.shape))
        except ValueError:
            raise ValueError(
                f"budget of shape {eps.shape} does not broadcast to X's shape {X.shape}."
            ) from None
