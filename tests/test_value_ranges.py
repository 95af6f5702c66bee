"""Data that are not in [0, 1]: 0-255 images, per-channel and per-feature ranges.

Every perturbation and corruption metric takes the data's valid range ``clip``;
corruptions are made in [0, 1] and mapped back, so the same images on another
scale get the same corruption; data outside the range get one warning; and the
default behaviour on [0, 1] data is unchanged, draw for draw.
"""

import contextlib
import hashlib
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.datasets import load_digits, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from robustsk.datasets import load_digits_images
from robustsk.metrics import CorruptionScorer, RPRScorer, corruption_accuracy, rpr_steps
from robustsk.perturb import (
    CORRUPTIONS,
    Corruption,
    GaussianNoise,
    RandomPixels,
    add_gaussian_noise,
    noise_ladder,
)


@pytest.fixture(scope="module")
def digits255():
    """Flat digits as 8-bit pixel values (0 to 255), split 1,200 / 200."""
    X, y = load_digits(return_X_y=True)
    X = X * (255 / 16)  # exact: the raw digits are integers 0..16
    return X[:1200], X[1200:1400], y[:1200], y[1200:1400]


@pytest.fixture(scope="module")
def wine():
    """Tabular data whose features live on very different scales (0.1 to 1,680)."""
    X, y = load_wine(return_X_y=True)
    return X.astype(np.float32), y


class _Centroids(ClassifierMixin, BaseEstimator):
    """Nearest class mean, without BLAS: the same predictions on any machine and thread count."""

    def fit(self, X, y):
        self.classes_, codes = np.unique(y, return_inverse=True)
        X = np.asarray(X, np.float64)
        self.centroids_ = np.stack([X[codes == k].mean(axis=0) for k in range(len(self.classes_))])
        return self

    def predict(self, X):
        d = ((np.asarray(X, np.float64)[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        return self.classes_[d.argmin(axis=1)]


@contextlib.contextmanager
def _no_warnings():
    """Any warning inside is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------- 0-255 images end to end


def test_corruption_accuracy_on_0_255_matches_the_same_model_on_0_1(digits255):
    X_train, X_test, y_train, y_test = digits255
    X_test, y_test = X_test[:100], y_test[:100]
    # a forest splits on thresholds, so trained on either scale it is the same model
    rf255 = RandomForestClassifier(30, random_state=0).fit(X_train, y_train)
    rf01 = RandomForestClassifier(30, random_state=0).fit(X_train / 255, y_train)
    assert rf255.score(X_test, y_test) == rf01.score(X_test / 255, y_test)
    kw = dict(image_shape=(1, 8, 8), random_state=0, return_per_corruption=True)
    mean01, per01 = corruption_accuracy(rf01, X_test / 255, y_test, **kw)
    with _no_warnings():
        mean255, per255 = corruption_accuracy(rf255, X_test, y_test, clip=(0, 255), **kw)
    assert list(per255) == list(CORRUPTIONS)
    for name in CORRUPTIONS:  # the same corruptions of the same images
        assert abs(per255[name] - per01[name]) <= 0.02, name
    assert abs(mean255 - mean01) <= 0.01 and mean01 > 0.5
    # the old behaviour, now with a warning: 0-255 data clipped to [0, 1] are destroyed
    with pytest.warns(UserWarning, match=r"clip=\(0.0, 1.0\) \(the default\)") as record:
        broken = corruption_accuracy(rf255, X_test, y_test, image_shape=(1, 8, 8), random_state=0)
    assert broken < mean255 - 0.3
    assert sum("outside the valid range" in str(w.message) for w in record) == 1  # once
    scorer = CorruptionScorer(["fog", "contrast"], image_shape=(1, 8, 8), clip=(0, 255))
    two = ["fog", "contrast"]
    assert scorer(rf255, X_test, y_test) == corruption_accuracy(
        rf01, X_test / 255, y_test, corruptions=two, image_shape=(1, 8, 8), random_state=0
    )
    assert "clip=(0, 255)" in repr(scorer)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_every_corruption_is_the_same_on_the_0_255_scale(name):
    X01 = load_digits_images(return_X_y=True)[0][:4].astype(np.float64)  # (4, 1, 8, 8)
    out01 = Corruption(name, 3, random_state=0)(X01)
    out255 = Corruption(name, 3, clip=(0, 255), random_state=0)(X01 * 255)
    np.testing.assert_allclose(out255, out01 * 255, rtol=0, atol=1e-9)
    assert out255.min() >= 0 and out255.max() <= 255


def test_corruption_with_per_channel_bounds_maps_each_channel():
    unit = np.random.default_rng(0).random((3, 3, 8, 8))
    low = np.array([-2.0, 0.0, 10.0]).reshape(3, 1, 1)
    high = np.array([2.0, 255.0, 11.0]).reshape(3, 1, 1)
    X = unit * (high - low) + low  # e.g. per-channel standardized images
    for name in ("contrast", "fog", "gaussian_noise"):
        out = Corruption(name, 2, clip=(low, high), random_state=0)(X)
        ref = Corruption(name, 2, random_state=0)(unit) * (high - low) + low
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9)
        assert ((out >= low) & (out <= high)).all()


def test_gaussian_noise_in_0_255_is_not_clipped_at_1():
    X = np.full((50, 64), 128.0, dtype=np.float32)
    with _no_warnings():
        out = GaussianNoise(0.1 * 255, clip=(0, 255), random_state=0)(X)
    assert abs(float((out - X).std()) - 25.5) < 1.0  # sigma is in the data's units
    assert out.min() >= 0 and out.max() <= 255 and out.max() > 150


# ---------------------------------------------------------------- the warning


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianNoise(0.1),
        lambda: RandomPixels(4),
        lambda: Corruption("contrast", 2),
    ],
    ids=["GaussianNoise", "RandomPixels", "Corruption"],
)
def test_a_perturbation_warns_once_about_data_outside_its_range(make):
    X = load_digits_images(return_X_y=True)[0][:8] * 255  # (8, 1, 8, 8), 0-255
    p = make()
    with pytest.warns(UserWarning) as record:
        for _ in range(3):  # three batches, one warning
            p(X)
    msgs = [str(w.message) for w in record if "outside the valid range" in str(w.message)]
    assert len(msgs) == 1
    assert type(p).__name__ in msgs[0] and "clip=(0.0, 1.0)" in msgs[0]
    assert "clip=(0, 255)" in msgs[0] and "min(axis=0)" in msgs[0]  # how to pass clip
    assert record[0].filename == __file__  # points at the caller
    with pytest.warns(UserWarning, match="outside the valid range"):
        make()(X)  # another object warns again
    with _no_warnings():  # in range: silent
        type(p)(**{**p.get_params(), "clip": (0, 255)})(X)
        make()(X / 255)


def test_rpr_warns_once_per_call_also_in_parallel(digits255):
    X_train, X_test, y_train, y_test = digits255
    model = _Centroids().fit(X_train / 255, y_train)
    with pytest.warns(UserWarning) as record:
        rpr_steps(model, X_test[:60], y_test[:60], max_steps=3, random_state=0)
        rpr_steps(
            model, X_test[:60], y_test[:60], max_steps=3, random_state=0, n_jobs=1, chunk_size=10
        )  # six blocks, one warning
    msgs = [str(w.message) for w in record if "outside the valid range" in str(w.message)]
    assert len(msgs) == 2 and "RandomPixels" in msgs[0]
    assert all(w.filename == __file__ for w in record)
    with _no_warnings():
        rpr_steps(model, X_test[:20], y_test[:20], max_steps=3, random_state=0, clip=(0, 255))


def test_noise_ladder_warns_and_scales(digits255):
    x = digits255[1][0]
    with pytest.warns(UserWarning, match="noise_ladder"):
        noise_ladder(x, [0.0, 0.5], random_state=0)
    with _no_warnings():
        ladder = noise_ladder(x, [0.0, 0.5 * 255], clip=(0, 255), random_state=0)
    np.testing.assert_allclose(ladder[0], x, rtol=1e-6)
    assert ladder.max() <= 255 and ladder.min() >= 0 and ladder[1].max() > 1


# ------------------------------------------------------------ per-feature ranges


@pytest.mark.parametrize("value", RandomPixels.VALUES)
def test_random_pixels_draws_inside_each_features_range(wine, value):
    X, _ = wine
    low, high = X.min(axis=0), X.max(axis=0)  # 0.13..0.66 up to 278..1680
    out = RandomPixels(3, value=value, clip=(low, high), random_state=0)(X)
    assert ((out >= low) & (out <= high)).all()
    changed = out != X
    assert (changed.sum(axis=1) <= 3).all() and changed.sum() > len(X)
    rows, cols = np.nonzero(changed)
    new = out[rows, cols]
    if value == "uniform":  # spread over the feature's own range, not [0, 1]
        rel = (new - low[cols]) / (high[cols] - low[cols])
        assert 0.35 < rel.mean() < 0.65 and rel.std() > 0.2
        assert (new[high[cols] > 100] > 1).all()
    elif value == "salt_and_pepper":
        assert ((new == low[cols]) | (new == high[cols])).all()
        assert (new == low[cols]).any() and (new == high[cols]).any()
    elif value == "invert":
        np.testing.assert_allclose(new, high[cols] + low[cols] - X[rows, cols], rtol=1e-5)
    else:
        np.testing.assert_array_equal(new, (high if value == "white" else low)[cols])


def test_per_feature_bounds_equal_to_scalars_draw_the_same_stream():
    X = load_digits_images(return_X_y=True)[0][:10]  # (10, 1, 8, 8)
    ones, zeros = np.ones((1, 8, 8)), np.zeros((1, 8, 8))
    for value in RandomPixels.VALUES:
        a = RandomPixels(5, value=value, random_state=0)(X)
        b = RandomPixels(5, value=value, clip=(zeros, ones), random_state=0)(X)
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        GaussianNoise(0.3, random_state=0)(X), GaussianNoise(0.3, clip=(0, ones), random_state=0)(X)
    )
    np.testing.assert_array_equal(
        Corruption("fog", random_state=0)(X), Corruption("fog", clip=(zeros, 1), random_state=0)(X)
    )


def test_random_pixels_per_channel_bounds_on_images():
    X = np.random.default_rng(0).random((20, 3, 6, 6)).astype(np.float32)
    low = np.array([0.0, -1.0, 0.5], np.float32).reshape(3, 1, 1)
    high = np.array([1.0, 0.0, 2.0], np.float32).reshape(3, 1, 1)
    X = np.clip(X * 2 - 0.5, low, high)
    out = RandomPixels(6, clip=(low, high), random_state=0)(X)
    assert ((out >= low) & (out <= high)).all()
    locations = (out != X).any(axis=1).reshape(20, -1).sum(axis=1)
    assert (locations <= 6).all() and (locations > 0).all()


def test_gaussian_noise_and_ladder_clip_per_feature(wine):
    X, _ = wine
    low, high = X.min(axis=0), X.max(axis=0)
    with _no_warnings():
        out = GaussianNoise(50.0, clip=(low, high), random_state=0)(X)
        ladder = noise_ladder(X[0], [0.0, 100.0], clip=(low, high), random_state=0)
    assert ((out >= low) & (out <= high)).all()
    assert (out == low).any() and (out == high).any()  # the small features hit their bounds
    assert ((ladder >= low) & (ladder <= high)).all()
    t = add_gaussian_noise(
        torch.from_numpy(X), 50.0, clip=(low, high), generator=torch.Generator().manual_seed(0)
    )
    np.testing.assert_array_equal(t.numpy(), out)


class _Recorder(TransformerMixin, BaseEstimator):
    """A pipeline step that keeps every batch it is shown (the pipeline's raw input)."""

    def fit(self, X, y=None):
        self.seen_ = []
        return self

    def transform(self, X):
        self.seen_.append(np.array(X))
        return X


def test_rpr_perturbs_a_pipelines_raw_input_inside_per_feature_ranges(wine):
    X, y = wine
    low, high = X.min(axis=0), X.max(axis=0)
    recorder = _Recorder()
    model = make_pipeline(recorder, StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    recorder.seen_.clear()
    steps = rpr_steps(
        model,
        X,
        y,
        perturbation=RandomPixels(2, clip=(low, high)),
        max_steps=20,
        random_state=0,
        batch_size=500,
    )
    rows = np.concatenate(recorder.seen_)  # what the pipeline received: raw, unscaled rows
    assert rows.shape[0] > len(X) and rows.shape[1] == X.shape[1]
    assert ((rows >= low) & (rows <= high)).all()
    assert (rows[:, 12] > 100).all()  # proline, in the hundreds: raw units, not standardized
    dist = np.abs(rows[:, None, :] - X[None, :, :]) > 0  # (rows, points, features)
    assert (dist.sum(axis=2).min(axis=1) <= 2).all()  # each row: a point with <= 2 features altered
    assert 0 < (steps == 20).mean() < 1
    # the same through clip=, and through the scorer
    again = rpr_steps(model, X, y, clip=(low, high), max_steps=20, random_state=0, batch_size=500)
    assert again.shape == steps.shape
    scorer = RPRScorer(max_steps=20, clip=(low, high), batch_size=500)
    assert scorer(model, X, y) == (again == 20).mean()


def test_rpr_is_the_same_on_any_scale_given_the_range(wine):
    X, y = wine
    low, high = X.min(axis=0), X.max(axis=0)
    unit = ((X - low) / (high - low)).astype(np.float32)
    clf = LogisticRegression(max_iter=500).fit(unit, y)
    raw_model = make_pipeline(FunctionTransformer(lambda Z: (Z - low) / (high - low)), clf)
    kw = dict(max_steps=40, random_state=0, perturbation=None)
    a = rpr_steps(clf, unit, y, **kw)
    b = rpr_steps(raw_model, X, y, clip=(low, high), **kw)
    assert (a == b).mean() >= 0.97  # identical draws; rounding may flip a borderline case
    assert 0.02 < (a == 40).mean() < 0.9 and a.mean() > 5


# ------------------------------------------------------------- bad ranges


@pytest.mark.parametrize(
    "clip, error, match",
    [
        ((0,), TypeError, "clip must be None or a pair"),
        ("ab", TypeError, "clip must be None or a pair"),
        ((np.zeros(3), np.ones(4)), ValueError, r"clip: low of shape \(3,\) and high of shape"),
        ((np.zeros(3), [1, 0, 1]), ValueError, r"clip must have low < high .* index \(1,\)"),
        ((np.zeros(3), [1, np.inf, 1]), ValueError, "clip must have finite bounds"),
        ((np.zeros(5), np.ones(5)), ValueError, r"clip arrays of shape \(5,\) must broadcast"),
        ((1, 0), ValueError, "clip must be a finite pair with low < high"),
    ],
)
def test_bad_ranges_name_the_parameter(clip, error, match):
    X = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    for p in (GaussianNoise(0.1, clip=clip), RandomPixels(1, clip=clip)):
        with pytest.raises(error, match=match):
            p(X)
    with pytest.raises(error, match=match):
        noise_ladder(X[0], [0.1], clip=clip)


def test_schemes_that_need_a_range_refuse_none_and_say_what_to_pass(digits255):
    X_train, X_test, y_train, y_test = digits255
    images = X_test[:2].reshape(2, 1, 8, 8)
    for p in (RandomPixels(clip=None), Corruption("fog", clip=None)):
        with pytest.raises(ValueError, match=r"clip must be a pair .* clip=\(0, 255\)"):
            p(images)
    assert GaussianNoise(0.1, clip=None)(images).max() > 255 - 1  # None: no clipping
    model = RandomForestClassifier(5, random_state=0).fit(X_train, y_train)
    with pytest.raises(ValueError, match="clip must be a pair .* corruption_accuracy"):
        corruption_accuracy(model, X_test, y_test, image_shape=(1, 8, 8), clip=None)
    with pytest.raises(ValueError, match="clip must be a pair .* default perturbation"):
        rpr_steps(model, X_test, y_test, clip=None)


def test_corruption_accuracy_points_flat_input_to_image_shape(digits255):
    X_train, X_test, y_train, y_test = digits255
    model = RandomForestClassifier(5, random_state=0).fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"X is flat.*image_shape=\(1, 8, 8\)"):
        corruption_accuracy(model, X_test, y_test, clip=(0, 255))
    rgb = np.zeros((2, 3 * 32 * 32))
    with pytest.raises(ValueError, match=r"image_shape=\(3, 32, 32\)"):
        corruption_accuracy(model, rgb, [0, 0])
    with pytest.raises(ValueError, match=r"image_shape must be .* = 64"):
        corruption_accuracy(model, X_test, y_test, image_shape=(1, 7, 8), clip=(0, 255))
    with pytest.raises(TypeError, match="image_shape must be a tuple of ints"):
        corruption_accuracy(model, X_test, y_test, image_shape=(1, 8.0, 8), clip=(0, 255))
    with pytest.raises(ValueError, match=r"clip arrays of shape \(8,\) must broadcast .* \(64,\)"):
        corruption_accuracy(
            model, X_test, y_test, image_shape=(1, 8, 8), clip=(np.zeros(8), np.ones(8) * 255)
        )


def test_rpr_clip_argument_is_checked(digits255):
    X_train, X_test, y_train, y_test = digits255
    model = _Centroids().fit(X_train / 255, y_train)
    X, y = X_test[:10] / 255, y_test[:10]
    with pytest.raises(ValueError, match="clip must be 'auto', None or a pair"):
        rpr_steps(model, X, y, clip="data")
    with pytest.raises(ValueError, match=r"clip=\(0, 255\) differs from perturbation.clip"):
        rpr_steps(model, X, y, clip=(0, 255), perturbation=RandomPixels(4))
    with pytest.raises(ValueError, match=r"clip arrays of shape \(3,\)"):
        rpr_steps(model, X, y, clip=(np.zeros(3), np.ones(3)), perturbation=lambda Z: Z)
    same = rpr_steps(model, X, y, clip=(0, 1), perturbation=RandomPixels(4), random_state=0)
    np.testing.assert_array_equal(
        same, rpr_steps(model, X, y, perturbation=RandomPixels(4), random_state=0)
    )


# ---------------------------------------------- default behaviour, draw for draw

# Digests of outputs computed with the code as it was before valid ranges other than a
# scalar pair existed (same seeds, same inputs). Default behaviour on [0, 1] data must
# stay bit-identical: a changed digest means a changed stream or formula.
_BEFORE = {
    "add_gauss": "f6adbb02d33b8768:float32",
    "c_brightness": "4676cc645e8574f9:float32",
    "c_contrast": "70d3a6cf8488a832:float32",
    "c_custom": "d809d258149c3c8e:float32",
    "c_defocus_blur": "d1f58e1cd4868200:float32",
    "c_elastic_transform": "ce431db422daf345:float32",
    "c_fog": "f0aaedf169039019:float32",
    "c_frost": "51129092fc776fd6:float32",
    "c_gaussian_noise": "a0ae509ae32e0b80:float32",
    "c_glass_blur": "a988e092d04cadda:float32",
    "c_impulse_noise": "237d7d5fc8e83f09:float32",
    "c_jpeg_compression": "38b9994bbdea3f54:float32",
    "c_motion_blur": "c059e6f0ff0a71c5:float32",
    "c_pixelate": "93b1a09c699bce56:float32",
    "c_rgb_contrast": "e8313366b8af73fa:float32",
    "c_rgb_fog": "5866dab89ef34d53:float32",
    "c_rgb_gaussian_noise": "e3f28b5d9198fb36:float32",
    "c_shot_noise": "fba191ed9c5651e3:float32",
    "c_snow": "025597e069a2173a:float32",
    "c_squeezed": "747e30215b646c66:float32",
    "c_zoom_blur": "d367f177072f9284:float32",
    "gauss": "161c7daea557dfb6:float32",
    "gauss_none": "7826435b5cc74170:float32",
    "gauss_per_sample": "4ed6c88cc1f867d9:float32",
    "gauss_tensor": "f6adbb02d33b8768:float32",
    "ladder": "4abd247532a0a669:float32",
    "ladder_default": "4a1fc974111dd2d0:float32",
    "rp_black_False_flat": "80a05521cc0387b3:float32",
    "rp_black_False_img": "1920316f96fffeeb:float32",
    "rp_black_True_flat": "0c42e07da10833de:float32",
    "rp_black_True_img": "3e89cb57bb6ed7cd:float32",
    "rp_custom": "90cf41cba8c82506:float32",
    "rp_invert_False_flat": "1866212412c6c4a4:float32",
    "rp_invert_False_img": "32e8e263495c2ac1:float32",
    "rp_invert_True_flat": "33dea019c705971e:float32",
    "rp_invert_True_img": "383c7b11cfe0b443:float32",
    "rp_salt_and_pepper_False_flat": "f868a873dbfdbcb0:float32",
    "rp_salt_and_pepper_False_img": "c2bd860dd8f06be8:float32",
    "rp_salt_and_pepper_True_flat": "eaa0a270dfcd17b4:float32",
    "rp_salt_and_pepper_True_img": "541868b2d708723a:float32",
    "rp_uniform_False_flat": "e32bb89271d5002d:float32",
    "rp_uniform_False_img": "a682ac20b61235ad:float32",
    "rp_uniform_True_flat": "cb97b7dbdbe4a85d:float32",
    "rp_uniform_True_img": "8190d6b46e563ffa:float32",
    "rp_white_False_flat": "ebb405ee46e4dafc:float32",
    "rp_white_False_img": "8b247e01140d9395:float32",
    "rp_white_True_flat": "9ddc74961d30db9b:float32",
    "rp_white_True_img": "81951271aec77a4e:float32",
    "rpr": "244289f4ad005a4e:int64",
    "rpr_jobs": "7c51727b2cfd4d2b:int64",
    "rpr_pert": "8653471d5bfc4511:int64",
}
_BEFORE_CORRUPTION_ACCURACY = {
    "brightness": 0.915,
    "contrast": 0.55,
    "defocus_blur": 0.15,
    "elastic_transform": 0.93,
    "fog": 0.62,
    "frost": 0.835,
    "gaussian_noise": 0.915,
    "glass_blur": 0.345,
    "impulse_noise": 0.875,
    "jpeg_compression": 0.925,
    "motion_blur": 0.235,
    "pixelate": 0.375,
    "shot_noise": 0.885,
    "snow": 0.89,
    "zoom_blur": 0.835,
}


def _digest(a):
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16] + f":{a.dtype}"


def test_default_behaviour_on_0_1_data_is_unchanged_draw_for_draw():
    X, y = load_digits_images(return_X_y=True)
    imgs = X[:6]
    now = {}
    with _no_warnings():
        now["gauss"] = _digest(GaussianNoise(0.1, random_state=0)(imgs))
        now["gauss_per_sample"] = _digest(
            GaussianNoise(np.linspace(0, 0.5, 6), random_state=1)(imgs)
        )
        now["gauss_none"] = _digest(GaussianNoise(0.3, clip=None, random_state=2)(imgs))
        now["gauss_tensor"] = _digest(GaussianNoise(0.2, random_state=0)(torch.from_numpy(imgs)))
        now["add_gauss"] = _digest(
            add_gaussian_noise(
                torch.from_numpy(imgs), 0.2, generator=torch.Generator().manual_seed(0)
            )
        )
        now["ladder"] = _digest(noise_ladder(imgs[0], [0.0, 0.1, 0.5], random_state=0))
        now["ladder_default"] = _digest(noise_ladder(imgs[1], random_state=3))
        for value in RandomPixels.VALUES:
            for replace in (True, False):
                rp = RandomPixels(6, value=value, replace=replace, random_state=0)
                now[f"rp_{value}_{replace}_img"] = _digest(rp(imgs))
                rp = RandomPixels(value=value, replace=replace, random_state=0)
                now[f"rp_{value}_{replace}_flat"] = _digest(rp(imgs.reshape(6, -1)))
        now["rp_custom"] = _digest(
            RandomPixels(5, clip=(-1.0, 2.0), random_state=0)(imgs.reshape(6, -1) * 3 - 1)
        )
        for name in CORRUPTIONS:
            now[f"c_{name}"] = _digest(Corruption(name, 3, random_state=0)(imgs[:4]))
        rgb = np.random.default_rng(0).random((2, 3, 8, 8)).astype(np.float32)
        for name in ("fog", "contrast", "gaussian_noise"):
            now[f"c_rgb_{name}"] = _digest(Corruption(name, 2, random_state=0)(rgb))
        now["c_custom"] = _digest(
            Corruption("fog", 2, clip=(-1, 1), random_state=0)(imgs[:4] * 2 - 1)
        )
        now["c_squeezed"] = _digest(Corruption("brightness", 2, random_state=0)(imgs[:4, 0]))
        flat = X.reshape(len(X), -1)
        clf = _Centroids().fit(flat[:1000], y[:1000])
        mean, per = corruption_accuracy(
            clf,
            flat[1000:1200],
            y[1000:1200],
            image_shape=(1, 8, 8),
            random_state=0,
            return_per_corruption=True,
        )
        Xt, yt = flat[1000:1200], y[1000:1200]
        now["rpr"] = _digest(rpr_steps(clf, Xt, yt, max_steps=50, random_state=0))
        now["rpr_jobs"] = _digest(
            rpr_steps(
                clf, Xt[:100], yt[:100], max_steps=30, random_state=0, n_jobs=1, chunk_size=40
            )
        )
        now["rpr_pert"] = _digest(
            rpr_steps(
                clf,
                Xt[:100],
                yt[:100],
                perturbation=RandomPixels(4, value="salt_and_pepper"),
                max_steps=30,
                random_state=1,
            )
        )
    changed = sorted(k for k in _BEFORE if now[k] != _BEFORE[k])
    assert not changed, f"outputs changed for {changed}"
    assert per == _BEFORE_CORRUPTION_ACCURACY
    assert mean == 0.6853333333333335
