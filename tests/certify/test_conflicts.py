"""boxes_intersect: pairs of inputs whose budget boxes meet (no classifier verifies both)."""

import numpy as np
import pytest
import torch

from robustsk.certify import boxes_intersect, input_box


def test_known_answers_per_element_per_example_and_scalar_budgets():
    a = np.zeros((3, 2), np.float32)  # dyadic values: the sums below are exact
    b = np.array([[0.375, 0.0], [0.375, 0.0], [0.375, 0.25]], np.float32)
    # per element: 0.25 + 0.125 reaches 0.375 on the first element, exactly
    eps_a = np.array([[0.25, 0.0], [0.125, 0.0], [0.25, 0.0]], np.float32)
    assert boxes_intersect(a, eps_a, b, 0.125).tolist() == [True, False, False]
    # per example (shape (n,)) and scalar budgets broadcast
    eps = np.array([0.1875, 0.125, 0.125])
    assert boxes_intersect(a, eps, b, 0.1875).tolist() == [True, False, False]
    assert boxes_intersect(a, 0.25, b, 0.125).tolist() == [True, True, True]
    assert boxes_intersect(a, 0.0, a, 0.0).all()  # an input meets itself
    assert boxes_intersect(torch.from_numpy(a), torch.tensor(0.1875), b, 0.1875).all()


def test_symmetric_and_agrees_with_a_common_point():
    rng = np.random.default_rng(0)
    a, b = rng.random((500, 1, 2, 2)), rng.random((500, 1, 2, 2))
    ea, eb = 0.6 * rng.random(a.shape), 0.6 * rng.random(b.shape)
    meet = boxes_intersect(a, ea, b, eb)
    np.testing.assert_array_equal(meet, boxes_intersect(b, eb, a, ea))
    assert 0 < meet.mean() < 1
    # where the boxes meet, the midpoint of the overlap lies in both (clipped) boxes; where
    # they do not, some element's intervals are disjoint
    lo_a, hi_a = (t.numpy() for t in input_box(torch.from_numpy(a), torch.from_numpy(ea)))
    lo_b, hi_b = (t.numpy() for t in input_box(torch.from_numpy(b), torch.from_numpy(eb)))
    point = (np.maximum(lo_a, lo_b) + np.minimum(hi_a, hi_b)) / 2
    inside = (lo_a <= point) & (point <= hi_a) & (lo_b <= point) & (point <= hi_b)
    np.testing.assert_array_equal(meet, inside.reshape(500, -1).all(axis=1))


def test_clipping_follows_input_box():
    a, b = np.array([[0.95]]), np.array([[1.3]])  # b outside the range: its box collapses to 1
    assert boxes_intersect(a, 0.06, b, 0.0).tolist() == [True]
    assert boxes_intersect(a, 0.06, b, 0.0, clip=None).tolist() == [False]
    assert boxes_intersect(a, 0.04, b, 0.0).tolist() == [False]
    assert boxes_intersect(np.array([[-2.0]]), 0.0, np.array([[0.5]]), 0.5, clip=(0, 1)).all()


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((np.zeros((2, 3)), 0.1, np.zeros((2, 4)), 0.1), ValueError, "same shape"),
        ((np.zeros((2, 3)), -0.1, np.zeros((2, 3)), 0.1), ValueError, "eps_a must be finite"),
        ((np.zeros((2, 3)), 0.1, np.zeros((2, 3)), np.nan), ValueError, "eps_b must be finite"),
        ((np.zeros((2, 3)), np.zeros(3), np.zeros((2, 3)), 0.1), ValueError, "eps_a must be"),
        ((np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 3)), 0.1), ValueError, "shape"),
        ((np.zeros((2, 3)), "0.1", np.zeros((2, 3)), 0.1), TypeError, "eps_a"),
        ((np.full((2, 3), np.nan), 0.1, np.zeros((2, 3)), 0.1), ValueError, "X_a contains NaN"),
        ((np.zeros(3), 0.1, np.zeros(3), 0.1), ValueError, "X_a must have at least 2"),
        ((np.zeros((2, 3)), 0.1, np.array([["a"] * 3] * 2), 0.1), TypeError, "X_b"),
    ],
)
def test_bad_input_is_refused_naming_the_parameter(args, error, match):
    with pytest.raises(error, match=match):
        boxes_intersect(*args)
    with pytest.raises(ValueError, match="clip"):
        boxes_intersect(np.zeros((1, 1)), 0.1, np.zeros((1, 1)), 0.1, clip=(1, 0))
