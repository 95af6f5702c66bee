"""Renamed parameters keep working for one release, with a warning that says what to write."""

import warnings

import numpy as np
import pytest

from robustsk.reproduce import AQPLConfig, BudgetsConfig, RPRConfig
from robustsk.utils import renamed_kwargs


def test_renamed_keywords_are_passed_on_with_a_warning():
    @renamed_kwargs({"old": "new"})
    def f(*, new=1):
        return new

    with pytest.warns(FutureWarning, match="old was renamed new in robustsk 0.2 .* pass new="):
        assert f(old=5) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(new=3) == 3  # the new name warns nothing
    with pytest.raises(TypeError, match="old is the old name of new"):
        f(old=1, new=2)


@pytest.mark.parametrize(
    "cls, old, new",
    [
        (AQPLConfig, {"epochs": 3}, {"max_epochs": 3}),
        (AQPLConfig, {"n_noise": 7}, {"learner_draws": 7}),
        (AQPLConfig, {"n_draws": 9}, {"annotator_draws": 9}),
        (BudgetsConfig, {"epochs": 4}, {"max_epochs": 4}),
        (BudgetsConfig, {"mnist_alpha": (0.25, 3.0)}, {"mnist_ratio_range": (0.25, 3.0)}),
        (BudgetsConfig, {"generator": "conv"}, {"generator_head": "conv"}),
        (RPRConfig, {"epochs": 2}, {"max_epochs": 2}),
    ],
)
def test_configurations_take_their_old_field_names(cls, old, new):
    with pytest.warns(FutureWarning, match="renamed"):
        assert cls(**old) == cls(**new)
    assert cls.paper(**new) == cls.paper(**new)


def test_strategies_take_their_old_names(digits):
    from robustsk.estimators import NoiseTrainedClassifier
    from robustsk.query import bald, noise_entropy

    X_train, X_test, y_train, _ = digits
    net = NoiseTrainedClassifier(sigma=0.2, max_epochs=1, verbose=0, random_state=0)
    net.fit(X_train[:200], y_train[:200])
    pool = X_test[:40]
    with pytest.warns(FutureWarning, match="n_noise was renamed n_draws"):
        old = noise_entropy(net, pool, 5, n_noise=8, random_state=0)
    new = noise_entropy(net, pool, 5, n_draws=8, random_state=0)
    np.testing.assert_array_equal(old[0], new[0])
    with pytest.warns(FutureWarning, match="n_samples was renamed n_draws"):
        old = bald(net, pool, 5, n_samples=4, random_state=0)
    np.testing.assert_array_equal(old[0], bald(net, pool, 5, n_draws=4, random_state=0)[0])
