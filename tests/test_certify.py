import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch import nn

from robustsk.certify import (
    BudgetGenerator,
    budget_range,
    compute_bounds,
    cross_entropy_upper_bound,
    input_box,
    interval_bounds,
    margin_matrix,
    refine_budgets,
)
from robustsk.estimators import CertifiedBudgetClassifier, RobustNetClassifier
from robustsk.metrics import VerifiedErrorScorer, verified_error

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


@pytest.mark.parametrize("method", METHODS)
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


# --------------------------------------------------------------- budgets
@pytest.mark.parametrize(
    "eps0, a_lo, a_hi", [(0.4, 0.5, 2.0), (0.3, 0.125, 2.5), (0.1, 0.5, 1.5), (0.8, 0.5, 2.0)]
)
def test_refinement_meets_volume_and_range_constraints(eps0, a_lo, a_hi):
    low, high = budget_range(eps0, a_lo, a_hi)
    assert low == pytest.approx(a_lo * eps0) and high == pytest.approx(min(a_hi * eps0, 1.0))
    gen = torch.Generator().manual_seed(0)
    n = 784
    cases = [
        torch.rand(64, 1, 28, 28, generator=gen),  # anything in [0, 1]
        torch.rand(64, 1, 28, 28, generator=gen) ** 8,  # mostly low: a deficit
        1 - torch.rand(64, 1, 28, 28, generator=gen) ** 8,  # mostly high: a surplus
        torch.zeros(2, 1, 28, 28),
        torch.ones(2, 1, 28, 28),
        torch.full((2, 1, 28, 28), 0.5),
    ]
    for g in cases:
        eps = refine_budgets(g, eps0, low, high)
        assert eps.shape == g.shape and eps.dtype == g.dtype
        log_volume = torch.log(eps.double()).flatten(1).sum(1)
        np.testing.assert_allclose(log_volume.numpy(), n * np.log(eps0), atol=1e-4)
        assert (eps >= low * (1 - 1e-6)).all() and (eps <= high * (1 + 1e-6)).all()


def test_refinement_keeps_the_order_of_generator_outputs_and_is_differentiable():
    g = torch.rand(3, 64, requires_grad=True)
    eps = refine_budgets(g, 0.4, 0.2, 0.8)
    order = torch.argsort(g.detach(), dim=1)
    assert (torch.diff(torch.gather(eps.detach(), 1, order), dim=1) >= -1e-7).all()
    eps.sum().backward()
    assert g.grad is not None and torch.isfinite(g.grad).all() and g.grad.abs().sum() > 0


def test_budget_range_errors():
    with pytest.raises(ValueError, match="eps0"):
        budget_range(0.0, 0.5, 2.0)
    with pytest.raises(ValueError, match="low must be"):
        budget_range(0.4, 1.5, 2.0)
    with pytest.raises(ValueError, match="high must be"):
        budget_range(0.4, 0.5, 0.9)
    with pytest.warns(FutureWarning, match="alpha_low was renamed low"):
        assert budget_range(0.4, alpha_low=0.5, high=2.0) == budget_range(0.4, 0.5, 2.0)


def test_generator_shapes():
    assert BudgetGenerator((1, 8, 8))(torch.rand(5, 1, 8, 8)).shape == (5, 1, 8, 8)
    g = BudgetGenerator((20,))(torch.rand(5, 20))
    assert g.shape == (5, 20) and ((g >= 0) & (g <= 1)).all()


# ------------------------------------------------------------ classifier
FAST = dict(max_epochs=2, lr=3e-3, batch_size=64, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def certified(digits):
    X_train, _, y_train, _ = digits
    params = dict(eps0=0.2, ramp_start=0, ramp_length=2, **{**FAST, "max_epochs": 6})
    uniform = CertifiedBudgetClassifier(budget_mode="uniform", **params).fit(X_train, y_train)
    learned = CertifiedBudgetClassifier(budget_mode="learned", **params).fit(X_train, y_train)
    natural = RobustNetClassifier(**{**FAST, "max_epochs": 6}).fit(X_train, y_train)
    return uniform, learned, natural


def test_certified_training_is_verifiably_robust_where_natural_training_is_not(certified, digits):
    _, X_test, _, y_test = digits
    uniform, learned, natural = certified
    natural_error = verified_error(natural, X_test, y_test, budget=0.2)
    assert natural_error > 0.95  # standard training certifies nothing at eps 0.2
    uniform_error = verified_error(uniform, X_test, y_test)
    learned_error = verified_error(learned, X_test, y_test)
    assert uniform_error < natural_error - 0.1  # measured 0.85
    # the paper's point: at the same volume, learned budgets are far easier to certify
    assert learned_error < uniform_error - 0.2  # measured 0.46
    assert learned.score(X_test, y_test) > uniform.score(X_test, y_test) + 0.2


def test_loss_fusion_trains_as_well_as_margin_bounds(certified, digits):
    X_train, X_test, y_train, y_test = digits
    _, learned, _ = certified
    params = dict(eps0=0.2, ramp_start=0, ramp_length=2, **{**FAST, "max_epochs": 6})
    fused = CertifiedBudgetClassifier(budget_mode="learned", loss_fusion=True, **params)
    fused.fit(X_train, y_train)
    error = verified_error(fused, X_test, y_test)
    assert error < 0.7  # natural training: > 0.95; measured 0.49
    assert abs(error - verified_error(learned, X_test, y_test)) < 0.1  # margin bounds: 0.46


def test_budgets_and_cross_evaluation(certified, digits):
    _, X_test, _, y_test = digits
    uniform, learned, _ = certified
    eps = learned.budgets(X_test[:10])
    assert eps.shape == (10, 1, 8, 8)
    np.testing.assert_allclose(
        np.log(eps.astype(np.float64)).reshape(10, -1).mean(1), np.log(0.2), atol=1e-6
    )
    low, high = learned.budget_range_
    assert eps.min() >= low * (1 - 1e-6) and eps.max() <= high * (1 + 1e-6)
    np.testing.assert_array_equal(
        uniform.budgets(X_test[:2]), np.full((2, 1, 8, 8), 0.2, np.float32)
    )
    # Table 1's columns: each model under the other's budgets
    v_own = learned.certify(X_test, y_test)
    v_uniform = learned.certify(X_test, y_test, budget="uniform")
    v_cross = uniform.certify(X_test, y_test, budget=learned)
    assert v_own.dtype == bool and v_own.shape == (len(y_test),)
    assert v_uniform.shape == v_cross.shape == v_own.shape
    lb_ibp = learned.margin_bounds(X_test[:50], y_test[:50], bound="ibp")
    assert lb_ibp.shape == (50, 9)
    with pytest.raises(ValueError, match="budget"):
        uniform.certify(X_test, y_test, budget="learned")
    with pytest.raises(ValueError, match="bound"):
        learned.certify(X_test, y_test, bound="exact")
    with pytest.raises(ValueError, match="broadcast"):
        learned.certify(X_test, y_test, budget=np.ones(3))


def test_verified_error_scorer_in_grid_search(digits):
    X_train, _, y_train, _ = digits
    grid = GridSearchCV(
        CertifiedBudgetClassifier(
            budget_mode="uniform", eps0=0.1, ramp_start=0, ramp_length=1, **FAST
        ),
        {"kappa_end": [0.0, 1.0]},
        scoring=VerifiedErrorScorer(bound="ibp"),
        cv=2,
    )
    grid.fit(X_train[:400], y_train[:400])
    scores = grid.cv_results_["mean_test_score"]
    assert ((scores <= 0) & (scores >= -1)).all()
    # kappa_end=1 keeps the natural loss only: less verified (a larger error)
    assert grid.best_params_ == {"kappa_end": 0.0}


def test_classifier_parameters_are_validated(digits):
    X_train, _, y_train, _ = digits
    for params, match in [
        (dict(eps0=0), "eps0"),
        (dict(budget_mode="random"), "budget_mode"),
        (dict(bound="crown"), "bound"),
        (dict(ratio_range=(0.5, 0.9)), "ratio_range"),
        (dict(kappa_end=2), "kappa_end"),
    ]:
        with pytest.raises(ValueError, match=match):
            CertifiedBudgetClassifier(**params, **FAST).fit(X_train[:50], y_train[:50])
    with pytest.raises(TypeError, match="loss_fusion"):
        CertifiedBudgetClassifier(loss_fusion="yes", **FAST).fit(X_train[:50], y_train[:50])
    clf = clone(CertifiedBudgetClassifier(eps0=0.2, **FAST))
    assert clf.get_params()["eps0"] == 0.2


# ------------------------------------------------- auto_LiRPA as reference
LIRPA_METHODS = {"ibp": "IBP", "crown-ibp": "CROWN-IBP", "crown": "CROWN"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounds_equal_auto_lirpa(method, seed):
    from _lirpa import lirpa_available, lirpa_bounds, lirpa_unavailable_reason

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
