"""Adversarial training: PGD (Madry) or fast FGSM, or TRADES; fixed or adaptive per-example
radii."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..attacks import fgsm, pgd
from ..utils import Interval, Options, ParameterConstraints
from ._adaptive import adapt_levels, choose_rows
from ._base import RobustNetClassifier, weighted_mean
from ._chance import warn_if_at_chance


class AdversarialClassifier(RobustNetClassifier):
    """A skorch classifier trained on adversarial examples of its inputs.

    Each training batch (a share ``adversarial_fraction`` of it) is replaced
    by adversarial examples crafted against the current model, then the model
    takes one optimizer step on the result: the min-max objective of Madry et
    al. (2018), ``min_theta sum_i max_{||d|| <= eps_i} L(F(x_i + d), y_i)``.
    Only the training hook ``train_step_single`` differs from skorch;
    prediction is on clean inputs. Adversarial examples are crafted with the
    module in eval mode (no dropout noise, no batch-norm statistics from attack
    passes) and only input gradients; training then runs in train mode.

    * ``attack="pgd"`` (default): ``steps`` steps of size ``alpha`` from a random
      start (the paper's MNIST setting: eps 0.3, alpha 0.01, 40 steps).
    * ``attack="fgsm"``: fast adversarial training (Wong et al. 2020), one step
      of ``1.25 * eps`` from a uniform random start.
    * ``eps_mode="adaptive"``: per-example radii as in customized adversarial
      training (CAT, Cheng et al. 2020). Every radius starts at 0; after each
      visit ``eps_i += eps_step`` if the model still classifies the adversarial
      example correctly (it is robust at ``eps_i``), ``eps_i -= eps_step``
      otherwise, clipped to ``[0, eps]``.
    * ``eps_warmup_epochs=k``: the radii are scaled by ``min(1, epoch / k)``,
      a linear ramp over the first ``k`` epochs.
    * ``loss="trades"``: TRADES (Zhang et al. 2019). The loss is the clean
      cross-entropy plus ``beta`` times the KL divergence of the prediction on
      an adversarial example from the clean prediction; the adversarial
      examples maximize that divergence (PGD from ``x + 0.001 * N(0, 1)``).
      ``beta`` trades clean accuracy for robustness (the paper's 6 on MNIST
      and CIFAR-10).

    Parameters
    ----------
    module : torch.nn.Module class or instance, or None, default=None
        The network; ``None`` builds an :class:`~robustsk.nets.MLP` sized from
        the data.
    eps : float, default=0.3
        Radius of the threat model (the maximum radius in adaptive mode).
    alpha : float, default=0.01
        PGD step size.
    steps : int, default=40
        PGD steps.
    attack : {"pgd", "fgsm"}, default="pgd"
        How adversarial examples are crafted during training.
    norm : {"inf", "2"}, default="inf"
        Norm of the threat model (FGSM is Linf only).
    adversarial_fraction : float, default=1.0
        Share of each batch replaced by adversarial examples, in [0, 1].
    eps_mode : {"fixed", "adaptive"}, default="fixed"
        Whether the per-example radii stay at ``eps`` or adapt.
    eps_step : float or None, default=None
        Change of a radius per visit in adaptive mode; None means ``eps / 10``.
    eps_warmup_epochs : int, default=0
        Length of the linear radius ramp; 0 disables it.
    loss : {"ce", "trades"}, default="ce"
        The training objective: the cross-entropy on adversarial examples
        (Madry et al.), or TRADES (PGD attack only).
    beta : float, default=6.0
        Weight of TRADES' robustness term.
    **kwargs
        Everything :class:`~robustsk.estimators.RobustNetClassifier` takes.

    Attributes
    ----------
    eps_ : ndarray of shape (n_samples,)
        Each training example's radius at the end of training (before warm-up
        scaling).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of input features.
    input_shape_ : tuple of int
        Shape of one training example.
    module_ : torch.nn.Module
        The trained network.

    Notes
    -----
    A validation split (``train_split``) scores clean inputs; ``sample_weight``
    weights each example's loss on its adversarial (or clean) copy;
    ``save_params`` / ``initialize()`` + ``load_params`` restore the classifier
    (``eps_``, a training-time state, is not saved). See
    :class:`~robustsk.estimators.RobustNetClassifier`.

    See Also
    --------
    robustsk.attacks.pgd, robustsk.attacks.fgsm : the attacks used for training.

    References
    ----------
    .. [1] Madry et al. "Towards Deep Learning Models Resistant to Adversarial
       Attacks", ICLR 2018.
    .. [2] Wong, Rice and Kolter. "Fast is better than free: Revisiting
       adversarial training", ICLR 2020.
    .. [3] Cheng et al. "CAT: Customized Adversarial Training for Improved
       Robustness", 2020.
    .. [4] Zhang et al. "Theoretically Principled Trade-off between Robustness
       and Accuracy", ICML 2019.

    Examples
    --------
    >>> from robustsk.datasets import load_digits_images
    >>> from robustsk.estimators import AdversarialClassifier
    >>> X, y = load_digits_images(return_X_y=True)
    >>> clf = AdversarialClassifier(eps=0.1, steps=3, alpha=0.05, max_epochs=1, verbose=0,
    ...                             random_state=0).fit(X[:200], y[:200])
    >>> clf.eps_[:3]
    array([0.1, 0.1, 0.1], dtype=float32)
    """

    _parameter_constraints: ParameterConstraints = {
        "eps": [Interval(0.0)],
        "alpha": [Interval(0.0, closed="right")],
        "steps": [Interval(1, integer=True)],
        "attack": [Options({"pgd", "fgsm"})],
        "norm": [Options({"inf", "2"})],
        "adversarial_fraction": [Interval(0.0, 1.0)],
        "eps_mode": [Options({"fixed", "adaptive"})],
        "eps_step": [None, Interval(0.0, closed="right")],
        "eps_warmup_epochs": [Interval(0, integer=True)],
        "loss": [Options({"ce", "trades"})],
        "beta": [Interval(0.0)],
    }

    def __init__(
        self,
        module: type[nn.Module] | nn.Module | None = None,
        *args: Any,
        eps: float = 0.3,
        alpha: float = 0.01,
        steps: int = 40,
        attack: str = "pgd",
        norm: str = "inf",
        adversarial_fraction: float = 1.0,
        eps_mode: str = "fixed",
        eps_step: float | None = None,
        eps_warmup_epochs: int = 0,
        loss: str = "ce",
        beta: float = 6.0,
        **kwargs: Any,
    ):
        super().__init__(module, *args, **kwargs)
        self.eps = eps
        self.alpha = alpha
        self.steps = steps
        self.attack = attack
        self.norm = norm
        self.adversarial_fraction = adversarial_fraction
        self.eps_mode = eps_mode
        self.eps_step = eps_step
        self.eps_warmup_epochs = eps_warmup_epochs
        self.loss = loss
        self.beta = beta

    def _check_param_relations(self) -> None:
        if self.attack == "fgsm" and self.norm != "inf":
            raise ValueError(f"attack='fgsm' is an Linf attack; got norm={self.norm!r}.")
        if self.loss == "trades" and self.attack != "pgd":
            raise ValueError(
                f"loss='trades' crafts its examples with PGD on the KL divergence; got "
                f"attack={self.attack!r}, use attack='pgd'."
            )

    def _check_fit_params(self, n_samples, fit_params, *, reset):
        if reset or getattr(self, "eps_", np.empty(0)).shape[0] != n_samples:
            start = 0.0 if self.eps_mode == "adaptive" else self.eps
            self.eps_ = np.full(n_samples, start, dtype=np.float32)
        return fit_params

    def warmup_scale(self) -> float:
        """Factor applied to the radii in the current epoch (1 after the warm-up)."""
        if not self.eps_warmup_epochs:
            return 1.0
        epoch = max(1, len(self.history_))  # the current epoch, counting from 1
        return min(1.0, epoch / self.eps_warmup_epochs)

    def craft(self, x: torch.Tensor, y: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
        """Adversarial examples of ``x`` (labels ``y``, radii ``eps``) against the module."""
        was_training = self.module_.training
        self.module_.eval()
        # Only input gradients are needed: freezing the weights saves autograd bookkeeping.
        frozen = [p for p in self.module_.parameters() if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        try:
            if self.attack == "fgsm":
                return fgsm(
                    self.infer,
                    x,
                    y,
                    eps=eps,
                    random_init=True,
                    clip=self._checked_clip,
                    random_state=self._train_generator,
                )
            return pgd(
                self.infer,
                x,
                y,
                eps=eps,
                alpha=self.alpha,
                steps=self.steps,
                norm=self.norm,
                random_init=True,
                clip=self._checked_clip,
                random_state=self._train_generator,
                loss="kl" if self.loss == "trades" else "ce",
            )
        finally:
            for p in frozen:
                p.requires_grad_(True)
            self.module_.train(was_training)

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """One optimizer step on a batch whose adversarial share is crafted first."""
        x, y, index = self.unpack_training_batch(batch)  # x: (B, ...), y: (B,), index: (B,)
        rows = choose_rows(x.shape[0], self.adversarial_fraction, self._train_generator)
        ids = index[rows].numpy()
        x_train = x
        if rows.numel():
            eps = torch.from_numpy(self.eps_[ids] * np.float32(self.warmup_scale()))
            on = rows.to(x.device)
            x_train = x.clone()
            x_train[on] = self.craft(x[on], y[on], eps.to(x.device))
        self._set_training(True)
        if self.loss == "trades":
            return self._trades_step(batch, x, y, x_train, rows, ids, **fit_params)
        y_pred = self.infer(x_train, **fit_params)
        loss = self.get_loss(y_pred, y, X=self.batch_inputs(batch, x_train), training=True)
        self.backward_loss(loss)
        if self.eps_mode == "adaptive" and rows.numel():
            on = rows.to(x.device)
            robust = (y_pred[on].argmax(dim=1) == y[on]).cpu().numpy()
            step = self.eps / 10 if self.eps_step is None else self.eps_step
            adapt_levels(self.eps_, ids, robust, step, (0.0, self.eps))
        return {"loss": loss, "y_pred": y_pred}

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """skorch's end-of-training hook; warns when the fit ends at chance (``eps`` too
        large for the data, see :func:`~robustsk.estimators._chance.warn_if_at_chance`)."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        warn_if_at_chance(self, X, y, "eps")

    def _trades_step(self, batch, x, y, x_adv, rows, ids, **fit_params):
        """TRADES: clean cross-entropy + beta * KL(clean prediction || adversarial prediction)."""
        y_pred = self.infer(x, **fit_params)
        loss = self.get_loss(y_pred, y, X=self.batch_inputs(batch, x), training=True)
        if rows.numel():
            on = rows.to(x.device)
            adv = self.infer(x_adv[on], **fit_params)
            log_clean, log_adv = self._log_proba(y_pred[on]), self._log_proba(adv)
            kl = (log_clean.exp() * (log_clean - log_adv)).sum(dim=1)  # per example
            weight = self.batch_sample_weight(batch)
            kl_mean = weighted_mean(kl, None if weight is None else weight[rows.to(weight.device)])
            # TRADES averages the divergence over the whole batch
            loss = loss + self.beta * kl_mean * (rows.numel() / x.shape[0])
            if self.eps_mode == "adaptive":
                robust = (adv.argmax(dim=1) == y[on]).cpu().numpy()
                step = self.eps / 10 if self.eps_step is None else self.eps_step
                adapt_levels(self.eps_, ids, robust, step, (0.0, self.eps))
        self.backward_loss(loss)
        return {"loss": loss, "y_pred": y_pred}

    def _log_proba(self, output: torch.Tensor) -> torch.Tensor:
        """Log-probabilities from the module's output (probabilities under NLLLoss)."""
        if isinstance(getattr(self, "criterion_", None), nn.NLLLoss):
            return torch.log(output.clamp_min(1e-12))
        return torch.log_softmax(output, dim=1)
