"""Known answers for the selection bias."""

import numpy as np
import pytest

from robustsk import query as Q


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
