"""Known answers for coreset's maths."""

import numpy as np
import torch

from robustsk import query as Q


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
