"""Training with Gaussian noise: fixed (GNT), per-example (AQPL Eq. 2) or adaptive levels."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from ..perturb import add_gaussian_noise
from ..utils import Interval, Options, ParameterConstraints, Range, check_per_sample
from ._adaptive import adapt_levels, choose_rows
from ._base import RobustNetClassifier


class NoiseTrainedClassifier(RobustNetClassifier):
    """A skorch classifier trained on Gaussian-noise copies of its inputs.

    Minimizes the per-example noisy loss of AQPL (Eq. 2),
    ``sum_i E_{e ~ N(0, sigma_i^2 I)} L(F(x_i + e), y_i)``, with one sample of
    noise per visit. In each batch a share ``clean_fraction`` of the examples
    stays clean, as in Rusak et al. (2020), which keeps clean accuracy.

    Three ways to set the levels ``sigma_i``:

    * ``sigma_mode="fixed"`` and no ``sample_sigma``: every example gets
      ``sigma`` (Gaussian noise training, GNT);
    * ``fit(X, y, sample_sigma=s)``: one level per example (AQPL's triplets);
    * ``sigma_mode="adaptive"``: each level starts at ``sigma`` (or
      ``sample_sigma``) and moves after every noisy visit, the rule of
      customized adversarial training (Cheng et al. 2020) applied to noise:
      ``sigma_i += sigma_step`` if the model classifies the noisy copy
      correctly, ``sigma_i -= sigma_step`` otherwise, clipped to
      ``sigma_bounds``. An example the model copes with gets harder noise; one it
      cannot recognise gets gentler noise.

    Only the one training hook, ``train_step_single``, differs from skorch;
    prediction is on clean inputs.

    Parameters
    ----------
    module : torch.nn.Module class or instance, or None, default=None
        The network; ``None`` builds an :class:`~robustsk.nets.MLP` sized from
        the data.
    sigma : float, default=0.3
        Noise level of every example (GNT), or the starting level in adaptive
        mode. In units of the input range (``clip``).
    clean_fraction : float, default=0.5
        Share of each batch left clean, in [0, 1]. 0 trains on noise only.
    sigma_mode : {"fixed", "adaptive"}, default="fixed"
        Whether per-example levels stay as given or adapt during training.
    sigma_step : float, default=0.02
        Change of an example's level per noisy visit in adaptive mode.
    sigma_bounds : tuple (low, high), default=(0.0, 1.0)
        Range of the adaptive levels.
    **kwargs
        Everything :class:`~robustsk.estimators.RobustNetClassifier` takes:
        ``criterion``, ``optimizer``, ``lr``, ``max_epochs``, ``batch_size``,
        ``train_split``, ``device``, ``clip``, ``random_state``, ``module__*``...

    Attributes
    ----------
    sigma_ : ndarray of shape (n_samples,)
        The noise level of each training example at the end of training.
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
    weights each example's loss on its noisy (or clean) copy; ``save_params`` /
    ``initialize()`` + ``load_params`` restore the classifier (``sigma_``, a
    training-time state, is not saved). See
    :class:`~robustsk.estimators.RobustNetClassifier`.

    See Also
    --------
    robustsk.perturb.GaussianNoise : the same noise as a standalone perturbation.

    References
    ----------
    .. [1] Rusak et al. "Increasing the robustness of DNNs against image
       corruptions by playing the Game of Noise", 2020.
    .. [2] Cheng et al. "CAT: Customized Adversarial Training for Improved
       Robustness", 2020.

    Examples
    --------
    >>> from robustsk.datasets import load_digits_images
    >>> from robustsk.estimators import NoiseTrainedClassifier
    >>> X, y = load_digits_images(return_X_y=True)
    >>> clf = NoiseTrainedClassifier(sigma=0.3, max_epochs=2, verbose=0, random_state=0)
    >>> clf.fit(X, y).sigma_.shape
    (1797,)
    """

    _parameter_constraints: ParameterConstraints = {
        "sigma": [Interval(0.0)],
        "clean_fraction": [Interval(0.0, 1.0)],
        "sigma_mode": [Options({"fixed", "adaptive"})],
        "sigma_step": [Interval(0.0, closed="right")],
        "sigma_bounds": [Range(at_least=0.0)],
    }

    def __init__(
        self,
        module: type[nn.Module] | nn.Module | None = None,
        *args: Any,
        sigma: float | ArrayLike = 0.3,
        clean_fraction: float = 0.5,
        sigma_mode: str = "fixed",
        sigma_step: float = 0.02,
        sigma_bounds: tuple[float, float] = (0.0, 1.0),
        **kwargs: Any,
    ):
        super().__init__(module, *args, **kwargs)
        self.sigma = sigma
        self.clean_fraction = clean_fraction
        self.sigma_mode = sigma_mode
        self.sigma_step = sigma_step
        self.sigma_bounds = sigma_bounds

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_sigma: float | ArrayLike | None = None,
        *,
        sample_weight: ArrayLike | None = None,
        **fit_params: Any,
    ) -> NoiseTrainedClassifier:
        """Train on noisy copies of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, c, h, w)
            Training inputs in the valid range ``clip``.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_sigma : float or array-like of shape (n_samples,), default=None
            Noise level of each example (>= 0); ``None`` uses ``sigma``. An
            example with level 0 is never perturbed.
        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weight of each example's (noisy) loss, not all 0; a
            batch's loss is ``sum(w * l) / sum(w)``.
        **fit_params
            Passed on to the module's ``forward``.

        Returns
        -------
        self
        """
        return super().fit(
            X, y, sample_weight=sample_weight, sample_sigma=sample_sigma, **fit_params
        )

    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        classes: ArrayLike | None = None,
        sample_sigma: float | ArrayLike | None = None,
        *,
        sample_weight: ArrayLike | None = None,
        **fit_params: Any,
    ) -> NoiseTrainedClassifier:
        """Continue training; ``sigma_`` carries over when ``X`` has the same length.

        Parameters are as in :meth:`fit`.

        Returns
        -------
        self
        """
        return super().partial_fit(
            X,
            y,
            classes=classes,
            sample_weight=sample_weight,
            sample_sigma=sample_sigma,
            **fit_params,
        )

    def _check_fit_params(self, n_samples, fit_params, *, reset):
        sample_sigma = fit_params.pop("sample_sigma", None)
        if sample_sigma is not None:
            sigma = check_per_sample(sample_sigma, n_samples, "sample_sigma", low=0.0)
            self.sigma_ = np.broadcast_to(np.float32(sigma), (n_samples,)).astype(np.float32)
        elif reset or getattr(self, "sigma_", np.empty(0)).shape[0] != n_samples:
            self.sigma_ = np.full(n_samples, self.sigma, dtype=np.float32)
        return fit_params

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """One optimizer step on a batch whose noisy share gets each example's own level."""
        self._set_training(True)
        x, y, index = self.unpack_training_batch(batch)  # x: (B, ...), y: (B,), index: (B,)
        gen = self._train_generator
        noisy = choose_rows(x.shape[0], 1.0 - self.clean_fraction, gen)
        sigma = torch.from_numpy(self.sigma_[index[noisy].numpy()])  # (n_noisy,)
        keep = sigma > 0  # a level of 0 means: never perturbed
        noisy, sigma = noisy[keep], sigma[keep]

        x_train = x.clone()
        if noisy.numel():
            rows = noisy.to(x.device)
            x_train[rows] = add_gaussian_noise(
                x[rows], sigma, clip=self._checked_clip, generator=gen
            )
        y_pred = self.infer(x_train, **fit_params)
        loss = self.get_loss(y_pred, y, X=self.batch_inputs(batch, x_train), training=True)
        self.backward_loss(loss)

        if self.sigma_mode == "adaptive" and noisy.numel():
            rows = noisy.to(x.device)
            correct = (y_pred[rows].argmax(dim=1) == y[rows]).cpu().numpy()  # (n_noisy,)
            adapt_levels(
                self.sigma_, index[noisy].numpy(), correct, self.sigma_step, self.sigma_bounds
            )
        return {"loss": loss, "y_pred": y_pred}
