"""Batch-diverse and low-budget strategies against independent computations: BADGE,
BatchBALD, power sampling, TypiClust, ProbCover."""

import itertools

import numpy as np
import pytest

from robustsk import query as Q


# ------------------------------------------------------------------ BADGE
def test_factored_kmeans_pp_equals_the_built_embeddings():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(60, 4)), rng.normal(size=(60, 7))
    g = (a[:, :, None] * b[:, None, :]).reshape(60, -1)  # the embeddings, built
    idx, d2 = Q.kmeans_pp_factored(a, b, 8, np.random.default_rng(5))
    # the same draws with explicit distances
    ref_rng = np.random.default_rng(5)
    norms = (g**2).sum(1)
    chosen = [int(np.argmax(norms))]
    nearest = ((g - g[chosen[0]]) ** 2).sum(1)
    for _ in range(7):
        w = nearest.copy()
        w[chosen] = 0
        chosen.append(int(ref_rng.choice(60, p=w / w.sum())))
        nearest = np.minimum(nearest, ((g - g[chosen[-1]]) ** 2).sum(1))
    np.testing.assert_array_equal(idx, chosen)
    assert d2[0] == pytest.approx(norms.max())
    assert len(set(idx)) == 8


def test_badge_embedding_is_the_last_layer_gradient(trained):
    """The factors give the gradient of the cross-entropy at the predicted label with
    respect to the last linear layer's weight and bias, as autograd computes it."""
    import torch

    from robustsk.query._badge import _factors
    from robustsk.query._embeddings import last_linear

    net, pool, _ = trained
    a, b = _factors(pool[:5], estimator=net, batch_size=64)
    layer = last_linear(net.module_)
    for i in range(5):
        net.module_.zero_grad()
        x = torch.as_tensor(pool[i : i + 1])
        logits = net.module_.eval()(x)
        loss = torch.nn.functional.cross_entropy(logits, logits.argmax(1))
        loss.backward()
        grad = torch.cat([layer.weight.grad, layer.bias.grad[:, None]], dim=1).numpy()
        np.testing.assert_allclose(np.outer(a[i], b[i]), grad, rtol=1e-4, atol=1e-6)


def test_badge_batch_is_more_diverse_than_top_uncertainty(trained):
    """On a pool of duplicated rows, the top-B of an uncertainty score takes copies of one
    example; BADGE's picks have the largest gradient norms yet no duplicates."""
    net, pool, _ = trained
    dup = np.repeat(pool[:40], 5, axis=0)  # 200 rows, each example 5 times
    idx, _ = Q.badge(net, dup, 20, random_state=0)
    top, _ = Q.least_confidence(net, dup, 20, random_state=0)
    assert len(np.unique(idx // 5)) == 20
    assert len(np.unique(top // 5)) <= 5


# ------------------------------------------------------------------ BatchBALD
def _mi_bruteforce(probs, batch):
    """I(y_batch; w) from all label configurations, straight from the definition."""
    C = probs.shape[2]
    joint_h = 0.0
    for config in itertools.product(range(C), repeat=len(batch)):
        p = np.mean(np.prod([probs[i, :, c] for i, c in zip(batch, config)], axis=0))
        joint_h -= p * np.log(p)
    cond = -(probs[batch] * np.log(probs[batch])).sum(2).mean(1).sum()
    return joint_h - cond


def _random_probs(n, K, C, seed):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(C, 0.5), size=(n, K))


def test_batchbald_first_pick_is_bald_and_the_batch_mi_is_exact():
    probs = _random_probs(30, 8, 3, 0)
    idx, mi = Q.batchbald_select(probs, 3, np.random.default_rng(0), max_configs=10**6)
    assert idx[0] == np.argmax(Q.bald_scores(np.transpose(probs, (1, 0, 2))))
    for b in range(1, 4):
        assert mi[b - 1] == pytest.approx(_mi_bruteforce(probs, list(idx[:b])), rel=1e-9)
    # each step is the greedy argmax of the exact batch MI
    rest = [i for i in range(30) if i not in idx[:2]]
    best = max(rest, key=lambda i: _mi_bruteforce(probs, [*idx[:2], i]))
    assert idx[2] == best


def test_batchbald_avoids_the_duplicates_bald_takes():
    probs = _random_probs(20, 10, 4, 1)
    dup = np.concatenate(
        [probs, probs[[int(np.argmax(Q.bald_scores(np.transpose(probs, (1, 0, 2)))))] * 3]]
    )
    idx, _ = Q.batchbald_select(dup, 4, np.random.default_rng(0))
    top = np.argsort(-Q.bald_scores(np.transpose(dup, (1, 0, 2))))[:4]
    copies = {int(np.argmax(Q.bald_scores(np.transpose(probs, (1, 0, 2))))), 20, 21, 22}
    assert len(set(top) & copies) == 4  # BALD: the four copies
    assert len(set(idx) & copies) == 1  # BatchBALD: one of them


def test_batchbald_sampled_joint_stays_close_to_exact():
    """With the joint capped at 64 configurations (exact needs 3^5 = 243), the batch's MI
    estimate stays within 5% of the exact value of the same batch."""
    probs = _random_probs(25, 16, 3, 2)
    idx, mi = Q.batchbald_select(probs, 5, np.random.default_rng(0), max_configs=64)
    exact = _mi_bruteforce(probs, list(idx))
    assert mi[-1] == pytest.approx(exact, rel=0.05)


# ------------------------------------------------------------------ power sampling
def test_power_select_samples_in_proportion_to_score_power():
    """P(first pick = i) = s_i^beta / sum s^beta: 6,000 seeded draws, each frequency within
    4 binomial sd of its probability."""
    scores = np.array([1.0, 2.0, 3.0, 0.0])
    for beta in (1.0, 2.0):
        firsts = np.array(
            [
                Q.power_select(scores, 1, np.random.default_rng(s), beta=beta)[0][0]
                for s in range(6000)
            ]
        )
        p = scores**beta / (scores**beta).sum()
        freq = np.bincount(firsts, minlength=4) / 6000
        sd = np.sqrt(p * (1 - p) / 6000)
        assert (np.abs(freq - p) <= 4 * sd + 1e-12).all(), (beta, freq, p)
    idx, _ = Q.power_select(scores, 4, np.random.default_rng(0))
    assert idx[-1] == 3  # a zero score comes last
    top, _ = Q.power_select(np.arange(1.0, 11.0), 3, np.random.default_rng(0), beta=200.0)
    assert set(top) == {7, 8, 9}  # large beta: the top scores


# ------------------------------------------------------------------ TypiClust and ProbCover
class Embedder:
    """A classifier whose 'probabilities' are its 2-d inputs: embeddings we choose."""

    classes_ = np.arange(3)

    def predict_proba(self, X):
        return np.asarray(X, dtype=np.float64)


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    sizes = [60, 40, 20]
    X = np.vstack([c + rng.normal(scale=0.5, size=(n, 2)) for c, n in zip(centres, sizes)])
    return X, np.repeat([0, 1, 2], sizes)


def test_typicality_known_answer():
    pts = np.array([[0.0], [1.0], [3.0]])
    # k=1: nearest distances 1, 1, 2
    np.testing.assert_allclose(Q.typicality(pts, 1), [1.0, 1.0, 0.5])


def test_typiclust_takes_the_most_typical_point_of_each_uncovered_cluster():
    X, blob = _blobs()
    idx, scores = Q.typiclust(Embedder(), X, 3, random_state=0)
    assert sorted(blob[idx]) == [0, 1, 2]  # one per cluster, the largest first
    assert blob[idx[0]] == 0
    for i, b in zip(idx, blob[idx]):
        members = np.flatnonzero(blob == b)
        assert scores[list(idx).index(i)] == pytest.approx(Q.typicality(X[members], 20).max())
    # a labelled example in the largest blob: that cluster is covered, the others come first
    idx, _ = Q.typiclust(Embedder(), X, 2, X_labeled=X[:1], random_state=0)
    assert sorted(blob[idx]) == [1, 2]


def test_probcover_covers_every_blob_before_repeating():
    X, blob = _blobs()
    idx, gains = Q.probcover(Embedder(), X + 20.0, 4, delta=0.05, random_state=0)
    assert set(blob[idx[:3]]) == {0, 1, 2}
    assert gains[0] >= gains[1] >= gains[2] > 0
    # on unit-normalised embeddings, the three directions are three balls
    idx, gains = Q.probcover(
        Embedder(), X + 20.0, 3, delta=0.05, X_labeled=X[:1] + 20.0, random_state=0
    )
    assert 0 not in set(blob[idx[:2]])
    auto = Q.purity_delta(X / np.linalg.norm(X + 1e-9, axis=1, keepdims=True), 3)
    assert auto > 0


@pytest.mark.parametrize(
    "call, err, match",
    [
        (lambda n, p: Q.batchbald(n, p, 2, max_configs=0), ValueError, "max_configs"),
        (lambda n, p: Q.power_bald(n, p, 2, beta=-1.0), ValueError, "beta"),
        (lambda n, p: Q.power_entropy(n, p, 2, beta="x"), TypeError, "beta"),
        (lambda n, p: Q.typiclust(n, p, 2, k_neighbors=0), ValueError, "k_neighbors"),
        (lambda n, p: Q.probcover(n, p, 2, delta=0.0), ValueError, "delta"),
        (lambda n, p: Q.probcover(n, p, 2, alpha=1.5), ValueError, "alpha"),
    ],
)
def test_bad_parameters_fail_before_any_work(trained, call, err, match):
    net, pool, _ = trained
    with pytest.raises(err, match=match):
        call(net, pool[:20])
