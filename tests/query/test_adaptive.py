"""Adaptive copies of the noise scores: fewer forward passes, the same selection."""

import numpy as np
import pytest
import torch

import robustsk.query._noise as noise_module
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.query import noise_entropy, noise_uncertainty
from robustsk.query._adaptive import adaptive_copies, rank_high_low
from robustsk.query._scores import label_entropy_scores


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )

    def forward(self, x):
        return self.body(x)


@pytest.fixture(scope="module")
def fitted(digits):
    X_train, X_test, y_train, _ = digits
    est = NoiseTrainedClassifier(
        _Net, sigma=0.3, max_epochs=2, lr=1e-2, batch_size=64, verbose=0, random_state=0
    )
    return est.fit(X_train, y_train), X_test


def _cached_copies(n=3000, m=50, seed=0):
    """Per-copy labels and softmax entropies of a synthetic pool with graded difficulty."""
    rng = np.random.default_rng(seed)
    flip = rng.beta(0.3, 3.0, size=n)  # each example's chance that a copy changes label
    other = rng.integers(1, 10, size=(n, m))
    labels = np.where(rng.random((n, m)) < flip[:, None], other, 0)
    soft = rng.gamma(2.0, (flip[:, None] + 1e-3) / 2.0, size=(n, m))
    return labels, soft


def _replay(labels, soft):
    pos = np.zeros(labels.shape[0], dtype=np.int64)

    def draw(ids, k):
        cols = pos[ids[0]] + np.arange(k)
        pos[ids] += k
        return labels[ids][:, cols], soft[ids][:, cols]

    return draw


def _full_order(labels, soft):
    h = label_entropy_scores(labels, 10)
    return np.lexsort((np.arange(len(h)), soft.mean(axis=1), h))


def test_survivors_get_every_copy_and_the_races_keep_enough():
    labels, soft = _cached_copies()
    stats = adaptive_copies(_replay(labels, soft), 3000, 50, kind="entropy", n_high=50, n_low=50)
    assert set(np.unique(stats.m)) <= {5, 10, 15, 20, 25, 30, 35, 40, 45, 50}
    assert (stats.m == 50).sum() >= 100
    assert stats.n_copies == stats.m.sum() < 3000 * 50 / 2  # at least 2x fewer passes here


def test_same_copies_give_the_full_draws_selection():
    # with the copies the full draw would use, the adaptive races settle nothing wrongly
    labels, soft = _cached_copies()
    stats = adaptive_copies(_replay(labels, soft), 3000, 50, kind="entropy", n_high=50, n_low=50)
    idx, _ = rank_high_low(stats, 50, 50, 50, np.arange(3000))
    order = _full_order(labels, soft)
    high, low = set(order[::-1][:50]), set(order[:50])
    assert len(set(idx[:50]) & high) >= 48
    assert len(set(idx[50:]) & low) >= 48


def test_huge_z_settles_nothing():
    labels, soft = _cached_copies(n=500)
    stats = adaptive_copies(
        _replay(labels, soft), 500, 50, kind="entropy", n_high=10, n_low=10, z=1e9
    )
    assert (stats.m == 50).all()
    idx, _ = rank_high_low(stats, 50, 10, 10, np.arange(500))
    order = _full_order(labels, soft)
    np.testing.assert_array_equal(idx, np.concatenate([order[::-1][:10], order[:10]]))


def _count_copies(monkeypatch):
    seen = []
    original = noise_module._pool_noisy_predictions

    def counting(estimator, X, sigma, n_draws, *args):
        seen.append(X.shape[0] * n_draws)
        return original(estimator, X, sigma, n_draws, *args)

    monkeypatch.setattr(noise_module, "_pool_noisy_predictions", counting)
    return seen


@pytest.mark.parametrize("strategy", [noise_entropy, noise_uncertainty])
def test_adaptive_strategies_draw_fewer_copies_and_pick_valid_sets(fitted, strategy, monkeypatch):
    est, pool = fitted
    seen = _count_copies(monkeypatch)
    idx, scores = strategy(est, pool, 20, n_draws=50, random_state=0, adaptive=True)
    assert len(set(idx.tolist())) == 20 and idx.min() >= 0 and idx.max() < len(pool)
    assert np.isfinite(scores).all()
    assert sum(seen) < len(pool) * 50 / 1.5
    again, _ = strategy(est, pool, 20, n_draws=50, random_state=0, adaptive=True)
    np.testing.assert_array_equal(idx, again)  # seeded


def test_adaptive_entropy_sides(fitted):
    est, pool = fitted
    idx, h = noise_entropy(est, pool, 20, n_draws=50, random_state=1, adaptive=True)
    # the high side is at least as uncertain as the low side
    assert h[:10].min() >= h[10:].max()


def test_small_pools_draw_everything(fitted, monkeypatch):
    est, pool = fitted
    seen = _count_copies(monkeypatch)
    noise_entropy(est, pool[:60], 20, n_draws=50, random_state=0, adaptive=True)
    assert seen == [60 * 50]  # a pool under 4x the selection: the full draw


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"adaptive": "yes"}, TypeError, "adaptive must be a bool"),
        ({"adaptive": True, "adaptive_z": -1.0}, ValueError, "adaptive_z"),
    ],
)
def test_adaptive_arguments_are_validated(fitted, kwargs, error, match):
    est, pool = fitted
    with pytest.raises(error, match=match):
        noise_entropy(est, pool, 5, n_draws=10, random_state=0, **kwargs)
