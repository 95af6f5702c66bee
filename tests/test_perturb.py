import numpy as np
import pytest
import torch

from robustsk.perturb import (
    CORRUPTIONS,
    Corruption,
    GaussianNoise,
    RandomPixels,
    add_gaussian_noise,
    make_sigma_ladder,
    noise_ladder,
)


@pytest.fixture
def images():
    return np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)


# ----------------------------------------------------------------- Gaussian
def test_gaussian_noise_statistics_and_range():
    X = np.full((200, 100), 0.5, dtype=np.float32)
    out = GaussianNoise(0.1, random_state=0)(X)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert abs(float((out - X).std()) - 0.1) < 0.005
    assert out.min() >= 0 and out.max() <= 1
    wide = GaussianNoise(2.0, random_state=0)(X)
    assert wide.min() == 0 and wide.max() == 1  # clipped to the valid range


def test_gaussian_noise_per_sample_sigma():
    X = np.full((3, 1000), 0.5, dtype=np.float32)
    out = GaussianNoise([0.0, 0.05, 0.2], clip=None, random_state=0)(X)
    np.testing.assert_array_equal(out[0], X[0])
    stds = (out - X).std(axis=1)
    assert abs(stds[1] - 0.05) < 0.01 and abs(stds[2] - 0.2) < 0.02


def test_gaussian_noise_seeded_stream_and_types():
    X = np.full((4, 10), 0.5, dtype=np.float32)
    a, b = GaussianNoise(0.1, random_state=3), GaussianNoise(0.1, random_state=3)
    first, second = a(X), a(X)
    np.testing.assert_array_equal(first, b(X))  # same seed, same stream
    assert not np.array_equal(first, second)  # the stream advances
    np.testing.assert_array_equal(a(X, random_state=7), b(X, random_state=7))
    t = torch.full((4, 10), 0.5)
    out = GaussianNoise(0.1, random_state=0)(t)
    assert isinstance(out, torch.Tensor) and out.device == t.device
    assert torch.equal(t, torch.full((4, 10), 0.5))  # input untouched


def test_add_gaussian_noise_tensor_sigma_broadcasts_over_images():
    x = torch.full((2, 1, 4, 4), 0.5)
    out = add_gaussian_noise(
        x, torch.tensor([0.0, 0.3]), clip=(0, 1), generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(out[0], x[0]) and not torch.equal(out[1], x[1])


@pytest.mark.parametrize(
    "sigma, err", [(-0.1, ValueError), ("a", TypeError), (float("nan"), ValueError)]
)
def test_gaussian_noise_bad_sigma(sigma, err):
    with pytest.raises(err, match="sigma"):
        GaussianNoise(sigma)(np.zeros((2, 3)))


def test_gaussian_noise_bad_inputs():
    with pytest.raises(ValueError, match="sigma.*shape"):
        GaussianNoise([0.1, 0.2])(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        GaussianNoise(0.1)(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="clip"):
        GaussianNoise(0.1, clip=(1, 0))(np.zeros((2, 3)))


# ------------------------------------------------------------- RandomPixels
def test_random_pixels_changes_at_most_k_pixels(images):
    out = RandomPixels(k=5, random_state=0)(images)
    changed = (out != images).reshape(len(images), -1).sum(axis=1)
    assert (changed <= 5).all() and (changed >= 1).all()
    assert out.min() >= 0 and out.max() <= 1


def test_random_pixels_default_k_is_sqrt_of_pixels():
    assert RandomPixels().n_draws(784) == 28
    assert RandomPixels().n_draws(64) == 8
    X = np.zeros((50, 1, 28, 28), dtype=np.float32)
    changed = (RandomPixels(random_state=0)(X) != 0).reshape(50, -1).sum(axis=1)
    assert changed.max() <= 28 and changed.mean() > 20  # up to 28, few collisions


def test_random_pixels_rgb_pixel_is_a_location():
    X = np.zeros((20, 3, 8, 8), dtype=np.float32)
    out = RandomPixels(k=3, random_state=0)(X)
    locations = (out != 0).any(axis=1).reshape(20, -1).sum(axis=1)
    assert (locations <= 3).all()


def test_random_pixels_bad_k():
    with pytest.raises(ValueError, match="k must be in"):
        RandomPixels(k=0)(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="k must be an int"):
        RandomPixels(k=2.5)(np.zeros((2, 4)))


# ---------------------------------------------------------------- Corruption
@pytest.mark.parametrize("shape", [(3, 1, 8, 8), (3, 1, 28, 28), (3, 3, 32, 32), (3, 8, 8)])
@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_shape_range_and_seed(name, shape):
    X = np.random.default_rng(1).random(shape).astype(np.float32)
    out = Corruption(name, severity=3, random_state=0)(X)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert not np.allclose(out, X)
    np.testing.assert_array_equal(out, Corruption(name, severity=3, random_state=0)(X))


def test_corruption_respects_a_custom_range_and_leaves_numpy_state():
    X = np.random.default_rng(1).random((2, 1, 8, 8)) * 2 - 1  # range [-1, 1]
    state = np.random.get_state()[1].copy()
    out = Corruption("fog", 2, clip=(-1, 1), random_state=0)(X)
    assert out.min() >= -1 and out.max() <= 1
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_corruption_severity_increases_damage():
    X = np.random.default_rng(1).random((20, 1, 28, 28)).astype(np.float32)
    damage = [
        np.abs(Corruption("gaussian_noise", s, random_state=0)(X) - X).mean() for s in (1, 3, 5)
    ]
    assert damage[0] < damage[1] < damage[2]


def test_corruption_bad_arguments():
    X = np.zeros((2, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="name must be one of"):
        Corruption("rain")(X)
    with pytest.raises(ValueError, match="severity must be in"):
        Corruption("fog", severity=6)(X)
    with pytest.raises(ValueError, match="images of shape"):
        Corruption("fog")(np.zeros((2, 64), dtype=np.float32))


# -------------------------------------------------------------------- ladder
def test_sigma_ladder_defaults_match_the_protocol():
    ladder = make_sigma_ladder()
    assert len(ladder) == 91 and ladder[0] == 0 and ladder[-1] == 0.9
    np.testing.assert_allclose(np.diff(ladder), 0.01)


def test_noise_ladder_is_monotone_in_distance():
    x = np.full((1, 8, 8), 0.5, dtype=np.float32)
    sigmas = [0.0, 0.05, 0.1, 0.2]
    ladder = noise_ladder(x, sigmas, clip=None, random_state=0)
    assert ladder.shape == (4, 1, 8, 8)
    np.testing.assert_array_equal(ladder[0], x)
    dist = np.abs(ladder - x).reshape(4, -1).sum(axis=1)
    assert np.all(np.diff(dist) > 0)
    # one noise pattern scaled: rung 3 minus x is twice rung 2 minus x
    np.testing.assert_allclose(ladder[3] - x, 2 * (ladder[2] - x), atol=1e-6)


def test_noise_ladder_bad_sigmas():
    with pytest.raises(ValueError, match="sigmas"):
        noise_ladder(np.zeros(4), [0.1, -0.2])
    with pytest.raises(ValueError, match="sigmas"):
        noise_ladder(np.zeros(4), [])
