import gzip
import struct

import numpy as np
import pytest

from robustsk.datasets import load_fashion_mnist, load_mnist, read_idx


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


def _write_gz_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_the_gzipped_idx_files_with_class_names(tmp_path):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    _write_gz_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _write_gz_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(7) % 10)
    bunch = load_fashion_mnist(tmp_path)
    assert bunch.data.shape == (7, 1, 28, 28) and bunch.target.tolist() == list(range(7))
    assert bunch.data[2, 0, 5, 6] == np.float32(images[2, 5, 6]) / np.float32(255)
    assert bunch.target_names[0] == "T-shirt/top" and bunch.target_names[9] == "Ankle boot"
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_fashion_mnist(tmp_path, subset="test")
