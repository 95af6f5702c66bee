"""DeepFool's known answer on a linear model."""

import numpy as np
import torch

from robustsk.attacks import deepfool


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
