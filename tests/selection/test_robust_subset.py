"""RobustSubsetSelector: balanced robust subsets, clone, prefit and errors."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from robustsk.perturb import RandomPixels
from robustsk.selection import RobustSubsetSelector
from tests.metrics.test_rpr import ConstantModel, ExactMatchModel


def test_robust_subset_selector_balances_classes(logreg, flat_digits):
    X, _, y, _ = flat_digits
    selector = RobustSubsetSelector(
        logreg, n_per_class=15, max_steps=20, perturbation=RandomPixels(4), random_state=0
    )
    X_r, y_r = selector.fit_resample(X, y)
    assert np.bincount(y_r).tolist() == [15] * 10
    assert selector.n_selected_per_class_ == {c: 15 for c in range(10)}
    mask = selector.get_support()
    idx = selector.get_support(indices=True)
    assert mask.shape == (len(X),) and mask.sum() == len(X_r) == 150
    np.testing.assert_array_equal(np.flatnonzero(mask), idx)
    np.testing.assert_array_equal(X_r, X[mask])
    np.testing.assert_array_equal(y_r, y[mask])
    assert selector.robust_[mask].all()  # only robust points are kept
    assert (selector.steps_[mask] == 20).all()
    assert selector.n_robust_per_class_ == {
        c: int(n) for c, n in enumerate(np.bincount(y[selector.robust_]))
    }
    # reproducible, and the same estimator judged the points
    again = RobustSubsetSelector(
        logreg, n_per_class=15, max_steps=20, perturbation=RandomPixels(4), random_state=0
    )
    np.testing.assert_array_equal(again.fit(X, y).get_support(), mask)
    assert selector.estimator_ is logreg


def test_robust_subset_selector_min_none_and_short_classes(logreg, flat_digits):
    X, _, y, _ = flat_digits
    kw = dict(max_steps=20, perturbation=RandomPixels(4), random_state=0)
    everything = RobustSubsetSelector(logreg, n_per_class=None, **kw).fit(X, y)
    np.testing.assert_array_equal(everything.support_, everything.robust_)
    smallest = min(everything.n_robust_per_class_.values())
    _, y_min = RobustSubsetSelector(logreg, n_per_class="min", **kw).fit_resample(X, y)
    assert np.bincount(y_min).tolist() == [smallest] * 10
    with pytest.warns(UserWarning, match="all of them are kept"):
        _, y_big = RobustSubsetSelector(logreg, n_per_class=10_000, **kw).fit_resample(X, y)
    assert len(y_big) == everything.support_.sum()
    # "min" over the classes that have robust points; the others are warned about
    with pytest.warns(UserWarning, match="have only"):
        only_zeros = RobustSubsetSelector(
            ConstantModel().fit(X, y), n_per_class="min", max_steps=3, random_state=0
        ).fit(X, y)
    assert only_zeros.n_selected_per_class_[0] == (y == 0).sum() == only_zeros.support_.sum()


def test_shortfall_fill_tops_short_classes_up_with_their_most_robust_other_points(
    logreg, flat_digits
):
    X, _, y, _ = flat_digits
    kw = dict(max_steps=20, perturbation=RandomPixels(4), random_state=0)
    keep = RobustSubsetSelector(logreg, n_per_class=10_000, **kw)
    with pytest.warns(UserWarning, match="robust points; all of them are kept"):
        keep.fit(X, y)
    robust_counts = keep.n_robust_per_class_
    want = sorted(robust_counts.values())[5]  # about half the classes are short of it
    short = {c for c, n in robust_counts.items() if n < want}
    assert short and len(short) < 10
    filled = RobustSubsetSelector(logreg, n_per_class=want, shortfall="fill", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every class has enough points: no warning
        X_f, y_f = filled.fit_resample(X, y)
    assert np.bincount(y_f).tolist() == [want] * 10
    assert filled.n_selected_per_class_ == {c: want for c in range(10)}
    assert filled.n_filled_per_class_ == {c: max(want - robust_counts[c], 0) for c in range(10)}
    mask, steps = filled.support_, filled.steps_
    for c in range(10):
        in_class = y == c
        chosen_rest = mask & in_class & ~filled.robust_
        if c not in short:
            assert not chosen_rest.any()  # a full class gets robust points only
            continue
        # all of the class's robust points, then the most robust of the rest
        assert (mask & in_class & filled.robust_).sum() == robust_counts[c]
        left_out = in_class & ~mask
        assert steps[chosen_rest].min() >= steps[left_out].max()
    # the robust part is the same draw as without filling
    plain = RobustSubsetSelector(logreg, n_per_class=want, **kw)
    with pytest.warns(UserWarning, match="have only"):
        plain.fit(X, y)
    np.testing.assert_array_equal(plain.support_, mask & filled.robust_)
    # a class smaller than n_per_class is kept whole, with a warning naming it
    tiny = np.flatnonzero(y == 3)[:5]
    X_small = np.concatenate([X[y != 3], X[tiny]])
    y_small = np.concatenate([y[y != 3], y[tiny]])
    with pytest.warns(UserWarning, match=r"\[3\] have only \[5\] the class's points"):
        RobustSubsetSelector(logreg, n_per_class=want, shortfall="fill", **kw).fit(X_small, y_small)
    with pytest.raises(ValueError, match="shortfall must be one of"):
        RobustSubsetSelector(logreg, n_per_class=5, shortfall="top").fit(X, y)


def test_robust_subset_selector_clone_prefit_and_errors(logreg, flat_digits, tiny_net, digits):
    X, _, y, _ = flat_digits
    selector = RobustSubsetSelector(
        logreg, n_per_class=5, max_steps=10, random_state=0, perturbation=RandomPixels(4)
    )
    twin = clone(selector)
    assert twin.get_params()["n_per_class"] == 5 and twin.estimator is not logreg
    with pytest.raises(Exception, match="not fitted.*prefit=False"):
        twin.fit_resample(X, y)  # a clone's estimator is unfitted
    twin.set_params(prefit=False)
    X_r, y_r = twin.fit_resample(X, y)  # fits a clone of the estimator first
    assert np.bincount(y_r).tolist() == [5] * 10
    assert twin.estimator_ is not twin.estimator
    # a robustsk net takes the torch path
    X_img, _, y_img, _ = digits
    _, y_net = RobustSubsetSelector(
        tiny_net, n_per_class=3, max_steps=5, perturbation=RandomPixels(2), random_state=0
    ).fit_resample(X_img, y_img)
    assert len(y_net) <= 30
    for bad, error, match in [
        (0, ValueError, "n_per_class must be in"),
        ("max", TypeError, "n_per_class must be an int, 'min' or None"),
        (2.5, TypeError, "n_per_class must be an int"),
    ]:
        with pytest.raises(error, match=match):
            RobustSubsetSelector(logreg, n_per_class=bad).fit_resample(X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        X_nan = X.copy()
        X_nan[0, 0] = np.nan
        RobustSubsetSelector(ConstantModel(), prefit=False).fit_resample(X_nan, y)
    with pytest.raises(ValueError, match="nothing to select"):
        flip = ExactMatchModel().fit(X[:30], y[:30])
        RobustSubsetSelector(flip, max_steps=3).fit_resample(X[:30], y[:30])
    with pytest.raises(Exception, match="not fitted"):
        RobustSubsetSelector(logreg).get_support()
