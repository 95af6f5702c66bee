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
        epochs=5,
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
        epochs=1,
        random_state=0,
    )
    assert result.estimator is not model and len(result.estimator.history_) == 1


def test_errors(model, digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="retrain must be one of"):
        select_for_retraining(model, X_train, y_train, 5, retrain="later")
    with pytest.raises(ValueError, match="together"):
        select_for_retraining(model, X_train, y_train, 5, X_train=X_train)
