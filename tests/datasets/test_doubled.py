"""Doubled images (contextual perturbation budgets, Sec. 4.3)."""

import numpy as np
import pytest
import torch

from robustsk.datasets import load_digits_images, make_doubled


@pytest.fixture(scope="module")
def rgb():
    rng = np.random.default_rng(0)
    return rng.random((40, 3, 6, 5), dtype=np.float32), rng.integers(0, 10, size=40)


def test_doubled_shapes_dtypes_and_halves(rgb):
    X, y = rgb
    X_new, y_new, info = make_doubled(X, y, border=3, random_state=0, return_info=True)
    assert X_new.shape == (40, 3, 9, 10) and X_new.dtype == np.float32
    assert y_new.shape == (40,) and y_new.dtype == np.int64
    assert X_new.min() >= 0 and X_new.max() <= 1
    np.testing.assert_array_equal(X_new[:, :, 3:, :5], X[info.left])
    np.testing.assert_array_equal(X_new[:, :, 3:, 5:], X[info.right])


def test_doubled_strip_is_exactly_red_or_green(rgb):
    X, y = rgb
    X_new, _, info = make_doubled(X, y, random_state=1, return_info=True)
    strip = X_new[:, :, :4, :]  # (n, 3, 4, 2w)
    red = info.color == "red"
    assert red.any() and (~red).any()
    assert (strip[red, 0] == 1).all() and (strip[red, 1:] == 0).all()
    assert (strip[~red, 1] == 1).all() and (strip[~red, 0] == 0).all()
    assert (strip[~red, 2] == 0).all()


def test_doubled_label_rule_red_left_green_right(rgb):
    X, y = rgb
    X_new, y_new, info = make_doubled(X, y, random_state=2, return_info=True)
    red = X_new[:, 0, 0, 0] == 1  # read the colour from the pixels, not from info
    np.testing.assert_array_equal(red, info.color == "red")
    np.testing.assert_array_equal(y_new[red], y[info.left[red]])
    np.testing.assert_array_equal(y_new[~red], y[info.right[~red]])


def test_doubled_pairs_each_image_with_another_in_random_order(rgb):
    X, y = rgb
    _, _, info = make_doubled(X, y, random_state=3, return_info=True)
    own = np.arange(len(X))
    own_left = info.left == own
    assert ((info.right == own) ^ own_left).all()  # exactly one of the two is image i
    assert (info.left != info.right).all()
    assert own_left.any() and (~own_left).any()


def test_doubled_gray_images_become_rgb():
    X, y = load_digits_images(return_X_y=True)
    X, y = X[:30], y[:30]
    X_new, _, info = make_doubled(X, y, border=4, random_state=0, return_info=True)
    assert X_new.shape == (30, 3, 12, 16)
    for c in range(3):
        np.testing.assert_array_equal(X_new[:, c, 4:, :8], X[info.left, 0])
        np.testing.assert_array_equal(X_new[:, c, 4:, 8:], X[info.right, 0])
    X_flat, _ = make_doubled(X[:, 0], y, random_state=0)  # (n, h, w) means gray
    np.testing.assert_array_equal(X_flat, X_new)


def test_doubled_is_reproducible(rgb):
    X, y = rgb
    X_a, y_a = make_doubled(X, y, random_state=5)
    X_b, y_b = make_doubled(torch.from_numpy(X), y, random_state=5)
    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(y_a, y_b)
    assert not np.array_equal(X_a, make_doubled(X, y, random_state=6)[0])


def test_doubled_never_pairs_an_image_with_itself():
    X = np.zeros((1000, 1, 1, 1), dtype=np.float32)
    _, _, info = make_doubled(X, np.zeros(1000, dtype=int), random_state=0, return_info=True)
    assert (info.left != info.right).all()
    assert len(np.unique(np.where(info.left == np.arange(1000), info.right, info.left))) > 500


def test_doubled_works_with_two_images():
    X = np.stack([np.zeros((1, 2, 2)), np.ones((1, 2, 2))]).astype(np.float32)
    _, y_new, info = make_doubled(X, np.array([3, 4]), random_state=0, return_info=True)
    assert set(zip(info.left, info.right)) <= {(0, 1), (1, 0)}
    assert set(y_new) <= {3, 4}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"border": 0}, ValueError, r"border must be in \[1, inf\], got 0"),
        ({"border": 2.5}, TypeError, "border must be an int, got 2.5"),
        ({"random_state": 1.0}, TypeError, "random_state must be None"),
        ({"return_info": 1}, TypeError, "return_info must be a bool"),
    ],
)
def test_doubled_rejects_bad_parameters(rgb, kwargs, error, match):
    X, y = rgb
    with pytest.raises(error, match=match):
        make_doubled(X, y, **kwargs)


def test_doubled_rejects_bad_data(rgb):
    X, y = rgb
    with pytest.raises(ValueError, match=r"c = 1 or 3.*got shape \(40, 2, 6, 5\)"):
        make_doubled(X[:, :2], y)
    with pytest.raises(ValueError, match=r"X must have at least 3 dimensions"):
        make_doubled(X.reshape(40, -1), y)
    with pytest.raises(ValueError, match="X must hold at least 2 images .* got 1"):
        make_doubled(X[:1], y[:1])
    with pytest.raises(ValueError, match=r"X must have values in \[0, 1\]"):
        make_doubled(X * 2, y)
    with pytest.raises(ValueError, match=r"y must have shape \(40,\)"):
        make_doubled(X, y[:, None])
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        make_doubled(X, y.astype(np.float32))
