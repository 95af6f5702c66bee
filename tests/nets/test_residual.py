"""Residual blocks: the bounds through them are sound (they contain sampled points) and
equal to auto_LiRPA's; any other skip connection is refused; the small ResNet trains."""

import numpy as np
import pytest
import torch
from torch import nn

from robustsk.certify import check_module, compute_bounds, input_box, margin_matrix
from robustsk.nets import Residual, ResNet

LIRPA_METHODS = {"ibp": "IBP", "crown-ibp": "CROWN-IBP", "crown": "CROWN"}


def random_residual_net(seed, *, batchnorm=True, projection=True):
    """Conv, then an identity block and a projecting block (stride 2), then linear layers."""
    torch.manual_seed(seed)

    def bn(c):
        return [nn.BatchNorm2d(c)] if batchnorm else []

    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        Residual(
            nn.Sequential(
                nn.Conv2d(4, 4, 3, padding=1), *bn(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)
            )
        ),  # fmt: skip
        nn.ReLU(),
        Residual(
            nn.Sequential(
                nn.Conv2d(4, 6, 3, stride=2, padding=1),
                *bn(6),
                nn.ReLU(),
                nn.Conv2d(6, 6, 3, padding=1),
            ),  # fmt: skip
            nn.Sequential(nn.Conv2d(4, 6, 1, stride=2), *bn(6)) if projection else None,
        )
        if projection
        else Residual(
            nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
        ),  # fmt: skip
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear((6 * 8 * 8) if projection else (4 * 16 * 16), 12),
        nn.ReLU(),
        nn.Linear(12, 5),
    )
    for m in net.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def _box(seed, eps_scale=0.05):
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(4, 1, 16, 16, generator=gen)
    eps = torch.rand(4, 1, 16, 16, generator=gen) * eps_scale
    return X, input_box(X, eps)


@pytest.mark.parametrize("method", ["ibp", "crown-ibp", "crown"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_residual_bounds_contain_10000_sampled_points(method, seed):
    net = random_residual_net(seed, batchnorm=seed != 2, projection=seed != 1)
    X, (lower, upper) = _box(seed)
    C = margin_matrix(torch.tensor([0, 1, 2, 3]), 5)
    lb, ub = compute_bounds(net, lower, upper, C, method=method)
    gen = torch.Generator().manual_seed(seed + 10)
    with torch.no_grad():
        for _ in range(5):  # 5 x 2,000 points per example, the corners among them
            u = torch.rand(2000, *lower.shape, generator=gen)
            u[:200] = u[:200].round()
            pts = lower + (upper - lower) * u
            out = C.matmul(net(pts.reshape(-1, 1, 16, 16)).reshape(2000, 4, 5, 1)).squeeze(-1)
            assert (out >= lb - 1e-5).all() and (out <= ub + 1e-5).all()
    assert (ub - lb > 0).all()


@pytest.mark.parametrize("method", ["ibp", "crown-ibp", "crown"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_residual_bounds_equal_auto_lirpa(method, seed):
    from tests._lirpa import lirpa_available, lirpa_bounds, lirpa_unavailable_reason

    if not lirpa_available():
        pytest.skip(lirpa_unavailable_reason())
    net = random_residual_net(seed, batchnorm=seed != 2, projection=seed != 1)
    _, (lower, upper) = _box(seed)
    C = margin_matrix(torch.tensor([0, 1, 2, 3]), 5)
    lb, ub = compute_bounds(net, lower, upper, C, method=method)
    ref_lb, ref_ub = lirpa_bounds(net, lower, upper, C, LIRPA_METHODS[method])
    np.testing.assert_allclose(lb.detach().numpy(), ref_lb.detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(ub.detach().numpy(), ref_ub.detach().numpy(), atol=1e-4)


def test_crown_is_tighter_than_crown_ibp_and_ibp_through_residual_blocks():
    net = random_residual_net(0)
    _, (lower, upper) = _box(0, eps_scale=0.02)
    C = margin_matrix(torch.tensor([0, 1, 2, 3]), 5)
    widths = {
        m: (lambda b: (b[1] - b[0]).sum().item())(compute_bounds(net, lower, upper, C, method=m))
        for m in ("ibp", "crown-ibp", "crown")
    }
    assert widths["crown"] <= widths["crown-ibp"] + 1e-6
    assert widths["crown"] < widths["ibp"]


def test_other_skip_connections_are_refused():
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Linear(4, 4)

        def forward(self, x):
            return x + self.f(x)

    with pytest.raises(TypeError, match="Skip"):
        check_module(nn.Sequential(nn.Linear(4, 4), Skip(), nn.Linear(4, 2)))

    class Doubled(Residual):  # a subclass that changes what the block computes
        def forward(self, x):
            return 2 * super().forward(x)

    with pytest.raises(TypeError, match="redefines 'forward'"):
        check_module(nn.Sequential(Doubled(nn.Sequential(nn.Linear(4, 4))), nn.Linear(4, 2)))
    with pytest.raises(TypeError, match="body"):
        Residual(nn.Linear(4, 4))


def test_the_small_resnet_is_certifiable_and_trains(digits):
    from robustsk.estimators import CertifiedBudgetClassifier

    X_train, X_test, y_train, y_test = digits
    check_module(ResNet(input_shape=(1, 8, 8), width=4).eval(), (1, 8, 8), 10)
    clf = CertifiedBudgetClassifier(
        ResNet,
        module__width=8,
        module__n_stages=1,
        module__hidden_units=32,
        eps0=0.01,
        max_epochs=6,
        batch_size=32,
        ramp_start=4,
        ramp_length=1,
        lr=1e-2,
        verbose=0,
        random_state=0,
    ).fit(X_train[:600], y_train[:600])
    verified = clf.certify(X_test[:100], y_test[:100])
    # measured: 41% accuracy (chance 10%), 27% of 100 test digits verified at eps0 0.01
    assert clf.score(X_test, y_test) > 0.3
    assert 0.1 < verified.mean() <= clf.score(X_test[:100], y_test[:100])


def test_the_fused_loss_bound_holds_through_residual_blocks():
    from robustsk.certify import cross_entropy_upper_bound

    net = random_residual_net(1)
    X, (lower, upper) = _box(1)
    y = torch.tensor([0, 1, 2, 3])
    bound = cross_entropy_upper_bound(net, lower, upper, y, method="fused")
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        pts = lower + (upper - lower) * torch.rand(2000, *lower.shape, generator=gen)
        ce = nn.functional.cross_entropy(
            net(pts.reshape(-1, 1, 16, 16)), y.repeat(2000), reduction="none"
        ).reshape(2000, 4)
    assert (ce <= bound + 1e-5).all()
