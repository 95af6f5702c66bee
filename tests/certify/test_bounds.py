import numpy as np
import pytest
import torch
from torch import nn

from robustsk.certify import (
    compute_bounds,
    cross_entropy_upper_bound,
    input_box,
    interval_bounds,
    margin_matrix,
)

METHODS = ["ibp", "crown-ibp", "crown"]

METHODS_CE = ("fused", "ibp", "crown-ibp")


def random_net(seed, batchnorm=True):
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1, 4, 3, stride=2, padding=1)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(4))
    layers += [
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 20),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(20, 5),
    ]
    net = nn.Sequential(*layers)
    if batchnorm:
        bn = net[1]
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(-1, 1)
        bn.bias.data.uniform_(-0.1, 0.1)
    return net.eval()


def test_margin_matrix():
    C = margin_matrix(torch.tensor([0, 2]), 3)
    assert C.shape == (2, 2, 3)
    np.testing.assert_array_equal(C[0].numpy(), [[1, -1, 0], [1, 0, -1]])
    np.testing.assert_array_equal(C[1].numpy(), [[-1, 0, 1], [0, -1, 1]])


@pytest.mark.parametrize("method", [*METHODS, "best"])
@pytest.mark.parametrize("seed", [0, 1])
def test_bounds_contain_10000_random_points_of_the_box(method, seed):
    net = random_net(seed)
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(3, 1, 16, 16, generator=gen)
    eps = torch.rand(3, 1, 16, 16, generator=gen) * 0.1  # per-pixel budgets
    lower, upper = input_box(X, eps)
    C = margin_matrix(torch.tensor([0, 2, 4]), 5)
    # half uniform points, half corners of the box (where bounds are tightest)
    u = torch.rand(3, 10000, 1, 16, 16, generator=gen)
    u[:, 5000:] = u[:, 5000:].round()
    points = lower.unsqueeze(1) + (upper - lower).unsqueeze(1) * u
    with torch.no_grad():
        out = net(points.view(-1, 1, 16, 16)).view(3, 10000, 5)
    margins = torch.einsum("bsk,bnk->bns", C, out)
    lb, ub = compute_bounds(net, lower, upper, C, method=method)
    assert lb.shape == ub.shape == (3, 4)
    assert (margins >= lb.unsqueeze(1) - 1e-5).all()
    assert (margins <= ub.unsqueeze(1) + 1e-5).all()
    # and they are not vacuous: within a few units of the empirical range
    assert (margins.min(1).values - lb).max() < 5


@pytest.mark.parametrize("batchnorm", [False, True])
def test_one_interval_pass_gives_both_training_bounds(batchnorm):
    """CROWN-IBP training's fused pair equals the two bounds computed separately."""
    from robustsk.certify._bounds import crown_ibp_and_ibp_lower

    net = random_net(3, batchnorm=batchnorm).eval()
    X = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    lower, upper = input_box(X, 0.05)
    C = margin_matrix(torch.tensor([0, 1, 2, 3, 4]), 5)
    crown, ibp = crown_ibp_and_ibp_lower(net, lower, upper, C)
    ref_crown, _ = compute_bounds(net, lower, upper, C, method="crown-ibp")
    ref_ibp, _ = compute_bounds(net, lower, upper, C, method="ibp")
    torch.testing.assert_close(crown, ref_crown)
    torch.testing.assert_close(ibp, ref_ibp)
    assert (crown > ibp).any()  # two different bounds, not one twice


@pytest.mark.parametrize("eps", [0.02, 0.1])
def test_cross_entropy_upper_bound_is_sound_and_fusion_beats_ibp(eps):
    net = random_net(4, batchnorm=False)
    gen = torch.Generator().manual_seed(4)
    X = torch.rand(3, 1, 16, 16, generator=gen)
    y = torch.tensor([0, 2, 4])
    lower, upper = input_box(X, eps)
    u = torch.rand(3, 10000, 1, 16, 16, generator=gen)
    u[:, 5000:] = u[:, 5000:].round()
    points = lower.unsqueeze(1) + (upper - lower).unsqueeze(1) * u
    with torch.no_grad():
        out = net(points.view(-1, 1, 16, 16))
    ce = nn.functional.cross_entropy(out, y.repeat_interleave(10000), reduction="none")
    worst = ce.view(3, 10000).max(1).values
    bounds = {m: cross_entropy_upper_bound(net, lower, upper, y, method=m) for m in METHODS_CE}
    for method, bound in bounds.items():
        assert bound.shape == (3,)
        assert (bound >= worst - 1e-5).all(), method
    assert (bounds["fused"] <= bounds["ibp"] + 1e-6).all()  # one row, yet tighter than IBP
    # differentiable in the weights, like the margin bounds
    bounds["fused"].sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    with pytest.raises(ValueError, match="method"):
        cross_entropy_upper_bound(net, lower, upper, y, method="crown")


def test_crown_is_tighter_than_ibp_and_bounds_without_spec():
    net = random_net(0, batchnorm=False)
    X = torch.rand(4, 1, 16, 16)
    lower, upper = input_box(X, 0.05)
    ibp_l, ibp_u = interval_bounds(net, lower, upper)
    cr_l, cr_u = compute_bounds(net, lower, upper, method="crown")
    assert ibp_l.shape == cr_l.shape == (4, 5)
    assert (cr_u - cr_l).mean() < (ibp_u - ibp_l).mean()
    with torch.no_grad():
        out = net(X)
    assert ((cr_l <= out + 1e-5) & (out <= cr_u + 1e-5)).all()


def test_best_takes_the_tighter_of_ibp_and_crown_ibp_for_each_bound():
    """|x| = relu(x) + relu(-x) on [-1, 2] lies in [0, 2]: IBP gets the lower end right
    (CROWN-IBP's relaxation of relu(-x) drops to 0, so it gives -1), CROWN-IBP the upper
    end (IBP adds the two ranges: 3); "best" gets both."""
    net = nn.Sequential(nn.Linear(1, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    net[0].weight.data = torch.tensor([[1.0], [-1.0]])
    net[2].weight.data = torch.tensor([[1.0, 1.0]])
    net.eval()
    lower, upper = torch.tensor([[-1.0]]), torch.tensor([[2.0]])
    C = torch.tensor([[[1.0], [-1.0]]])  # lower bounds of y and of -y
    with torch.no_grad():
        ibp, _ = compute_bounds(net, lower, upper, C, method="ibp")
        crown_ibp, _ = compute_bounds(net, lower, upper, C, method="crown-ibp")
        best, best_upper = compute_bounds(net, lower, upper, C, method="best")
        lb, ub = compute_bounds(net, lower, upper, C, method="best", bound_upper=False)
    np.testing.assert_allclose(ibp.numpy(), [[0.0, -3.0]], atol=1e-6)
    np.testing.assert_allclose(crown_ibp.numpy(), [[-1.0, -2.0]], atol=1e-6)
    np.testing.assert_allclose(best.numpy(), [[0.0, -2.0]], atol=1e-6)  # the exact range
    np.testing.assert_allclose(best_upper.numpy(), [[2.0, 0.0]], atol=1e-6)  # -(-2), -(0)
    assert ub is not None  # IBP's upper bound still comes back
    np.testing.assert_allclose(lb.numpy(), best.numpy())


def test_bounds_are_differentiable_in_weights_and_budgets():
    net = random_net(0).double()
    X = torch.rand(2, 1, 16, 16, dtype=torch.float64) * 0.8 + 0.1
    C = margin_matrix(torch.tensor([1, 3]), 5).double()
    for method in METHODS:
        eps = torch.full_like(X, 0.02, requires_grad=True)
        lb, _ = compute_bounds(net, *input_box(X, eps), C, method=method)
        lb.sum().backward()
        assert eps.grad is not None and (eps.grad <= 1e-12).all()  # larger boxes, lower bounds
        assert eps.grad.abs().sum() > 0
        assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0
        net.zero_grad()

    def lower_bound(e):
        return compute_bounds(net, *input_box(X, e), C, method="crown-ibp")[0]

    eps = torch.full_like(X, 0.02).requires_grad_()
    assert torch.autograd.gradcheck(lower_bound, (eps,), eps=1e-7, atol=1e-5)


def test_unsupported_layers_and_bad_method():
    X = torch.rand(2, 1, 8, 8)
    lower, upper = input_box(X, 0.1)
    with pytest.raises(TypeError, match="MaxPool2d"):
        interval_bounds(nn.Sequential(nn.MaxPool2d(2)), lower, upper)
    with pytest.raises(TypeError, match="Sequential"):
        interval_bounds(nn.Linear(64, 2), lower, upper)
    with pytest.raises(ValueError, match="method"):
        compute_bounds(
            nn.Sequential(nn.Flatten(), nn.Linear(64, 2)), lower, upper, method="alpha-crown"
        )


# ------------------------------------------------- auto_LiRPA as reference
LIRPA_METHODS = {"ibp": "IBP", "crown-ibp": "CROWN-IBP", "crown": "CROWN"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounds_equal_auto_lirpa(method, seed):
    from tests._lirpa import lirpa_available, lirpa_bounds, lirpa_unavailable_reason

    if not lirpa_available():
        pytest.skip(lirpa_unavailable_reason())
    net = random_net(seed, batchnorm=seed != 2)
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(4, 1, 16, 16, generator=gen)
    eps = torch.rand(4, 1, 16, 16, generator=gen) * 0.05
    lower, upper = input_box(X, eps)
    C = margin_matrix(torch.tensor([0, 1, 2, 3]), 5)
    lb, ub = compute_bounds(net, lower, upper, C, method=method)
    ref_lb, ref_ub = lirpa_bounds(net, lower, upper, C, LIRPA_METHODS[method])
    np.testing.assert_allclose(lb.detach().numpy(), ref_lb.detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(ub.detach().numpy(), ref_ub.detach().numpy(), atol=1e-4)
