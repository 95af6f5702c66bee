import gzip
import struct

import numpy as np
import pytest

from robustsk.datasets import load_digits_images, load_mnist, make_corrupted, read_idx
from robustsk.perturb import CORRUPTIONS


def _write_idx(path, array, compress):
    codes = {np.uint8: 0x08}
    header = struct.pack(">BBBB", 0, 0, codes[array.dtype.type], array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    raw = header + array.astype(">u1").tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


@pytest.fixture
def mnist_folder(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=12, dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte", images, compress=True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, compress=False)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:5], compress=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:5], compress=True)
    return tmp_path, images, labels


def test_load_digits_images():
    data = load_digits_images()
    assert data.data.shape == (1797, 1, 8, 8) and data.data.dtype == np.float32
    assert data.data.min() == 0 and data.data.max() == 1
    assert set(np.unique(data.target)) == set(range(10))


def test_load_mnist_reads_plain_and_gzip(mnist_folder):
    folder, images, labels = mnist_folder
    X, y = load_mnist(folder, return_X_y=True)
    assert X.shape == (12, 1, 28, 28) and X.dtype == np.float32
    np.testing.assert_allclose(X[:, 0] * 255, images, atol=1e-3)
    np.testing.assert_array_equal(y, labels)
    test = load_mnist(folder, subset="test", n_samples=3)
    assert test.data.shape == (3, 1, 28, 28)


def test_load_mnist_names_the_missing_file(mnist_folder):
    folder, *_ = mnist_folder
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(folder, subset="test")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_mnist(folder / "nowhere")
    with pytest.raises(ValueError, match="subset must be one of"):
        load_mnist(folder, subset="valid")


def test_read_idx_rejects_other_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an idx file"):
        read_idx(bad)


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
