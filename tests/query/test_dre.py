"""Known answers for DRE's maths."""

import numpy as np

from robustsk import query as Q
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
