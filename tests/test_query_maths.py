"""Known answers for the strategies' maths."""

import numpy as np
import pytest
import torch

from robustsk import query as Q
from robustsk.attacks import deepfool
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.query._dre import proportional_quotas
from robustsk.query._mcp import round_robin


@pytest.fixture(scope="module")
def trained(digits):
    X_train, X_test, y_train, y_test = digits
    net = NoiseTrainedClassifier(
        max_epochs=3, lr=1e-2, batch_size=32, verbose=0, random_state=0
    ).fit(X_train[:400], y_train[:400])
    return net, X_train[400:], y_train[400:]


def test_score_functions_known_values():
    p = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.3, 0.2]])
    np.testing.assert_allclose(
        Q.entropy_scores(p),
        [0, np.log(3), -(0.5 * np.log(0.5) + 0.3 * np.log(0.3) + 0.2 * np.log(0.2))],
    )
    np.testing.assert_allclose(Q.gini_scores(p), [0, 2 / 3, 1 - 0.38])
    np.testing.assert_allclose(Q.least_confidence_scores(p), [0, 2 / 3, 0.5])
    np.testing.assert_allclose(Q.margin_scores(p), [1, 0, 0.2])
    mc = np.stack([np.eye(3)[[0, 1]], np.eye(3)[[0, 2]]])  # (T=2, n=2, C=3)
    np.testing.assert_allclose(Q.bald_scores(mc), [0, np.log(2)])
    np.testing.assert_allclose(
        Q.label_entropy_scores(np.array([[0, 0, 0, 0], [0, 1, 0, 1]]), 3), [0, np.log(2)]
    )


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


def _brute_force_k_center(pool, centers, n):
    chosen = []
    for _ in range(n):
        best, best_d = None, -1.0
        for i in range(len(pool)):
            if i in chosen:
                continue
            refs = list(centers) + [pool[j] for j in chosen]
            d = min(np.linalg.norm(pool[i] - r) for r in refs)
            if d > best_d:
                best, best_d = i, d
        chosen.append(best)
    return chosen


def test_greedy_k_center_equals_brute_force():
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(60, 5)).astype(np.float32)
    centers = rng.normal(size=(7, 5)).astype(np.float32)
    idx, gaps = Q.greedy_k_center(
        torch.from_numpy(pool), torch.from_numpy(centers), 10, rng, chunk=3
    )
    assert idx.tolist() == _brute_force_k_center(pool, centers, 10)
    assert np.all(np.diff(gaps) <= 1e-6)  # the covering radius only shrinks


def test_coreset_uses_the_learner_training_set(trained):
    net, pool, _ = trained
    emb = Q.penultimate_embeddings(net, pool)
    assert emb.shape == (len(pool), 128)
    idx, _ = Q.coreset(net, pool, 5, X_labeled=pool[:100], random_state=0)
    # a labelled point is at distance 0 from itself, so it is never the farthest
    assert set(idx.tolist()).isdisjoint(range(100))


def test_mcp_selection_is_balanced_over_boundary_areas():
    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(5), [40, 3, 20, 10, 27])
    priority = rng.random(len(group))
    pick = round_robin(group, priority, 20, rng)
    counts = np.bincount(group[pick], minlength=5)
    assert counts.sum() == 20 and counts[1] == 3  # the small area is exhausted
    others = counts[[0, 2, 3, 4]]
    assert others.max() - others.min() <= 1
    for g in range(5):  # within an area, highest priority first
        chosen = priority[pick[group[pick] == g]]
        best = np.sort(priority[group == g])[::-1][: len(chosen)]
        np.testing.assert_allclose(np.sort(chosen)[::-1], best)


def test_mcp_on_a_model(trained):
    net, pool, _ = trained
    idx, prio = Q.mcp(net, pool, 60, random_state=0)
    proba = net.predict_proba(pool[idx])
    top2 = np.sort(np.argsort(-proba, axis=1)[:, :2], axis=1)
    assert ((prio > 0) & (prio <= 1)).all() and len({tuple(t) for t in top2}) > 5


def test_noise_entropy_splits_between_excessive_and_deficient_levels(trained):
    net, pool, _ = trained
    sigma = np.where(np.arange(len(pool)) % 2 == 0, 0.0, 1.0)
    idx, entropy = Q.noise_entropy(net, pool, 20, sample_sigma=sigma, n_draws=20, random_state=0)
    high, low = idx[:10], idx[10:]
    assert (sigma[high] == 1.0).all() and (sigma[low] == 0.0).all()
    np.testing.assert_array_equal(entropy[10:], 0.0)  # no noise: always the same label
    assert (entropy[:10] > 0.5).all()


def test_noise_strategies_use_the_estimator_levels(trained):
    net, pool, _ = trained
    with pytest.raises(ValueError, match="sample_sigma"):
        Q.noise_entropy(net, pool, 4, sample_sigma=np.ones(3))
    with pytest.raises(ValueError, match="sample_sigma must be in"):
        Q.noise_uncertainty(net, pool, 4, sample_sigma=-1.0)
    # default: the scalar sigma of a NoiseTrainedClassifier
    a = Q.noise_uncertainty(net, pool, 4, n_draws=5, random_state=0)
    b = Q.noise_uncertainty(net, pool, 4, n_draws=5, sample_sigma=net.sigma, random_state=0)
    np.testing.assert_array_equal(a[0], b[0])


def test_mc_dropout_copy_and_zero_dropout(trained):
    net, pool, _ = trained
    mc = Q.with_mc_dropout(net.module_, p=0.5)
    assert any(isinstance(m, torch.nn.Dropout) for m in mc.modules())
    assert not any(isinstance(m, torch.nn.Dropout) for m in net.module_.modules())
    from robustsk.query._mc_dropout import mc_dropout_scores

    scores = mc_dropout_scores(net, pool, n_draws=5, p=0.0, random_state=0)
    np.testing.assert_allclose(scores, 0.0, atol=1e-6)  # identical passes: no disagreement
    assert mc_dropout_scores(net, pool, n_draws=5, p=0.5, random_state=0).mean() > 1e-3


def test_egl_matches_a_per_sample_autograd_reference(trained):
    net, pool, _ = trained
    x = pool[:3]
    scores = Q.egl_scores(net, x)
    module = net.module_
    ref = []
    for xi in torch.from_numpy(x):
        logp = torch.log_softmax(module(xi[None]), dim=1)[0]
        total = 0.0
        for c in range(logp.shape[0]):
            grads = torch.autograd.grad(-logp[c], list(module.parameters()), retain_graph=True)
            total += logp[c].exp().item() * torch.sqrt(sum((g**2).sum() for g in grads)).item()
        ref.append(total)
    np.testing.assert_allclose(scores, ref, rtol=1e-4)


def test_deepfool_on_a_linear_model_finds_the_exact_distance():
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 2)
    x = torch.rand(16, 5) * 0.2 + 0.4
    x_adv, dist, fooled = deepfool(lin, x, overshoot=0.0, clip=None)
    w = lin.weight[1] - lin.weight[0]
    b = lin.bias[1] - lin.bias[0]
    exact = ((x @ w + b).abs() / w.norm()).detach()
    assert fooled.all()
    np.testing.assert_allclose(dist.numpy(), exact.numpy(), rtol=1e-3, atol=1e-4)
    assert (lin(x_adv).argmax(1) != lin(x).argmax(1)).all()


def test_dfal_prefers_points_near_the_boundary(trained):
    net, pool, _ = trained
    idx, dist = Q.dfal(net, pool, 10, candidates_factor=100, max_iter=20, random_state=0)
    margins = Q.margin_scores(net.predict_proba(pool))
    assert margins[idx].mean() < margins.mean()
    assert np.all(np.diff(dist) >= 0)


def test_selection_bias_extremes_and_errors(trained):
    net, pool, y_pool = trained
    full = Q.selection_bias(net, pool, np.arange(len(pool)), y_pool=y_pool)
    assert set(full) == {"entropy", "gini", "least_confidence", "margin", "label"}
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in full.values())
    assert Q.jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    ones = np.flatnonzero(y_pool == 1)
    assert (
        Q.selection_bias(None, pool, ones, y_pool=y_pool, characteristics=["label"])["label"] > 0.5
    )
    with pytest.raises(ValueError, match="needs y_pool"):
        Q.selection_bias(net, pool, ones, characteristics=["label"])
    with pytest.raises(ValueError, match="characteristics must be"):
        Q.selection_bias(net, pool, ones, characteristics=["nonsense"])
    with pytest.raises(ValueError, match="indices"):
        Q.selection_bias(net, pool, [len(pool)])


@pytest.mark.parametrize(
    "module",
    [
        torch.nn.Sequential(
            torch.nn.Conv2d(1, 3, 3, padding=1, stride=2),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(48, 4),
        ),
        torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(64, 8),
            torch.nn.BatchNorm1d(8),
            torch.nn.ReLU(),
            torch.nn.Linear(8, 4),
        ),
    ],
    ids=["conv-linear (layer factorization)", "batchnorm (jacobian path)"],
)
def test_egl_both_computation_paths_agree_with_autograd(module):
    from robustsk.query._egl import _factorizable, _grad_sq_norms_hooks, _grad_sq_norms_jacobian
    from robustsk.utils import TorchClassifier

    class Fitted:
        module_ = module.eval()
        device = "cpu"
        input_shape_ = (1, 8, 8)

    net = TorchClassifier(Fitted(), "egl")
    x = torch.rand(5, 1, 8, 8)
    ref = torch.stack(
        [
            torch.stack(
                [
                    sum(
                        g.pow(2).sum()
                        for g in torch.autograd.grad(
                            torch.log_softmax(module(xi[None]), 1)[0, c], list(module.parameters())
                        )
                    )
                    for c in range(4)
                ]
            )
            for xi in x
        ]
    )
    jac_sq, _ = _grad_sq_norms_jacobian(net, x)
    torch.testing.assert_close(jac_sq, ref, rtol=1e-4, atol=1e-6)
    if _factorizable(module):
        hook_sq, _ = _grad_sq_norms_hooks(net, x)
        torch.testing.assert_close(hook_sq, ref, rtol=1e-4, atol=1e-6)
