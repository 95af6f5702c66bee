"""Budgets: the generator's heads, the refinement to a volume and a range, and the
measure of how much budgets depend on the image."""

from functools import partial

import numpy as np
import pytest
import torch
from sklearn.base import clone

from robustsk.certify import (
    BudgetGenerator,
    budget_image_dependence,
    budget_range,
    refine_budgets,
)
from robustsk.estimators import CertifiedBudgetClassifier
from robustsk.reproduce import BudgetsConfig

FAST = dict(eps0=0.1, max_epochs=1, ramp_start=0, ramp_length=1, verbose=0, random_state=0)


@pytest.mark.parametrize("head", ["linear", "conv"])
def test_both_heads_give_one_budget_per_element_in_range(head):
    torch.manual_seed(0)
    gen = BudgetGenerator((1, 12, 12), head=head)
    x = torch.rand(5, 1, 12, 12)
    g = gen(x)
    assert g.shape == x.shape and float(g.min()) >= 0 and float(g.max()) <= 1
    eps = refine_budgets(g, 0.2, 0.1, 0.4)
    torch.testing.assert_close(
        eps.double().log().flatten(1).sum(1), torch.full((5,), 144 * np.log(0.2)).double()
    )


def test_the_conv_head_follows_the_image_and_the_linear_head_need_not():
    """A convolution is translation-equivariant: shift the image, the budgets shift with it
    (away from the border: three 3x3 convolutions see 3 pixels around, so the compared
    window is at least 3 pixels from the border before and after the shift). A dense head
    has no such structure."""
    torch.manual_seed(0)
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 4:8, 4:7] = 1.0  # a blob
    shifted = torch.roll(x, shifts=(5, 4), dims=(2, 3))
    conv = BudgetGenerator((1, 16, 16), head="conv")
    window = (..., slice(8, 13), slice(7, 13))
    a, b = conv(x), conv(shifted)
    torch.testing.assert_close(torch.roll(a, (5, 4), (2, 3))[window], b[window])
    linear = BudgetGenerator((1, 16, 16), head="linear")
    a, b = linear(x), linear(shifted)
    assert not torch.allclose(torch.roll(a, (5, 4), (2, 3))[window], b[window])


def test_a_bad_head_is_refused():
    with pytest.raises(ValueError, match="head must be"):
        BudgetGenerator((1, 8, 8), head="dense")


def test_budget_image_dependence_known_answers():
    rng = np.random.default_rng(0)
    X = rng.random((20, 1, 6, 6))
    constant_pattern = np.broadcast_to(rng.random((1, 1, 6, 6)) + 0.1, X.shape)
    d = budget_image_dependence(constant_pattern, X)
    assert d["spread"] == pytest.approx(0.0, abs=1e-12)
    follows = 0.5 - 0.3 * X  # small budgets on bright pixels
    d = budget_image_dependence(follows, X)
    assert d["correlation"] == pytest.approx(-1.0)
    assert d["per_image_correlation"] == pytest.approx(-1.0)
    assert d["spread"] == pytest.approx(np.mean(follows.std(0) / follows.mean(0)))
    with pytest.raises(ValueError, match="same shape"):
        budget_image_dependence(follows[:, :, :5], X)


def test_the_classifier_and_the_reproduction_take_the_conv_head(digits):
    X_train, X_test, y_train, _ = digits
    clf = CertifiedBudgetClassifier(
        eps0=0.1,
        budget_mode="learned",
        budget_generator__head="conv",
        max_epochs=1,
        ramp_start=0,
        ramp_length=1,
        verbose=0,
        random_state=0,
    ).fit(X_train[:200], y_train[:200])
    assert clf.budget_generator_.head == "conv"
    assert "budget_generator" in clf._modules  # moved, saved and loaded with the net
    d = budget_image_dependence(clf.budgets(X_test[:50]), X_test[:50])
    assert d["spread"] > 0
    assert BudgetsConfig().generator_head == "linear"  # the paper's, by default
    # budget_generator__* arguments survive a switch to uniform budgets (a grid over modes)
    uniform = clone(clf).set_params(budget_mode="uniform").fit(X_train[:100], y_train[:100])
    assert uniform.budget_generator_ is None
    relearned = uniform.set_params(budget_mode="learned").fit(X_train[:100], y_train[:100])
    assert relearned.budget_generator_.head == "conv"
    assert "budget_generator" in relearned._modules
    with pytest.raises(ValueError, match="budget_generator__head"):
        CertifiedBudgetClassifier(
            budget_generator=BudgetGenerator((1, 8, 8)), budget_generator__head="conv", **FAST
        ).fit(X_train[:50], y_train[:50])


@pytest.mark.parametrize(
    "old, new",
    [
        (dict(alpha_low=0.25, alpha_high=3.0), dict(ratio_range=(0.25, 3.0))),
        (dict(budget="uniform"), dict(budget_mode="uniform")),
        (
            dict(generator=partial(BudgetGenerator, head="conv")),
            dict(budget_generator__head="conv"),
        ),
    ],
)
def test_renamed_parameters_still_work_for_one_release(digits, old, new):
    X_train, X_test, y_train, _ = digits
    with pytest.warns(FutureWarning, match="renamed .* will stop working in 0.3"):
        before = CertifiedBudgetClassifier(**old, **FAST).fit(X_train[:100], y_train[:100])
    after = CertifiedBudgetClassifier(**new, **FAST).fit(X_train[:100], y_train[:100])
    assert before.budget_range_ == after.budget_range_
    np.testing.assert_allclose(before.budgets(X_test[:5]), after.budgets(X_test[:5]), atol=1e-6)
    assert "alpha_low" in clone(before).get_params()  # old names stay settable parameters


def test_old_and_new_name_together_are_refused(digits):
    X_train, _, y_train, _ = digits
    for params in (
        dict(budget="uniform", budget_mode="uniform"),
        dict(alpha_low=0.25, ratio_range=(0.25, 2.0)),
    ):
        with pytest.raises(ValueError, match="old name"):
            CertifiedBudgetClassifier(**params, **FAST).fit(X_train[:50], y_train[:50])


# ---------------------------------------------- refinement to a volume and a range
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
