"""The budget generator's heads, and the measure of how much budgets depend on the image."""

import numpy as np
import pytest
import torch

from robustsk.certify import BudgetGenerator, budget_image_dependence, refine_budgets
from robustsk.estimators import CertifiedBudgetClassifier
from robustsk.reproduce import BudgetsConfig


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
    from functools import partial

    X_train, X_test, y_train, _ = digits
    clf = CertifiedBudgetClassifier(
        eps0=0.1,
        budget="learned",
        generator=partial(BudgetGenerator, head="conv"),
        max_epochs=1,
        ramp_start=0,
        ramp_length=1,
        verbose=0,
        random_state=0,
    ).fit(X_train[:200], y_train[:200])
    assert clf.generator_.head == "conv"
    d = budget_image_dependence(clf.budgets(X_test[:50]), X_test[:50])
    assert d["spread"] > 0
    assert BudgetsConfig().generator == "linear"  # the paper's, by default
