"""verified_error's parameters: declared once, every bad value refused naming it, before any
bound is computed (``budget=True`` used to mean a radius of 1.0)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from torch import nn

from robustsk.estimators import CertifiedBudgetClassifier, RobustNetClassifier
from robustsk.metrics import VerifiedErrorScorer, verified_error
from tests._bad_values import bad_values, watched

DECLARED = verified_error._parameter_constraints


@pytest.fixture(scope="module")
def nets(digits):
    X, X_test, y, y_test = digits
    flat = X[:64].reshape(64, -1)
    plain = RobustNetClassifier(
        nn.Sequential(nn.Linear(64, 10)), max_epochs=1, verbose=0, random_state=0
    ).fit(flat, y[:64])
    certified = CertifiedBudgetClassifier(
        budget_mode="uniform", eps0=0.05, max_epochs=1, ramp_start=0, verbose=0, random_state=0
    ).fit(X[:64], y[:64])
    return {
        "plain": (plain, X_test[:8].reshape(8, -1), y_test[:8]),
        "certified": (certified, X_test[:8], y_test[:8]),
    }


CASES = [
    pytest.param(kind, name, bad, id=f"{kind}-{name}-{i}")
    for kind in ("plain", "certified")
    for name, allowed in DECLARED.items()
    for i, bad in enumerate(bad_values(allowed))
]


@pytest.mark.parametrize("kind, name, bad", CASES)
def test_a_bad_value_is_refused_naming_it_before_any_bound(nets, kind, name, bad):
    est, X, y = nets[kind]
    kwargs = {"budget": 0.01, name: bad}
    with watched(est) as seen:
        with pytest.raises((TypeError, ValueError), match=rf"(^|\W){name}\W"):
            verified_error(est, X, y, **kwargs)
    assert seen["calls"] == 0


@pytest.mark.parametrize("kind", ["plain", "certified"])
@pytest.mark.parametrize("budget", [True, False, np.True_, np.array([True, False])])
def test_a_bool_budget_is_a_type_error(nets, kind, budget):
    est, X, y = nets[kind]
    with pytest.raises(TypeError, match=r"^budget must be .*bool"):
        verified_error(est, X, y, budget=budget)
    with pytest.raises(TypeError, match="budget"):
        VerifiedErrorScorer(budget=budget)(est, X, y)


@settings(max_examples=30, derandomize=True, deadline=None)
@given(
    budget=st.one_of(
        st.floats(max_value=0.0, exclude_max=True),
        st.sampled_from([float("nan"), float("inf")]),
        st.lists(st.floats(-10, 10), min_size=1, max_size=4).filter(lambda v: min(v) < 0),
    )
)
def test_negative_or_non_finite_budgets_are_refused(nets, budget):
    for kind in ("plain", "certified"):
        est, X, y = nets[kind]
        with pytest.raises(ValueError, match="budget"):
            verified_error(
                est, X, y, budget=np.asarray(budget) if isinstance(budget, list) else budget
            )


def test_valid_budgets_still_work(nets):
    plain, X, y = nets["plain"]
    assert 0.0 <= verified_error(plain, X, y, budget=0.01) <= 1.0
    assert verified_error(plain, X, y, budget=np.float32(0.01)) == verified_error(
        plain, X, y, budget=0.01
    )
    assert verified_error(plain, X, y, budget=np.full(64, 0.01, np.float32)) == verified_error(
        plain, X, y, budget=0.01
    )
    certified, Xc, yc = nets["certified"]
    assert verified_error(certified, Xc, yc) == verified_error(certified, Xc, yc, budget="uniform")
    assert verified_error(certified, Xc, yc, budget=0) <= verified_error(certified, Xc, yc)
    with pytest.raises(ValueError, match="budget= a float"):  # a net without budgets of its own
        verified_error(plain, X, y, budget="uniform")
    bad = X.copy()
    bad[2, 5] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        verified_error(plain, bad, y, budget=0.01)
