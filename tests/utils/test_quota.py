"""The one stratified quota sampler (``robustsk.utils._quota``) behind DRE and RobustSubsetSelector.

Each of them drew its per-stratum sample with code of its own before; the references
below are those two copies, verbatim, and the shared sampler must select exactly what
they did (same indices, same order, same dtype) for the same random stream.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import robustsk.query as Q
from robustsk.perturb import RandomPixels
from robustsk.selection import RobustSubsetSelector
from robustsk.utils import draw_seed
from robustsk.utils._quota import proportional_quotas, stratified_sample


def _dre_reference(bin_of, quotas, rng):
    """DRE's former ``sample_per_bin`` (then cast to int64 by ``dre_select``)."""
    order = np.lexsort(np.stack([rng.random(bin_of.shape[0]), bin_of]))
    sorted_bins = bin_of[order]
    starts = np.searchsorted(sorted_bins, np.arange(len(quotas)))
    rank = np.arange(order.shape[0]) - starts[sorted_bins]
    return order[rank < quotas[sorted_bins]].astype(np.int64)


def _selector_reference(robust, codes, n_robust, take, rng):
    """RobustSubsetSelector's former inline per-class draw."""
    order = np.lexsort((rng.random(robust.sum()), codes[robust]))
    robust_idx = np.flatnonzero(robust)[order]
    starts = np.concatenate([[0], np.cumsum(n_robust)[:-1]])
    rank = np.arange(robust_idx.shape[0]) - np.repeat(starts, n_robust)
    return np.sort(robust_idx[rank < np.repeat(take, n_robust)])


def _random_strata(seed):
    r = np.random.default_rng(seed)
    n_strata = int(r.integers(1, 12))
    strata = r.integers(0, n_strata, size=int(r.integers(1, 400)))
    counts = np.bincount(strata, minlength=n_strata)
    # quotas below, at and above each stratum's size; empty strata included
    quotas = np.maximum(counts + r.integers(-5, 3, size=n_strata), 0)
    return strata, counts, quotas


@pytest.mark.parametrize("seed", range(30))
def test_matches_the_dre_copy_bit_for_bit(seed):
    strata, _, quotas = _random_strata(seed)
    got = stratified_sample(strata, quotas, np.random.default_rng(seed))
    want = _dre_reference(strata, quotas, np.random.default_rng(seed))
    assert got.dtype == want.dtype == np.int64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(30))
def test_matches_the_selector_copy_bit_for_bit(seed):
    codes, _, _ = _random_strata(seed)
    r = np.random.default_rng(seed + 1000)
    robust = r.random(codes.shape[0]) < 0.6
    robust[r.integers(codes.shape[0])] = True
    n_robust = np.bincount(codes[robust], minlength=int(codes.max()) + 1)
    take = np.minimum(n_robust, int(r.integers(1, 40)))
    drawn = stratified_sample(codes[robust], take, np.random.default_rng(seed))
    got = np.sort(np.flatnonzero(robust)[drawn])
    want = _selector_reference(robust, codes, n_robust, take, np.random.default_rng(seed))
    np.testing.assert_array_equal(got, want)


def test_quota_per_stratum_without_replacement_and_grouped():
    strata, counts, quotas = _random_strata(7)
    idx = stratified_sample(strata, quotas, np.random.default_rng(0))
    assert len(np.unique(idx)) == len(idx)
    np.testing.assert_array_equal(
        np.bincount(strata[idx], minlength=len(quotas)), np.minimum(quotas, counts)
    )
    assert (np.diff(strata[idx]) >= 0).all()  # grouped by stratum, in stratum order


def test_draw_is_uniform_within_a_stratum():
    strata = np.r_[np.zeros(4, dtype=int), np.ones(6, dtype=int)]
    rng = np.random.default_rng(0)
    hits = np.zeros(10)
    for _ in range(4000):
        hits[stratified_sample(strata, [1, 3], rng)] += 1
    np.testing.assert_allclose(hits[:4] / 4000, 1 / 4, atol=0.03)
    np.testing.assert_allclose(hits[4:] / 4000, 1 / 2, atol=0.03)


def test_proportional_quotas_are_shared_with_dre():
    from robustsk.query import _dre

    assert _dre.proportional_quotas is proportional_quotas
    np.testing.assert_array_equal(
        proportional_quotas([10, 30, 60], 10, np.random.default_rng(0)), [1, 3, 6]
    )


@pytest.mark.parametrize("seed", range(5))
def test_dre_select_draws_as_before(seed):
    r = np.random.default_rng(seed)
    entropy = r.random(500) ** 3
    n_bins = int(r.integers(1, 60))
    got = Q.dre_select(entropy, 123, np.random.default_rng(seed), n_bins=n_bins)
    rng = np.random.default_rng(seed)
    counts, edges = np.histogram(entropy, bins=n_bins)
    bin_of = np.clip(np.searchsorted(edges, entropy, side="right") - 1, 0, n_bins - 1)
    quotas = proportional_quotas(counts, 123, rng)
    np.testing.assert_array_equal(got, _dre_reference(bin_of, quotas, rng))


@pytest.fixture(scope="module")
def digits_model():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    return LogisticRegression(max_iter=300).fit(X, y), X, y


@pytest.mark.parametrize("n_per_class", [None, "min", 5, 1000])
def test_robust_subset_selector_draws_as_before(digits_model, n_per_class):
    model, X, y = digits_model
    sel = RobustSubsetSelector(
        model, n_per_class=n_per_class, max_steps=10, perturbation=RandomPixels(4), random_state=3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short classes with n_per_class=1000
        sel.fit(X, y)
    classes, codes = np.unique(y, return_inverse=True)
    n_robust = np.bincount(codes[sel.robust_], minlength=len(classes))
    take = np.array([sel.n_selected_per_class_[c] for c in classes.tolist()])
    rng = np.random.default_rng([draw_seed(3), 1])
    want = _selector_reference(sel.robust_, codes, n_robust, take, rng)
    np.testing.assert_array_equal(sel.sample_indices_, want)
    assert 0 < len(want) <= sel.robust_.sum()
