"""Randomized smoothing's statistics, checked against an independent implementation of
Cohen et al.'s published algorithm on the same draws."""

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from robustsk.certify import (
    ABSTAIN,
    certify_counts,
    clopper_pearson_lower,
    predict_counts,
    smoothed_counts,
)


def _reference_certify(counts0, counts, sigma, alpha):
    """CERTIFY as published (one example at a time, statsmodels' beta interval by hand)."""
    labels, radii = [], []
    for c0, c, s in zip(counts0, counts, np.broadcast_to(sigma, len(counts0))):
        c_hat = int(np.argmax(c0))
        n_a, n = int(c[c_hat]), int(c.sum())
        # proportion_confint(n_a, n, alpha=2 * alpha, method="beta")[0]
        p_a = 0.0 if n_a == 0 else stats.beta.ppf(alpha, n_a, n - n_a + 1)
        if p_a > 0.5:
            labels.append(c_hat)
            radii.append(s * stats.norm.ppf(p_a))
        else:
            labels.append(ABSTAIN)
            radii.append(np.nan)
    return np.array(labels), np.array(radii)


def _reference_predict(counts, alpha):
    out = []
    for c in counts:
        top2 = np.argsort(-c, kind="stable")[:2]
        n_a, n_b = int(c[top2[0]]), int(c[top2[1]])
        p = stats.binomtest(n_a, n_a + n_b, 0.5).pvalue if n_a + n_b else 1.0
        out.append(top2[0] if p <= alpha else ABSTAIN)
    return np.array(out)


def test_certify_and_predict_equal_the_published_algorithm_on_the_same_counts():
    rng = np.random.default_rng(0)
    # varied regimes: near-certain, contested, a tie, an empty class
    counts = rng.multinomial(1000, [0.7, 0.2, 0.1], size=40)
    counts[0] = [500, 500, 0]
    counts[1] = [1000, 0, 0]
    counts[2] = [520, 480, 0]
    counts0 = rng.multinomial(100, [0.6, 0.3, 0.1], size=40)
    counts0[3] = [10, 80, 10]  # selection disagrees with the estimation sample
    sigma = rng.uniform(0.1, 1.0, size=40)
    for alpha in (0.001, 0.05):
        got = certify_counts(counts0, counts, sigma, alpha)
        want = _reference_certify(counts0, counts, sigma, alpha)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(
            predict_counts(counts, alpha), _reference_predict(counts, alpha)
        )
    assert certify_counts(counts0, counts, sigma, 0.001)[0][3] == ABSTAIN
    assert predict_counts(counts, 0.05)[0] == ABSTAIN  # a tie is never a prediction


def test_clopper_pearson_covers_the_true_proportion():
    rng = np.random.default_rng(1)
    p, n, alpha = 0.8, 200, 0.05
    k = rng.binomial(n, p, size=4000)
    covered = (clopper_pearson_lower(k, n, alpha) <= p).mean()
    assert covered >= 1 - alpha  # exact interval: conservative
    assert clopper_pearson_lower(0, 10, 0.05) == 0.0
    assert clopper_pearson_lower(10, 10, 0.05) == pytest.approx(0.05 ** (1 / 10))


def test_radius_on_a_linear_model_is_its_distance_to_the_boundary():
    """For f(x) = sign(w.x + b), p_A = Phi(|w.x + b| / (sigma ||w||)), so the radius
    sigma Phi^-1(p_A) is the distance to the decision boundary; the certified one is below it
    (Clopper-Pearson), and close to it with many draws."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 2)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0]) + 0.3 > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    w, b = model.coef_[0], model.intercept_[0]
    X_test = rng.normal(scale=0.5, size=(30, 2)).astype(np.float32)
    distance = np.abs(X_test @ w + b) / np.linalg.norm(w)
    sigma = 0.5
    counts0 = smoothed_counts(model, X_test, sigma, 100, random_state=0)
    counts = smoothed_counts(model, X_test, sigma, 20000, random_state=1)
    labels, radius = certify_counts(counts0, counts, sigma, 0.001)
    certified = ~np.isnan(radius)
    assert certified.sum() >= 20
    np.testing.assert_array_equal(labels[certified], model.predict(X_test)[certified])
    assert (radius[certified] <= distance[certified] + 1e-9).all()
    unsaturated = certified & (distance < 2 * sigma)
    assert unsaturated.sum() >= 10
    assert (radius[unsaturated] >= 0.85 * distance[unsaturated] - 0.02).all()


def test_counts_are_seeded_batched_and_per_example(digits):
    from robustsk.estimators import NoiseTrainedClassifier

    X_train, X_test, y_train, _ = digits
    net = NoiseTrainedClassifier(sigma=0.3, max_epochs=2, verbose=0, random_state=0)
    net.fit(X_train, y_train)
    a = smoothed_counts(net, X_test[:6], 0.3, 500, random_state=3)
    b = smoothed_counts(net, X_test[:6], 0.3, 500, random_state=3, batch_size=64)
    assert a.shape == (6, 10) and (a.sum(1) == 500).all()
    # other batching, other draws: the same distribution (the top class agrees)
    np.testing.assert_array_equal(a.argmax(1), b.argmax(1))
    np.testing.assert_array_equal(a, smoothed_counts(net, X_test[:6], 0.3, 500, random_state=3))
    zero = smoothed_counts(net, X_test[:6], np.zeros(6), 50, random_state=0)
    clean = net.predict(X_test[:6])
    np.testing.assert_array_equal(zero.argmax(1), np.searchsorted(net.classes_, clean))
    assert (zero.max(1) == 50).all()  # no noise: every copy is the clean prediction
    spread = smoothed_counts(net, X_test[:6], np.array([0.0] * 3 + [5.0] * 3), 300, random_state=0)
    assert (spread[:3].max(1) == 300).all() and (spread[3:].max(1) < 300).all()
