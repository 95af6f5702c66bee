"""Known answers for MCP's maths."""

import numpy as np

from robustsk import query as Q
from robustsk.query._mcp import round_robin


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
