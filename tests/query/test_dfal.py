"""Known answers for DFAL's maths."""

import numpy as np

from robustsk import query as Q


def test_dfal_prefers_points_near_the_boundary(trained):
    net, pool, _ = trained
    idx, dist = Q.dfal(net, pool, 10, candidates_factor=100, max_iter=20, random_state=0)
    margins = Q.margin_scores(net.predict_proba(pool))
    assert margins[idx].mean() < margins.mean()
    assert np.all(np.diff(dist) >= 0)
