"""SmoothedClassifier: Cohen et al.'s CERTIFY and PREDICT as a scikit-learn meta-estimator."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

from robustsk.certify import certify_counts, smoothed_counts
from robustsk.estimators import NoiseTrainedClassifier, SmoothedClassifier
from robustsk.metrics import (
    CertifiedAccuracyScorer,
    certified_accuracy,
    certified_accuracy_curve,
    plot_certified_accuracy,
)

FAST = dict(max_epochs=3, lr=1e-2, batch_size=64, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def noisy_net(digits):
    X_train, _, y_train, _ = digits
    return NoiseTrainedClassifier(sigma=0.25, **FAST).fit(X_train, y_train)


def test_certify_is_certify_counts_on_its_own_draws(noisy_net, digits):
    _, X_test, _, y_test = digits
    smoothed = SmoothedClassifier(
        FrozenEstimator(noisy_net), sigma=0.25, n_select_draws=50, n_draws=1000, random_state=7
    ).fit(X_test[:1], y_test[:1])
    labels, radius = smoothed.certify(X_test[:20])
    rng = np.random.default_rng(7)
    counts0 = smoothed_counts(smoothed.estimator_, X_test[:20], 0.25, 50, random_state=rng)
    counts = smoothed_counts(smoothed.estimator_, X_test[:20], 0.25, 1000, random_state=rng)
    codes, want = certify_counts(counts0, counts, 0.25, 0.001)
    np.testing.assert_allclose(radius, want, equal_nan=True)
    certified = ~np.isnan(radius)
    np.testing.assert_array_equal(labels[certified], noisy_net.classes_[codes[certified]])
    assert (labels[~certified] == -1).all()
    assert certified.mean() > 0.5 and (radius[certified] > 0).all()
    # seeded: the same answer again
    np.testing.assert_array_equal(smoothed.certify(X_test[:20])[1], radius)


def test_predict_abstains_rather_than_guess(noisy_net, digits):
    _, X_test, _, y_test = digits
    smoothed = SmoothedClassifier(
        FrozenEstimator(noisy_net), sigma=0.25, n_draws=500, random_state=0
    )
    smoothed.fit(X_test[:1], y_test[:1])
    pred = smoothed.predict(X_test[:100])
    assert (pred[pred != -1] == y_test[:100][pred != -1]).mean() > 0.8
    heavy = clone(smoothed).set_params(sigma=5.0).fit(X_test[:1], y_test[:1])
    assert (heavy.predict(X_test[:30]) == -1).mean() > (pred[:30] == -1).mean()
    assert smoothed.score(X_test[:100], y_test[:100]) == pytest.approx(
        (pred == y_test[:100]).mean()
    )


def test_larger_sigma_certifies_larger_radii_on_easy_points(noisy_net, digits):
    _, X_test, _, y_test = digits
    radii = {}
    for sigma in (0.1, 0.25):
        smoothed = SmoothedClassifier(
            FrozenEstimator(noisy_net), sigma=sigma, n_select_draws=50, n_draws=2000, random_state=0
        ).fit(X_test[:1], y_test[:1])
        radii[sigma] = smoothed.certify(X_test[:40])[1]
    both = ~np.isnan(radii[0.1]) & ~np.isnan(radii[0.25])
    assert both.sum() >= 20
    # the radius is at most sigma * Phi^-1(p_A) with p_A < 1: a larger sigma, a larger cap
    assert np.nanmax(radii[0.1]) < np.nanmax(radii[0.25])


def test_per_example_sigma_gives_per_example_radii(noisy_net, digits):
    _, X_test, _, y_test = digits
    sigma = np.array([0.1] * 10 + [0.3] * 10)
    smoothed = SmoothedClassifier(
        FrozenEstimator(noisy_net), sigma=sigma, n_select_draws=50, n_draws=2000, random_state=0
    ).fit(X_test[:1], y_test[:1])
    _, radius = smoothed.certify(X_test[:20])
    assert np.nanmax(radius[:10]) <= 0.1 * 3.8  # sigma * Phi^-1(p_A) with p_A < 1 - 1e-4
    with pytest.raises(ValueError, match="sigma has 20 levels for 5 examples"):
        smoothed.certify(X_test[:5])


def test_in_a_grid_search_with_the_certified_accuracy_scorer(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    grid = GridSearchCV(
        SmoothedClassifier(
            NoiseTrainedClassifier(**FAST),
            sigma=0.25,
            n_select_draws=20,
            n_draws=200,
            random_state=0,
        ),  # fmt: skip
        {"estimator__sigma": [0.0, 0.25]},
        scoring=CertifiedAccuracyScorer(radius=0.1),
        cv=2,
    ).fit(X_train[:400], y_train[:400])
    scores = grid.cv_results_["mean_test_score"]
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all() and scores.max() > 0
    assert grid.best_estimator_.estimator_.sigma == grid.best_params_["estimator__sigma"]
    smoothed = grid.best_estimator_
    curve = certified_accuracy_curve(smoothed, X_test[:50], y_test[:50], radii=[0, 0.1, 0.3])
    assert (np.diff(curve["accuracy"]) <= 0).all()
    assert curve["accuracy"][1] == pytest.approx(
        certified_accuracy(smoothed, X_test[:50], y_test[:50], radius=0.1)
    )
    ax = plot_certified_accuracy(curve, label="sigma 0.25", path=tmp_path / "curve.png")
    assert ax.get_xlabel() == "L2 radius" and (tmp_path / "curve.png").stat().st_size > 0


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_draws=0), "n_draws must be"),
        (dict(n_select_draws=1.5), "n_select_draws"),
        (dict(alpha=1.0), "alpha"),
        (dict(sigma=-0.1), "sigma"),
        (dict(sigma=np.array([0.1, np.nan])), "sigma"),
    ],
)
def test_bad_parameters_fail_before_any_draw(noisy_net, digits, params, match):
    _, X_test, _, y_test = digits
    with pytest.raises((ValueError, TypeError), match=match):
        SmoothedClassifier(FrozenEstimator(noisy_net), **params).fit(X_test[:5], y_test[:5])
    with pytest.raises(TypeError, match="SmoothedClassifier"):
        certified_accuracy(noisy_net, X_test[:5], y_test[:5])
