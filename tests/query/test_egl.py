"""Known answers for EGL's maths: both gradient paths against autograd."""

import numpy as np
import pytest
import torch

from robustsk import query as Q


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


class _PerToken(torch.nn.Module):
    """A linear layer applied to each of 8 rows (a 3-d input), then a dense head."""

    def __init__(self):
        super().__init__()
        self.rows = torch.nn.Linear(8, 5)
        self.head = torch.nn.Linear(40, 4)

    def forward(self, x):
        return self.head(torch.relu(self.rows(x.reshape(x.shape[0], 8, 8))).flatten(1))


@pytest.mark.parametrize(
    "module",
    [
        _PerToken(),
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
    ids=[
        "per-row linear (layer factorization)",
        "conv-linear (layer factorization)",
        "batchnorm (jacobian path)",
    ],
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
