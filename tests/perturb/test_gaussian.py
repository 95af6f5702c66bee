import numpy as np
import pytest
import torch

from robustsk.perturb import (
    GaussianNoise,
    add_gaussian_noise,
)


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
