"""RPR: the step counts, the score and scorer, and bad input refused before any work."""

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score

from robustsk.estimators import NoiseTrainedClassifier
from robustsk.metrics import RPRScorer, rpr_score, rpr_steps
from robustsk.nets import MLP
from robustsk.perturb import GaussianNoise, RandomPixels

# ----------------------------------------------------------------------- helpers


class ConstantModel(ClassifierMixin, BaseEstimator):
    """Predicts the first class for everything: no perturbation can change its answer."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.calls_ = 0
        return self

    def predict(self, X):
        self.calls_ += 1
        return np.full(len(X), self.classes_[0])


class ExactMatchModel(ClassifierMixin, BaseEstimator):
    """Right only on the exact training rows: any change to an input flips its answer."""

    def fit(self, X, y):
        self.X_ = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        self.y_ = np.asarray(y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        eq = (X[:, None, :] == self.X_[None]).all(axis=2)  # (rows, n_train)
        return np.where(eq.any(1), self.y_[eq.argmax(1)], -1)  # -1: no label is ever right


class FirstPixelModel(ClassifierMixin, BaseEstimator):
    """Class 0 while feature 0 keeps its value 0.5, else class 1.

    Under ``RandomPixels(k)`` on d features a draw changes feature 0 with
    probability ``p = 1 - (1 - 1/d)**k``, so the step count is exactly a
    geometric variable on 1, 2, ... capped at max_steps:
    ``P(steps >= m) = (1 - p)**(m - 1)``.
    """

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return np.where(np.asarray(X)[:, 0] == np.float32(0.5), 0, 1)


# --------------------------------------------------------------- the definition


def test_constant_model_is_fully_robust(flat_digits):
    X, _, _, _ = flat_digits
    y = np.zeros(len(X), dtype=int)
    model = ConstantModel().fit(X, np.r_[y[:-1], 1])
    steps = rpr_steps(model, X[:200], y[:200], max_steps=30, random_state=0)
    assert (steps == 30).all()
    assert rpr_score(model, X[:200], y[:200], max_steps=30, random_state=0) == 1.0


def test_misclassified_points_count_zero_and_are_not_robust(flat_digits):
    X, _, _, _ = flat_digits
    y = np.r_[np.zeros(50, dtype=int), np.ones(50, dtype=int)]
    model = ConstantModel().fit(X[:100], y)  # always predicts 0
    steps = rpr_steps(model, X[:100], y, max_steps=10, random_state=0)
    assert (steps[:50] == 10).all() and (steps[50:] == 0).all()
    assert rpr_score(model, X[:100], y, max_steps=10, random_state=0) == 0.5


def test_model_that_flips_on_any_change_scores_zero(flat_digits):
    X, _, y, _ = flat_digits
    X, y = X[:60], y[:60]
    model = ExactMatchModel().fit(X, y)
    assert (model.predict(X) == y).all()  # right on the clean points...
    steps = rpr_steps(model, X, y, max_steps=20, random_state=0)
    assert (steps == 1).all()  # ...wrong on the first draw
    assert rpr_score(model, X, y, max_steps=20, random_state=0) == 0.0


def test_steps_follow_the_exact_capped_geometric_law():
    d, k, max_steps, n = 64, 8, 30, 4000
    X = np.random.default_rng(0).random((n, d)).astype(np.float32)
    X[:, 0] = 0.5
    y = np.zeros(n, dtype=int)
    model = FirstPixelModel().fit(X, y)
    p = 1 - (1 - 1 / d) ** k
    steps = rpr_steps(
        model,
        X,
        y,
        perturbation=RandomPixels(k),
        max_steps=max_steps,
        random_state=0,
        batch_size=1000,
    )
    robust = (1 - p) ** (max_steps - 1)  # fooled by the last draw, or never
    assert abs(np.mean(steps == max_steps) - robust) < 4 * np.sqrt(robust * (1 - robust) / n)
    assert steps.min() >= 1  # every point is right on its clean input
    # chi-square over the step values against the capped geometric probabilities
    pmf = np.r_[p * (1 - p) ** np.arange(max_steps - 1), robust]  # P(steps = 1..max_steps)
    observed = np.bincount(steps, minlength=max_steps + 1)[1:]
    assert stats.chisquare(observed, pmf * n).pvalue > 1e-3


# ----------------------------------------------------------------- bad input


class CountingModel(ConstantModel):
    pass


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(X="nan"), ValueError, "X contains NaN"),
        (dict(y="short"), ValueError, "same number of samples"),
        (dict(max_steps=0), ValueError, r"max_steps must be in \[1, inf\], got 0"),
        (dict(max_steps=2.5), TypeError, "max_steps must be an int"),
        (dict(perturbation=object()), TypeError, "perturbation must be .* no __call__"),
        (dict(perturbation=RandomPixels(k=0)), ValueError, "k must be in"),
        (dict(perturbation=RandomPixels(clip=None)), ValueError, "clip must be a pair"),
        (dict(perturbation=GaussianNoise(np.ones(3))), ValueError, "one sigma per sample"),
        (dict(batch_size=0), ValueError, "batch_size must be in"),
        (dict(chunk_size=-1), ValueError, "chunk_size must be in"),
        (dict(backend="gpu"), ValueError, "backend must be one of"),
        (dict(backend="torch"), TypeError, "needs a fitted torch network"),
        (dict(random_state="seed"), TypeError, "random_state must be"),
        (dict(y="unknown"), ValueError, "labels the estimator does not know"),
    ],
)
def test_bad_input_is_rejected_before_any_work(flat_digits, change, error, match):
    X, _, _, _ = flat_digits
    X, y = X[:10].copy(), np.zeros(10, dtype=int)
    model = CountingModel().fit(X, np.r_[y[:-1], 1])
    kw = dict(max_steps=5)
    for key, value in change.items():
        if key == "X":
            X[3, 5] = np.nan
        elif key == "y":
            y = y[:7] if value == "short" else np.full(10, 7)
        else:
            kw[key] = value
    with pytest.raises(error, match=match):
        rpr_steps(model, X, y, **kw)
    assert model.calls_ == 0


def test_estimator_without_predict_and_values_outside_clip(flat_digits):
    X, _, y, _ = flat_digits
    with pytest.raises(TypeError, match="estimator must be a fitted classifier with predict"):
        rpr_steps(object(), X[:5], y[:5])
    model = ConstantModel().fit(X, y)
    with pytest.warns(UserWarning, match=r"outside the valid range clip=\(0.0, 1.0\)"):
        rpr_steps(model, X[:5] * 16, y[:5], max_steps=2, random_state=0)


# ------------------------------------------------------------------- scorer


def test_rpr_scorer_in_cross_val_score_and_grid_search_with_sklearn(flat_digits):
    X, _, y, _ = flat_digits
    X, y = X[:400], y[:400]
    scorer = RPRScorer(max_steps=15, perturbation=RandomPixels(4))
    scores = cross_val_score(
        RandomForestClassifier(n_estimators=10, random_state=0), X, y, cv=2, scoring=scorer
    )
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()
    search = GridSearchCV(
        RandomForestClassifier(random_state=0),
        {"n_estimators": [3, 10]},
        cv=2,
        scoring={"rpr": scorer, "accuracy": "accuracy"},
        refit="rpr",
    )
    search.fit(X, y)
    assert set(search.cv_results_) >= {"mean_test_rpr", "mean_test_accuracy"}
    assert (
        search.cv_results_["mean_test_rpr"] <= search.cv_results_["mean_test_accuracy"] + 1e-9
    ).all()
    assert "RPRScorer(max_steps=15" in repr(scorer)


def test_rpr_scorer_with_noise_trained_classifier(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:300], y_train[:300]
    net = NoiseTrainedClassifier(
        MLP,
        module__hidden_units=(32,),
        sigma=0.2,
        max_epochs=2,
        lr=1e-2,
        verbose=0,
        random_state=0,
        device="cpu",
    )
    scorer = RPRScorer(max_steps=10, perturbation=RandomPixels(4))
    scores = cross_val_score(net, X, y, cv=2, scoring=scorer)
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()
    search = GridSearchCV(net, {"sigma": [0.1, 0.3]}, cv=2, scoring=scorer).fit(X, y)
    assert search.best_params_["sigma"] in (0.1, 0.3)


class _CountingModel:
    """Predicts class 0 and counts its predict calls."""

    classes_ = np.array([0, 1])
    calls_ = 0

    def fit(self, X, y):
        return self

    def predict(self, X):
        self.calls_ += 1
        return np.zeros(len(X), dtype=int)


def test_rpr_refuses_a_scheme_the_data_cannot_take_before_any_prediction():
    from robustsk.metrics import rpr_steps

    model, X = _CountingModel(), np.zeros((5, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=r"k must be at most the number of pixels \(64\)"):
        rpr_steps(model, X, np.zeros(5, dtype=int), perturbation=RandomPixels(65, replace=False))
    assert model.calls_ == 0
    steps = rpr_steps(
        model, X, np.zeros(5, dtype=int), perturbation=RandomPixels(64, replace=False), max_steps=3
    )
    assert (steps == 3).all()
