"""Watermarked MNIST (contextual perturbation budgets, Sec. 4.2)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils import Bunch

from robustsk.certify import boxes_intersect
from robustsk.datasets import (
    load_digits_images,
    make_watermarked,
    watermark_accuracy,
    watermark_counterparts,
)


@pytest.fixture(scope="module")
def fake_mnist():
    """200 digits stretched to 20 x 12, centred in 28 x 28: margins (columns 0-7, 20-27) empty."""
    X, y = load_digits_images(return_X_y=True)
    digits = F.interpolate(torch.from_numpy(X[:200]), size=(20, 12), mode="bilinear").numpy()
    images = np.zeros((200, 1, 28, 28), dtype=np.float32)
    images[:, :, 4:24, 8:20] = np.clip(digits, 0, 1)
    return images, y[:200]


def _region_mask(info, n):
    mask = np.zeros((n, 28, 28), dtype=bool)
    for i in range(n):  # a test may loop; it checks the vectorized indexing
        mask[i, info.top[i] : info.top[i] + 8, info.column[i] : info.column[i] + 8] = True
    return mask


# ------------------------------------------------------------------ make_watermarked


def test_watermarked_shapes_dtypes_and_20_classes(fake_mnist):
    X, y = fake_mnist
    X_new, y_new = make_watermarked(X, y, random_state=0)
    assert X_new.shape == (200, 1, 28, 28) and X_new.dtype == np.float32
    assert y_new.shape == (200,) and y_new.dtype == np.int64
    assert X_new.min() >= 0 and X_new.max() <= 1
    assert set(np.unique(y_new)) == set(range(20))


def test_watermarked_label_rule_and_source_digit(fake_mnist):
    X, y = fake_mnist
    _, y_new, info = make_watermarked(X, y, random_state=1, return_info=True)
    np.testing.assert_array_equal(y_new, np.where(info.watermark == 1, y + 10, y))
    np.testing.assert_array_equal(y[info.source], info.watermark)  # a real 0 or 1 from X
    assert set(info.side) == {"left", "right"}
    np.testing.assert_array_equal(info.column, np.where(info.side == "left", 0, 20))
    assert info.top.min() >= 0 and info.top.max() <= 20
    assert len(np.unique(info.top)) > 10  # spread over the 21 spans


def test_watermark_confined_to_its_8x8_margin_region(fake_mnist):
    X, y = fake_mnist
    opacity = 0.3
    X_new, _, info = make_watermarked(X, y, opacity=opacity, random_state=2, return_info=True)
    mask = _region_mask(info, len(X))
    before, after = X[:, 0], X_new[:, 0]
    np.testing.assert_array_equal(after[~mask], before[~mask])  # the rest is unchanged
    assert (before[mask] == 0).all()  # margins of the fake set are empty ...
    assert after[mask].max() <= opacity + 1e-7  # ... so the mark is all there is: <= opacity
    assert (after[mask].reshape(-1, 64).max(axis=1) > 0).all()  # every image got a visible mark
    assert info.patch.shape == (len(X), 8, 8) and info.patch.dtype == np.float32
    np.testing.assert_array_equal(after[mask].reshape(-1, 8, 8), info.patch)


def test_watermark_blend_is_lighten_and_never_dims_the_digit():
    rng = np.random.default_rng(0)
    X = rng.random((30, 1, 28, 28), dtype=np.float32)  # busy margins everywhere
    y = np.arange(30) % 10
    X_new, _, info = make_watermarked(X, y, random_state=3, return_info=True)
    mask = _region_mask(info, len(X))
    expected = np.maximum(X[:, 0][mask].reshape(-1, 8, 8), info.patch)
    np.testing.assert_array_equal(X_new[:, 0][mask].reshape(-1, 8, 8), expected)
    assert (X_new >= X).all()


def test_watermark_is_scaled_to_12x12_and_cropped_to_the_inner_8x8():
    # Area scaling 28 -> 12: cells 2..9 (the inner 8 x 8) average exactly rows/columns 4..23.
    X = np.zeros((2, 1, 28, 28), dtype=np.float32)
    X[0, 0, 4:24, 4:24] = 1.0  # label 0: fills the inner 8 x 8 exactly
    X[1, 0] = 1.0
    X[1, 0, 4:24, 4:24] = 0.0  # label 1: a frame 4 pixels wide, cropped away entirely
    y = np.array([0, 1])
    _, _, info = make_watermarked(X, y, opacity=0.5, random_state=0, return_info=True)
    for i in range(2):
        expected = 0.5 if info.watermark[i] == 0 else 0.0
        np.testing.assert_allclose(info.patch[i], expected, atol=1e-6)


def test_watermark_patch_is_the_area_average_of_the_source():
    # Area scaling 28 -> 12 averages, for cell k, rows [floor(28 k / 12), ceil(28 (k + 1) / 12)).
    rng = np.random.default_rng(4)
    X = rng.random((6, 1, 28, 28), dtype=np.float32)
    y = np.array([0, 1, 0, 1, 0, 1])
    _, _, info = make_watermarked(X, y, opacity=0.4, random_state=0, return_info=True)
    spans = [(28 * k // 12, -(-28 * (k + 1) // 12)) for k in range(2, 10)]  # inner 8 cells
    for i, src in enumerate(info.source):
        expected = [[X[src, 0, r0:r1, c0:c1].mean() for c0, c1 in spans] for r0, r1 in spans]
        np.testing.assert_allclose(info.patch[i], 0.4 * np.array(expected), rtol=1e-5)


def test_watermarked_is_reproducible_and_accepts_several_layouts(fake_mnist):
    X, y = fake_mnist
    X_a, y_a = make_watermarked(X, y, random_state=7)
    X_b, y_b = make_watermarked(X, y, random_state=7)
    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(y_a, y_b)
    X_c, _ = make_watermarked(X, y, random_state=8)
    assert not np.array_equal(X_a, X_c)
    X_g, _ = make_watermarked(X, y, random_state=np.random.default_rng(7))
    assert X_g.shape == X.shape
    for layout in (X[:, 0], X.reshape(len(X), 784), torch.from_numpy(X)):
        X_l, y_l = make_watermarked(layout, torch.from_numpy(y), random_state=7)
        np.testing.assert_array_equal(X_l, X_a)
        np.testing.assert_array_equal(y_l, y_a)


def test_watermarked_leaves_its_input_alone(fake_mnist):
    X, y = fake_mnist
    X_copy = X.copy()
    make_watermarked(X, y, random_state=0)
    np.testing.assert_array_equal(X, X_copy)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"opacity": 0}, ValueError, r"opacity must be in \(0, 1\], got 0"),
        ({"opacity": 1.5}, ValueError, r"opacity must be in \(0, 1\], got 1.5"),
        ({"opacity": "0.3"}, TypeError, "opacity must be a real number"),
        ({"random_state": -1}, ValueError, "random_state must be a non-negative int"),
        ({"random_state": "seed"}, TypeError, "random_state must be None"),
        ({"return_info": "yes"}, TypeError, "return_info must be a bool, got 'yes'"),
    ],
)
def test_watermarked_rejects_bad_parameters(fake_mnist, kwargs, error, match):
    X, y = fake_mnist
    with pytest.raises(error, match=match):
        make_watermarked(X, y, **kwargs)


def test_watermarked_rejects_bad_data(fake_mnist):
    X, y = fake_mnist
    with pytest.raises(ValueError, match=r"X must be MNIST-sized .* got shape \(200, 1, 28, 27\)"):
        make_watermarked(X[..., :27], y)
    with pytest.raises(ValueError, match=r"got shape \(200, 3, 28, 28\)"):
        make_watermarked(np.repeat(X, 3, axis=1), y)
    with pytest.raises(ValueError, match=r"X must have values in \[0, 1\].*1/255"):
        make_watermarked((X * 255).astype(np.uint8), y)
    with pytest.raises(ValueError, match="X contains NaN"):
        make_watermarked(np.where(X > 0.5, np.nan, X), y)
    with pytest.raises(TypeError, match="X must hold real numbers"):
        make_watermarked(X.astype(str), y)
    with pytest.raises(ValueError, match=r"y must have shape \(200,\).*got shape \(199,\)"):
        make_watermarked(X, y[:199])
    with pytest.raises(TypeError, match="y must hold integer class labels, got dtype float64"):
        make_watermarked(X, y.astype(float))
    with pytest.raises(ValueError, match=r"digit labels 0 to 9, got labels in \[0, 10\]"):
        make_watermarked(X, np.where(y == 9, 10, y))
    keep = y != 1
    with pytest.raises(ValueError, match="must contain images labelled 0 and 1.*no 1"):
        make_watermarked(X[keep], y[keep])
    keep = y > 1
    with pytest.raises(ValueError, match="no 0 or 1"):
        make_watermarked(X[keep], y[keep])


# ------------------------------------------------------------------ watermark_accuracy


def test_watermark_accuracy_splits_digit_and_watermark(fake_mnist):
    X, y = fake_mnist
    _, y_new, info = make_watermarked(X, y, random_state=3, return_info=True)
    # the digit always right, the watermark always flipped: 0% plain accuracy
    flipped = (y_new + 10) % 20
    acc = watermark_accuracy(y_new, flipped)
    assert (acc.digit, acc.watermark, acc.both) == (1.0, 0.0, 0.0)
    # the digit always right, the watermark guessed from a coin: about chance
    guess = y + 10 * np.random.default_rng(0).integers(0, 2, size=len(y))
    acc = watermark_accuracy(y_new, guess)
    assert acc.digit == 1.0 and acc.both == acc.watermark
    assert acc.watermark == np.mean(guess // 10 == info.watermark)
    # inclusion-exclusion bounds the plain accuracy by its two halves
    wrong = np.random.default_rng(1).integers(0, 20, size=len(y))
    acc = watermark_accuracy(y_new, wrong)
    assert max(0.0, acc.digit + acc.watermark - 1) <= acc.both <= min(acc.digit, acc.watermark)
    assert watermark_accuracy(torch.from_numpy(y_new), torch.from_numpy(y_new)).both == 1.0


@pytest.mark.parametrize(
    "y_true, y_pred, error, match",
    [
        ([1, 2], [1], ValueError, r"y_pred must have shape \(2,\)"),
        ([], [], ValueError, r"y_true must be a non-empty 1-d array.*shape \(0,\)"),
        ([[1, 2]], [[1, 2]], ValueError, r"y_true must be a non-empty 1-d array.*\(1, 2\)"),
        ([1, 2], [1.0, 2.0], TypeError, "y_pred must hold integer class labels"),
        ([1, 20], [1, 2], ValueError, r"y_true must hold Watermarked MNIST labels.*\[1, 20\]"),
        ([1, 2], [-1, 2], ValueError, r"y_pred must hold Watermarked MNIST labels.*\[-1, 2\]"),
    ],
)
def test_watermark_accuracy_rejects_bad_labels(y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        watermark_accuracy(y_true, y_pred)


# ------------------------------------------------------------------ watermark_counterparts


def test_counterpart_has_the_other_mark_on_the_other_side_at_the_same_rows(fake_mnist):
    X, y = fake_mnist
    X_new, y_new, info = make_watermarked(X, y, random_state=3, return_info=True)
    X_other, y_other = watermark_counterparts(X, y, info, random_state=0)
    assert X_other.shape == X_new.shape and X_other.dtype == np.float32
    np.testing.assert_array_equal(y_other, y + 10 * (1 - info.watermark))
    assert (y_other != y_new).all() and (y_other % 10 == y_new % 10).all()
    other = Bunch(**{**info, "column": 20 - info.column})  # the other margin, same rows
    mask = _region_mask(other, len(X))
    np.testing.assert_array_equal(X_other[:, 0][~mask], X[:, 0][~mask])  # only that region
    marks = X_other[:, 0][mask].reshape(-1, 8, 8)
    assert (marks.reshape(-1, 64).max(axis=1) > 0).all() and marks.max() <= 0.3 + 1e-7
    # each mark is one make_watermarked makes for the other bit: from a 0 or a 1 of X, faded
    for bit in (0, 1):
        made = _all_patches(X, y, bit)
        assert all(m.tobytes() in made for m in marks[info.watermark == 1 - bit])


def _all_patches(X, y, bit):
    """Every 8 x 8 mark make_watermarked can make from the images of digit ``bit``."""
    from robustsk.datasets._watermarked import _watermark_patches

    return {p.tobytes() for p in _watermark_patches(X[y == bit], 0.3)}


def test_counterparts_are_reproducible_and_use_the_recorded_opacity(fake_mnist):
    X, y = fake_mnist
    _, _, info = make_watermarked(X, y, opacity=0.5, random_state=4, return_info=True)
    a, _ = watermark_counterparts(X, y, info, random_state=7)
    b, _ = watermark_counterparts(X.reshape(200, 784), y, info, random_state=7)
    c, _ = watermark_counterparts(X, y, info, random_state=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # another seed, other source images
    margins = np.concatenate([a[..., :8], a[..., 20:]], axis=-1)  # empty but for the marks
    assert 0.3 < margins.max() <= 0.5 + 1e-7  # marks at opacity 0.5


def test_uniform_budgets_let_every_counterpart_box_meet_its_image(fake_mnist):
    """The verification floor's known answer: a mark is at most the opacity (0.3), so two
    boxes of half-width eps meet wherever 2 eps >= 0.3, and never below that on these marks."""
    X, y = fake_mnist
    X_new, _, info = make_watermarked(X, y, random_state=5, return_info=True)
    X_other, _ = watermark_counterparts(X, y, info, random_state=5)
    assert boxes_intersect(X_new, 0.15, X_other, 0.15).all()
    gap = np.abs(X_new - X_other).reshape(200, -1).max(axis=1)  # the brighter mark's peak
    eps = float(np.median(gap)) / 2
    meet = boxes_intersect(X_new, eps, X_other, eps)
    np.testing.assert_array_equal(meet, gap <= 2 * eps)
    assert 0 < meet.mean() < 1  # faint and bright marks both occur
    # budgets that keep both margins' rows small (<= a quarter of the peak) separate every pair
    eps = np.full(X_new.shape, 0.5, np.float32)
    eps[:, :, :, :8] = eps[:, :, :, 20:] = 0.0
    assert not boxes_intersect(X_new, eps, X_other, eps).any()


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda info: {k: v for k, v in info.items() if k != "opacity"}, ValueError, "opacity"),
        (lambda info: dict(info, top=info.top[:-1]), ValueError, "info.top must hold 200"),
        (lambda info: dict(info, top=info.top + 21), ValueError, "info.top"),
        (lambda info: dict(info, column=info.column + 1), ValueError, "info.column"),
        (lambda info: dict(info, watermark=info.watermark * 2), ValueError, "info.watermark"),
        (lambda info: dict(info, watermark=info.watermark * 1.0), ValueError, "dtype float64"),
        (lambda info: dict(info, opacity=0.0), ValueError, "info.opacity"),
        (lambda info: dict(info, opacity="0.3"), TypeError, "info.opacity"),
        (lambda info: [1, 2], TypeError, "info must be the Bunch"),
    ],
)
def test_counterparts_reject_bad_info(fake_mnist, change, error, match):
    X, y = fake_mnist
    _, _, info = make_watermarked(X, y, random_state=0, return_info=True)
    with pytest.raises(error, match=match):
        watermark_counterparts(X, y, change(info))


def test_counterparts_reject_bad_data(fake_mnist):
    X, y = fake_mnist
    _, _, info = make_watermarked(X, y, random_state=0, return_info=True)
    with pytest.raises(ValueError, match="MNIST-sized"):
        watermark_counterparts(X[:, :, :27], y, info)
    with pytest.raises(ValueError, match="digit labels 0 to 9"):
        watermark_counterparts(X, y + 10, info)
    no_ones = np.where(y == 1, 2, y)
    with pytest.raises(ValueError, match="has no 1"):
        watermark_counterparts(X, no_ones, info)
