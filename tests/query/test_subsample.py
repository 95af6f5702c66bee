"""Candidate subsampling: a strategy on a seeded random subset of the pool."""

import numpy as np
import pytest

from robustsk import query as Q
from robustsk.active import ActiveLearner


def test_picks_what_the_strategy_picks_on_the_drawn_candidates(trained):
    net, pool, _ = trained
    strategy = Q.subsample(Q.max_entropy, 100)
    idx, scores = strategy(net, pool, 10, random_state=7)
    rng = np.random.default_rng(7)  # the same draws: the candidates, then the inner seed
    candidates = np.sort(rng.choice(len(pool), 100, replace=False))
    inner_idx, inner_scores = Q.max_entropy(
        net, pool[candidates], 10, random_state=int(rng.integers(2**31 - 1))
    )
    np.testing.assert_array_equal(idx, candidates[inner_idx])
    np.testing.assert_array_equal(scores, inner_scores)
    assert set(idx) <= set(candidates) and len(set(idx)) == 10
    # scores are the picked rows' entropies in the whole pool
    full = Q.entropy_scores(net.predict_proba(pool[idx]))
    np.testing.assert_allclose(scores, full, rtol=1e-5)


def test_candidate_counts_and_fractions():
    strategy = Q.subsample(Q.random, 0.25)
    assert strategy.candidate_count(1000, 10) == 250
    assert strategy.candidate_count(10, 3) == 3  # ceil(2.5), then at least n_instances
    assert Q.subsample(Q.random, 50).candidate_count(20, 5) == 20  # never more than the pool
    assert Q.subsample(Q.random, 5).candidate_count(100, 8) == 8  # never fewer than asked
    assert repr(Q.subsample(Q.margin, 0.5)) == "SubsampledStrategy(margin, n_candidates=0.5)"
    assert Q.subsample(Q.dre, 10).__name__ == "subsample(dre)"


def test_a_pool_within_the_candidates_is_the_plain_strategy(trained):
    net, pool, _ = trained
    a = Q.subsample(Q.margin, len(pool) + 5)(net, pool, 6, random_state=1)
    rng = np.random.default_rng(1)
    b = Q.margin(net, pool, 6, random_state=int(rng.integers(2**31 - 1)))
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize(
    "strategy, n, err, match",
    [
        (Q.max_entropy, 0, ValueError, "n_candidates must be an int >= 1"),
        (Q.max_entropy, 1.5, ValueError, r"float in \(0, 1\]"),
        (Q.max_entropy, 0.0, ValueError, r"float in \(0, 1\]"),
        (Q.max_entropy, "10", TypeError, "n_candidates"),
        (Q.max_entropy, True, TypeError, "n_candidates"),
        ("max_entropy", 10, TypeError, "strategy must be a query strategy"),
    ],
)
def test_bad_parameters_are_refused_at_construction(strategy, n, err, match):
    with pytest.raises(err, match=match):
        Q.subsample(strategy, n)


def test_reads_only_the_candidate_rows_of_a_memory_mapped_pool(trained, tmp_path):
    net, pool, _ = trained
    path = tmp_path / "pool.npy"
    np.save(path, pool)
    mapped = np.load(path, mmap_mode="r")
    a = Q.subsample(Q.max_entropy, 50)(net, mapped, 5, random_state=0)
    b = Q.subsample(Q.max_entropy, 50)(net, pool, 5, random_state=0)
    np.testing.assert_array_equal(a[0], b[0])


def test_in_an_active_learner_every_query_draws_new_candidates(trained):
    net, pool, y = trained
    learner = ActiveLearner(net, Q.subsample(Q.max_entropy, 40), random_state=0)
    first, _ = learner.query(pool, 5)
    second, _ = learner.query(pool, 5)
    assert not np.array_equal(first, second)  # another seed, other candidates
