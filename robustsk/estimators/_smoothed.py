"""A smoothed classifier: predictions with abstention and certified L2 radii (Cohen et al.)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_array, check_is_fitted

from ..certify import ABSTAIN, certify_counts, predict_counts, smoothed_counts
from ..utils import (
    HasMethods,
    Interval,
    ParameterConstraints,
    PerSample,
    RandomState,
    numpy_generator,
    validate_params,
)


class SmoothedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Randomized smoothing of any classifier: ``g(x) = argmax_c P(f(x + delta) = c)``.

    ``delta ~ N(0, sigma^2 I)``. :meth:`certify` runs Cohen et al.'s CERTIFY
    (``n0`` noisy copies pick the class, ``n`` more bound its probability from
    below by Clopper-Pearson at level ``alpha``, radius ``sigma * Phi^-1(p_A)``):
    with probability at least ``1 - alpha`` per example, the smoothed classifier
    gives that class everywhere in the L2 ball of that radius. :meth:`predict`
    runs PREDICT (a binomial test between the top two classes of ``n_draws`` copies),
    abstaining when the test cannot tell them apart. The copies are drawn in
    batches on the base classifier's device and seeded by ``random_state``.

    A noise-trained model (:class:`NoiseTrainedClassifier`) is the natural base
    classifier: smoothing is the certificate noise training is made for.

    Parameters
    ----------
    estimator : classifier
        The base classifier ``f``; :meth:`fit` fits a clone of it. To smooth an
        already fitted model, pass ``sklearn.frozen.FrozenEstimator(model)``.
        robustsk estimators and skorch nets run on their device, any other
        classifier through ``predict`` on numpy copies.
    sigma : float or array-like of shape (n_examples,), default=0.25
        Noise level of the smoothing, in the data's units: one for all
        examples, or one per example of the ``X`` given to :meth:`certify`
        and :meth:`predict` (per-example radii).
    n_select_draws : int, default=100
        Noisy copies that select the class in :meth:`certify` (the paper's ``n0``).
    n_draws : int, default=100000
        Noisy copies that estimate its probability, and that :meth:`predict`
        counts (the paper's ``n``).
    alpha : float, default=0.001
        Failure probability of each certificate / prediction.
    batch_size : int or None, default=None
        Copies per forward pass; None takes 1,000 on a CPU (the copies' activations
        stay in cache: 1.8x faster than 10,000 for LeNet5, ``bench_smoothing.py``)
        and 10,000 on a GPU.
    abstain_label : object, default=-1
        What :meth:`predict` and :meth:`certify` return for an abstention.
    random_state : None, int or numpy Generator, default=None
        Seeds the noise.
    verbose : int, default=1
        A progress bar over the examples in :meth:`certify` and :meth:`predict` (on
        a terminal only: 100,000 copies per example take seconds each on a CPU);
        0 is silent.

    Attributes
    ----------
    estimator_ : classifier
        The fitted base classifier.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of input features.

    References
    ----------
    .. [1] Cohen, Rosenfeld and Kolter. "Certified Adversarial Robustness via
       Randomized Smoothing", ICML 2019.

    Examples
    --------
    >>> from robustsk.datasets import load_digits_images
    >>> from robustsk.estimators import NoiseTrainedClassifier, SmoothedClassifier
    >>> X, y = load_digits_images(return_X_y=True)
    >>> base = NoiseTrainedClassifier(sigma=0.25, max_epochs=5, verbose=0, random_state=0)
    >>> smoothed = SmoothedClassifier(base, sigma=0.25, n_draws=1000, random_state=0).fit(X, y)
    >>> labels, radius = smoothed.certify(X[:3])
    >>> radius.shape
    (3,)
    """

    _parameter_constraints: ParameterConstraints = {
        "estimator": [HasMethods("fit", description="a classifier with fit")],
        "sigma": [PerSample(low=0.0)],
        "n_select_draws": [Interval(1, integer=True)],
        "n_draws": [Interval(1, integer=True)],
        "alpha": [Interval(0.0, 1.0, closed="neither")],
        "batch_size": [None, Interval(1, integer=True)],
        "random_state": [RandomState()],
        "verbose": [Interval(0, integer=True)],
    }

    def __init__(
        self,
        estimator: Any,
        sigma: float | ArrayLike = 0.25,
        *,
        n_select_draws: int = 100,
        n_draws: int = 100000,
        alpha: float = 0.001,
        batch_size: int | None = None,
        abstain_label: Any = ABSTAIN,
        random_state: Any = None,
        verbose: int = 1,
    ):
        self.estimator = estimator
        self.sigma = sigma
        self.n_select_draws = n_select_draws
        self.n_draws = n_draws
        self.alpha = alpha
        self.batch_size = batch_size
        self.abstain_label = abstain_label
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: ArrayLike, y: ArrayLike, **fit_params: Any) -> SmoothedClassifier:
        """Fit a clone of the base classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training inputs.
        y : array-like of shape (n_samples,)
            Labels.
        **fit_params
            Passed to the base classifier's ``fit``.

        Returns
        -------
        self : SmoothedClassifier
        """
        validate_params(self)
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = np.asarray(self.estimator_.classes_)
        n_features = getattr(self.estimator_, "n_features_in_", None)
        if n_features is None:
            n_features = int(np.prod(np.shape(X)[1:]))
        self.n_features_in_ = int(n_features)
        return self

    def _check_X(self, X) -> np.ndarray:
        """``X`` as float32, finite, with the number of features seen in :meth:`fit`."""
        check_is_fitted(self, "estimator_")
        validate_params(self)
        X = check_array(X, allow_nd=True, dtype=np.float32, ensure_all_finite=True)
        n_features = int(np.prod(X.shape[1:]))
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but SmoothedClassifier is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _sigma(self, n_examples: int) -> np.ndarray:
        sigma = np.asarray(self.sigma, dtype=np.float64)
        if sigma.ndim and sigma.shape != (n_examples,):
            raise ValueError(
                f"sigma has {sigma.shape[0]} levels for {n_examples} examples; pass one "
                "level, or one per example of X."
            )
        return np.broadcast_to(sigma, (n_examples,))

    def _counts(self, X, n, rng, desc):
        return smoothed_counts(
            self.estimator_,
            X,
            self._sigma(len(X)),
            n,
            batch_size=self.batch_size,
            random_state=rng,
            verbose=self.verbose,
            desc=desc,
        )

    def _labels(self, codes: np.ndarray) -> np.ndarray:
        out = np.full(len(codes), self.abstain_label, dtype=object)
        kept = codes != ABSTAIN
        out[kept] = self.classes_[codes[kept]]
        try:
            return out.astype(np.result_type(self.classes_, np.asarray(self.abstain_label)))
        except (TypeError, ValueError):
            return out

    def certify(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Cohen et al.'s CERTIFY for every example.

        Parameters
        ----------
        X : array-like of shape (n_examples, ...)
            Examples.

        Returns
        -------
        labels : ndarray of shape (n_examples,)
            The smoothed classifier's class, or ``abstain_label``.
        radius : ndarray of float64, shape (n_examples,)
            Certified L2 radius (NaN where abstained).
        """
        X = self._check_X(X)
        sigma = self._sigma(len(X))
        rng = numpy_generator(self.random_state)
        counts0 = self._counts(X, self.n_select_draws, rng, "certify: selecting")
        counts = self._counts(X, self.n_draws, rng, "certify: estimating")
        codes, radius = certify_counts(counts0, counts, sigma, self.alpha)
        return self._labels(codes), radius

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Cohen et al.'s PREDICT for every example (``abstain_label`` where it abstains).

        Parameters
        ----------
        X : array-like of shape (n_examples, ...)
            Examples.

        Returns
        -------
        labels : ndarray of shape (n_examples,)
        """
        X = self._check_X(X)
        counts = self._counts(X, self.n_draws, numpy_generator(self.random_state), "predict")
        return self._labels(predict_counts(counts, self.alpha))
