import numpy as np
import pytest

from robustsk.estimators import RobustNetClassifier
from robustsk.query import random_sampling
from robustsk.selection import select_for_retraining


@pytest.fixture(scope="module")
def model(digits):
    X_train, _, y_train, _ = digits
    return RobustNetClassifier(max_epochs=8, lr=1e-2, batch_size=32, verbose=0, random_state=0).fit(
        X_train[:900], y_train[:900]
    )


def test_retraining_learns_the_selected_adversarial_examples(model, digits):
    X_train, X_test, y_train, y_test = digits
    before = model.predict_proba(X_test).copy()
    result = select_for_retraining(
        model,
        X_train[900:],
        y_train[900:],
        300,
        X_train=X_train[:900],
        y_train=y_train[:900],
        eps=0.1,
        alpha=0.025,
        steps=10,
        max_epochs=5,
        random_state=0,
    )
    idx = result.indices
    assert idx.shape == (300,) and len(set(idx.tolist())) == 300
    assert np.abs(result.X_adv - X_train[900:][idx]).max() <= 0.1 + 1e-6
    np.testing.assert_array_equal(model.predict_proba(X_test), before)  # original untouched
    y_sel = y_train[900:][idx]
    assert model.score(result.X_adv, y_sel) < 0.5  # they are adversarial for the old model
    assert result.estimator.score(result.X_adv, y_sel) > 0.9  # and learned by the new one
    assert result.estimator.score(X_test, y_test) > model.score(X_test, y_test) - 0.03
    assert len(result.estimator.history_) == len(model.history_) + 5  # fine-tuned


def test_any_strategy_and_scratch_retraining(model, digits):
    X_train, _, y_train, _ = digits
    result = select_for_retraining(
        model,
        X_train[900:],
        y_train[900:],
        20,
        strategy=random_sampling,
        retrain="scratch",
        eps=0.1,
        steps=2,
        max_epochs=1,
        random_state=0,
    )
    assert result.estimator is not model and len(result.estimator.history_) == 1


def test_errors(model, digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="retrain must be one of"):
        select_for_retraining(model, X_train, y_train, 5, retrain="later")
    with pytest.raises(ValueError, match="together"):
        select_for_retraining(model, X_train, y_train, 5, X_train=X_train)


class _OnScale:
    """A fitted classifier for data on another scale: predicts ``model`` on ``X / scale``."""

    def __init__(self, model, scale):
        self.model, self.scale = model, scale
        self.classes_ = model.classes_

    def predict(self, X):
        return self.model.predict(np.asarray(X, dtype=np.float64) / self.scale)


@pytest.fixture(scope="module")
def flat_digits():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    return X, y, LogisticRegression(max_iter=300).fit(X, y)


def test_robust_subset_selector_takes_the_data_range(flat_digits):
    import warnings

    from sklearn.base import clone

    from robustsk.selection import RobustSubsetSelector

    X, y, lr = flat_digits
    kw = dict(n_per_class="min", max_steps=15, random_state=0)
    unit = RobustSubsetSelector(lr, **kw).fit(X, y)
    assert 0 < unit.support_.sum() < len(y)  # a real selection, not all or nothing
    X255 = X * 255.0
    for clip in [(0, 255), (np.zeros(64), np.full(64, 255.0))]:  # one pair, per-feature arrays
        sel = RobustSubsetSelector(_OnScale(lr, 255.0), clip=clip, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # data inside the range: no warning
            X_r, y_r = sel.fit_resample(X255, y)
        np.testing.assert_array_equal(sel.steps_, unit.steps_)
        np.testing.assert_array_equal(sel.sample_indices_, unit.sample_indices_)
        np.testing.assert_array_equal(X_r, X255[unit.sample_indices_])
    # without its range, 0-255 data warn and are judged under [0, 1] noise: other steps
    with pytest.warns(UserWarning, match="outside the valid range"):
        wrong = RobustSubsetSelector(_OnScale(lr, 255.0), **kw).fit(X255, y)
    assert not np.array_equal(wrong.steps_, unit.steps_)
    # a parameter like any other, and checked before a clone is fitted (prefit=False)
    sel = RobustSubsetSelector(lr, clip=(0, 255))
    assert sel.get_params()["clip"] == (0, 255) and clone(sel).clip == (0, 255)
    from robustsk.perturb import RandomPixels

    bad = RobustSubsetSelector(
        lr, prefit=False, perturbation=RandomPixels(clip=(0, 1)), clip=(0, 255)
    )
    with pytest.raises(ValueError, match="differs from perturbation.clip"):
        bad.fit(X, y)
