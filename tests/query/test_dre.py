"""Known answers for DRE's maths."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from robustsk import query as Q
from robustsk.query import dre, dre_select
from robustsk.query._dre import proportional_quotas


def test_dre_matches_pool_entropy_far_better_than_max_entropy(trained):
    net, pool, y_pool = trained
    dre_idx, _ = Q.dre(net, pool, 200, random_state=0)
    max_idx, _ = Q.max_entropy(net, pool, 200, random_state=0)
    dre_bias = Q.selection_bias(net, pool, dre_idx)["entropy"]
    max_bias = Q.selection_bias(net, pool, max_idx)["entropy"]
    assert dre_bias < 0.05 and max_bias > 0.4 and max_bias > 10 * dre_bias


def test_dre_maximum_entropy_point_is_eligible():
    entropy = np.linspace(0.0, 1.0, 50)  # one point in each of the 50 bins
    idx = Q.dre_select(entropy, 50, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(idx), np.arange(50))
    # the top bin holds only the maximum; with a quota of 1 it must be picked
    entropy = np.r_[np.zeros(9), 1.0]
    for seed in range(5):
        idx = Q.dre_select(entropy, 10, np.random.default_rng(seed), n_bins=2)
        assert 9 in idx.tolist()


def test_proportional_quotas():
    np.testing.assert_array_equal(
        proportional_quotas([10, 30, 60], 10, np.random.default_rng(0)), [1, 3, 6]
    )
    q = proportional_quotas([5, 5, 5], 4, np.random.default_rng(0))
    assert q.sum() == 4 and q.max() - q.min() <= 1
    q = proportional_quotas([1, 0, 100], 3, np.random.default_rng(0))
    assert q.sum() == 3 and q[1] == 0 and (q <= [1, 0, 100]).all()


# A hand-made histogram, 4 bins of width 0.25 on [0, 1]: counts 10, 5, 3, 2 of 20 (the
# last bin holds 0.8 and the maximum 1.0).
HAND = np.array([0.0] + [0.1] * 9 + [0.3] * 5 + [0.6] * 3 + [0.8, 1.0])


def _bins(e, idx):
    return np.bincount(np.minimum((e[idx] * 4).astype(int), 3), minlength=4).tolist()


@pytest.mark.parametrize("seed", range(5))
def test_the_two_quotas_give_their_known_answers_on_a_hand_made_histogram(seed):
    """n=4 of 20. Proportional (the paper's text): shares 2, 1, 0.6, 0.4 -> largest
    remainders 2, 1, 1, 0. Reference (the paper's code): ceil -> 2, 1, 1, 1 (5 picks),
    bins concatenated from low to high entropy and the last 4 kept -> 1, 1, 1, 1, the
    last bin's pick being 0.8: its half-open bins leave the maximum in none."""
    rng = np.random.default_rng(seed)
    prop = dre_select(HAND, 4, rng, n_bins=4, quota="proportional")
    ref = dre_select(HAND, 4, rng, n_bins=4, quota="reference")
    assert _bins(HAND, prop) == [2, 1, 1, 0]
    assert _bins(HAND, ref) == [1, 1, 1, 1]
    assert 19 not in ref and 18 in ref
    assert len(set(ref.tolist())) == 4


def test_the_reference_quota_tops_up_a_batch_as_large_as_the_pool():
    idx = dre_select(HAND, 20, np.random.default_rng(0), n_bins=4, quota="reference")
    assert sorted(idx.tolist()) == list(range(20))


def _reference_bin_counts(e, n, n_bins):
    """Per-bin picks of the reference's loop, written plainly (exact ceil)."""
    counts, edges = np.histogram(e, bins=n_bins)
    picks = []
    for i in range(n_bins):
        members = int(((e >= edges[i]) & (e < edges[i + 1])).sum())
        picks += [i] * min(-(-int(counts[i]) * n // len(e)), members)
    picks = picks[-n:]
    return np.bincount(picks, minlength=n_bins).tolist(), len(picks)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    st.lists(st.floats(0, 3, allow_nan=False), min_size=5, max_size=300),
    st.integers(1, 60),
    st.integers(1, 12),
)
def test_the_reference_quota_picks_per_bin_what_its_loop_picks(values, n, n_bins):
    e = np.array(values)
    n = min(n, len(e))
    idx = dre_select(e, n, np.random.default_rng(0), n_bins=n_bins, quota="reference")
    assert len(idx) == n == len(set(idx.tolist()))
    expected, kept = _reference_bin_counts(e, n, n_bins)
    if kept == n:  # (else topped up: the loop itself would return fewer)
        _, edges = np.histogram(e, bins=n_bins)
        bins = np.searchsorted(edges, e[idx], side="right") - 1
        assert np.bincount(bins, minlength=n_bins).tolist() == expected


def test_dre_refuses_an_unknown_quota(trained):
    model, X_pool = trained[0], trained[1]
    with pytest.raises(ValueError, match="quota"):
        dre(model, X_pool, 5, quota="ceil")
