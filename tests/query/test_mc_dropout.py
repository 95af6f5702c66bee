"""Known answers for MC dropout's maths."""

import numpy as np
import torch

from robustsk import query as Q


def test_mc_dropout_copy_and_zero_dropout(trained):
    net, pool, _ = trained
    mc = Q.with_mc_dropout(net.module_, p=0.5)
    assert any(isinstance(m, torch.nn.Dropout) for m in mc.modules())
    assert not any(isinstance(m, torch.nn.Dropout) for m in net.module_.modules())
    from robustsk.query._mc_dropout import mc_dropout_scores

    scores = mc_dropout_scores(net, pool, n_draws=5, p=0.0, random_state=0)
    np.testing.assert_allclose(scores, 0.0, atol=1e-6)  # identical passes: no disagreement
    assert mc_dropout_scores(net, pool, n_draws=5, p=0.5, random_state=0).mean() > 1e-3
