"""Adaptive MC-dropout passes for BALD and DropOut-Entropy: the delta-method races."""

import numpy as np
import pytest

import robustsk.query._adaptive as adaptive_module
import robustsk.query._mc_dropout as mc_module
from robustsk.query import bald, dropout_entropy
from robustsk.query._adaptive import DrawStats, adaptive_mc
from robustsk.query._scores import bald_scores, entropy_scores


def _cached_passes(n=2000, t=50, n_classes=10, seed=0):
    """MC-dropout-like passes (n, t, C): each example's passes scatter around its own mean
    prediction with its own concentration, so BALD ranges from ~0 to large."""
    rng = np.random.default_rng(seed)
    mean = rng.dirichlet(np.full(n_classes, 0.3), size=n)
    conc = np.exp(rng.uniform(np.log(2.0), np.log(2000.0), size=n))
    alpha = mean[:, None, :] * conc[:, None, None] + 1e-3
    g = rng.gamma(np.broadcast_to(alpha, (n, t, n_classes)))
    return g / g.sum(axis=2, keepdims=True)


def _replay(passes):
    pos = np.zeros(passes.shape[0], dtype=np.int64)

    def draw(ids, k):
        cols = pos[ids[0]] + np.arange(k)
        pos[ids] += k
        return passes[ids][:, cols]

    return draw


@pytest.mark.parametrize("kind", ["bald", "dropout_entropy"])
def test_the_moments_give_the_full_draws_score(kind):
    passes = _cached_passes(n=300, t=20)
    stats = DrawStats.empty(300, 10)
    stats.add(np.arange(300), passes[:, :7])
    stats.add(np.arange(300), passes[:, 7:])
    score, se = stats.estimate(kind)
    mc = np.transpose(passes, (1, 0, 2))
    expected = bald_scores(mc) if kind == "bald" else entropy_scores(mc.mean(axis=0))
    np.testing.assert_allclose(score, expected, rtol=1e-10, atol=1e-12)
    assert (se >= 0).all() and np.isfinite(se).all()


@pytest.mark.parametrize("kind", ["bald", "dropout_entropy"])
def test_the_standard_error_matches_the_spread_of_the_score(kind):
    # 400 independent 20-pass estimates of one example: their sd is what the delta method
    # predicts from one of them (within 25% on average over the estimates' SEs)
    rng = np.random.default_rng(1)
    mean = np.array([0.5, 0.3, 0.1, 0.05, 0.05])
    g = rng.gamma(np.broadcast_to(mean * 8.0, (400, 20, 5)))
    passes = g / g.sum(axis=2, keepdims=True)
    stats = DrawStats.empty(400, 5)
    stats.add(np.arange(400), passes)
    score, se = stats.estimate(kind)
    assert 0.75 < se.mean() / score.std() < 1.25


@pytest.mark.parametrize("kind", ["bald", "dropout_entropy"])
def test_same_passes_give_the_full_draws_selection_with_fewer(kind):
    passes = _cached_passes()
    stats = adaptive_mc(_replay(passes), 2000, 50, kind=kind, n_high=50)
    assert set(np.unique(stats.m)) <= set(range(5, 51, 5))
    assert (stats.m == 50).sum() >= 50
    assert stats.n_copies == stats.m.sum() < 2000 * 50 / 3  # >= 3x fewer passes here
    score, _ = stats.estimate(kind)
    picked = np.argsort(-np.where(stats.m == 50, score, -np.inf))[:50]
    mc = np.transpose(passes, (1, 0, 2))
    full = bald_scores(mc) if kind == "bald" else entropy_scores(mc.mean(axis=0))
    assert len(set(picked) & set(np.argsort(-full)[:50])) >= 48


def test_huge_z_settles_nothing():
    passes = _cached_passes(n=300)
    stats = adaptive_mc(_replay(passes), 300, 50, kind="bald", n_high=10, z=1e9)
    assert (stats.m == 50).all()


def test_too_many_classes_to_race_draws_everything(monkeypatch):
    monkeypatch.setattr(adaptive_module, "MAX_MOMENT_BYTES", 1000)
    passes = _cached_passes(n=300)
    stats = adaptive_mc(_replay(passes), 300, 50, kind="bald", n_high=10, z=0.0)
    assert stats.s2 is None and (stats.m == 50).all()


@pytest.fixture(scope="module")
def dropout_net(trained):
    return trained[0], trained[1]


def _count_passes(monkeypatch):
    seen = []
    original = mc_module._mc_passes_block

    def counting(X, *, n_draws, **kwargs):
        seen.append(X.shape[0] * n_draws)
        return original(X, n_draws=n_draws, **kwargs)

    monkeypatch.setattr(mc_module, "_mc_passes_block", counting)
    return seen


@pytest.mark.parametrize("strategy", [bald, dropout_entropy])
def test_adaptive_mc_strategies_draw_fewer_passes(dropout_net, strategy, monkeypatch):
    est, pool = dropout_net
    seen = _count_passes(monkeypatch)
    idx, scores = strategy(est, pool, 20, n_draws=30, random_state=0, adaptive=True)
    assert len(set(idx.tolist())) == 20 and idx.min() >= 0 and idx.max() < len(pool)
    assert np.isfinite(scores).all()
    assert 0 < sum(seen) < len(pool) * 30 / 1.5
    again, _ = strategy(est, pool, 20, n_draws=30, random_state=0, adaptive=True)
    np.testing.assert_array_equal(idx, again)  # seeded


@pytest.mark.parametrize("strategy", [bald, dropout_entropy])
def test_adaptive_mc_selection_agrees_with_full_as_full_agrees_with_itself(dropout_net, strategy):
    # paired over 3 seeds: two full draws (seeds s, s+100) against one adaptive (s+200).
    # Measured over 5 seeds (of 20 picks): bald full-vs-full 7.2 (4-9), adaptive-vs-full 7.4
    # (5-10); dropout_entropy 17.6 (16-19) and 16.0 (14-17). The bound allows 0.6x.
    est, pool = dropout_net
    ff, af = [], []
    for s in range(3):
        a, b, c = (
            set(strategy(est, pool, 20, n_draws=30, random_state=seed, adaptive=ad)[0].tolist())
            for seed, ad in ((s, False), (s + 100, False), (s + 200, True))
        )
        ff.append(len(a & b))
        af += [len(a & c), len(b & c)]
    assert np.mean(af) >= 0.6 * np.mean(ff)


def test_adaptive_mc_small_pool_and_default_draw_everything(dropout_net, monkeypatch):
    est, pool = dropout_net
    seen = _count_passes(monkeypatch)
    bald(est, pool[:60], 20, n_draws=30, random_state=0, adaptive=True)
    bald(est, pool, 20, n_draws=30, random_state=0)
    assert seen == []  # neither took the adaptive path


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"adaptive": "yes"}, TypeError, "adaptive must be a bool"),
        ({"adaptive": True, "adaptive_z": -1.0}, ValueError, "adaptive_z"),
    ],
)
def test_adaptive_mc_arguments_are_validated(dropout_net, kwargs, error, match):
    est, pool = dropout_net
    with pytest.raises(error, match=match):
        bald(est, pool, 5, n_draws=10, random_state=0, **kwargs)
