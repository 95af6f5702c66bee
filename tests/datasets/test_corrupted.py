import numpy as np
import pytest

from robustsk.datasets import load_digits_images, make_corrupted
from robustsk.perturb import CORRUPTIONS


def test_make_corrupted_all_and_reproducible():
    X, _ = load_digits_images(return_X_y=True)
    sets = make_corrupted(X[:8], random_state=0)
    assert list(sets) == list(CORRUPTIONS)
    assert all(v.shape == (8, 1, 8, 8) and v.dtype == np.float32 for v in sets.values())
    again = make_corrupted(X[:8], ["snow"], random_state=0, n_jobs=2)
    # the seed of a corruption depends on its position in the request, not on n_jobs
    np.testing.assert_array_equal(
        again["snow"], make_corrupted(X[:8], ["snow"], random_state=0)["snow"]
    )


def test_make_corrupted_bad_arguments():
    X = np.zeros((2, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="corruptions must be"):
        make_corrupted(X, ["rain"])
    with pytest.raises(ValueError, match="severity must be in"):
        make_corrupted(X, severity=0)


def test_make_corrupted_matches_each_corruption_on_unit_data():
    # [0, 1] data: every set is exactly what Corruption gives with the seed drawn for it
    from robustsk.perturb import Corruption
    from robustsk.utils import numpy_generator

    X, _ = load_digits_images(return_X_y=True)
    names = ["gaussian_noise", "impulse_noise", "fog", "contrast"]
    sets = make_corrupted(X[:5], names, severity=2, random_state=7)
    seeds = numpy_generator(7).integers(2**31 - 1, size=len(names))
    for name, seed in zip(names, seeds):
        expected = Corruption(name, 2, random_state=int(seed))(X[:5])
        assert sets[name].dtype == np.float32
        np.testing.assert_array_equal(sets[name], expected)


def test_make_corrupted_on_another_range_warns_once_and_keeps_the_scale():
    import warnings

    import torch

    X, _ = load_digits_images(return_X_y=True)
    X = X[:4]
    X255 = X * np.float32(255.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_corrupted(X255, random_state=0)  # 15 corruptions, default clip (0, 1)
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(msgs) == 1 and "make_corrupted" in msgs[0] and "clip=(0, 255)" in msgs[0]
    assert caught[0].filename == __file__  # points at the caller

    names = ["gaussian_noise", "fog", "brightness", "pixelate"]
    unit = make_corrupted(X, names, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inside its range: no warning
        scaled = make_corrupted(X255, names, clip=(0, 255), random_state=1)
        per_channel = make_corrupted(
            X255, names, clip=(np.zeros((1, 1, 1)), np.full((1, 1, 1), 255.0)), random_state=1
        )
        rounded = make_corrupted(X255.round(), names, clip=(0, 255), random_state=1)
        as_uint8 = make_corrupted(
            X255.round().astype(np.uint8), names, clip=(0, 255), random_state=1
        )
        as_tensor = make_corrupted(torch.from_numpy(X255), names, clip=(0, 255), random_state=1)
    for name in names:
        assert scaled[name].dtype == np.float32 and scaled[name].max() > 1.5  # not clipped to 1
        np.testing.assert_allclose(scaled[name], unit[name] * 255.0, rtol=1e-5, atol=1e-3)
        np.testing.assert_array_equal(per_channel[name], scaled[name])
        assert isinstance(as_tensor[name], torch.Tensor) and as_tensor[name].dtype == torch.float32
        np.testing.assert_array_equal(as_tensor[name].numpy(), scaled[name])
        assert as_uint8[name].dtype == np.uint8  # rounded back to 8-bit values
        assert np.abs(as_uint8[name] - rounded[name].astype(np.float64)).max() <= 0.5 + 1e-3


def test_make_corrupted_refuses_a_missing_or_misshapen_range():
    X = np.zeros((2, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="clip must be a pair"):
        make_corrupted(X, ["fog"], clip=None)
    with pytest.raises(ValueError, match="broadcast to the shape of one sample"):
        make_corrupted(X, ["fog"], clip=(np.zeros(3), np.ones(3)))
