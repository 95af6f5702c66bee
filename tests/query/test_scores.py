"""The score functions' known values."""

import numpy as np

from robustsk import query as Q


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
