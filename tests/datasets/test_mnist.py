import gzip
import re
import struct
import tracemalloc

import numpy as np
import pytest

from robustsk.datasets import load_fashion_mnist, load_mnist, read_idx
from tests.datasets._hostile import (
    check_failure,
    check_images,
    gzip_bomb,
    idx_bytes,
    memory_limit,
    mutations,
    overwrite,
    traced_peak,
)


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


# --- hostile idx files: sizes checked before allocating, exactly the declared bytes read -


def _header(*dims, code=0x08):
    return struct.pack(">BBBB", 0, 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def _traced(func, *args):
    tracemalloc.start()
    try:
        return traced_peak(func, *args)
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_declaring_10_images_is_refused_with_bounded_memory(tmp_path):
    # 10 images, then 2 GiB of zeros: a 2.1 MB file that the reader used to inflate whole
    # (2.1 GB peak for 1 GiB of zeros).
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip_bomb(_header(10, 28, 28) + images.tobytes(), 2048))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_header(10) + bytes(10))
    size = bomb.stat().st_size
    outcome, peak = _traced(load_mnist, tmp_path)
    assert isinstance(outcome, ValueError) and str(bomb) in str(outcome)
    assert "holds more than it declares" in str(outcome)
    assert peak < size  # well under 50 x the file's size: the zeros are never inflated
    # the same stream without the zeros is read, bit for bit
    bomb.write_bytes(gzip_bomb(_header(10, 28, 28) + images.tobytes(), 0))
    X, _ = load_mnist(tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X[:, 0] * np.float32(255), images)


def test_gzip_bomb_builder_writes_valid_gzip():
    prefix = _header(1, 2, 2) + b"\x01\x02\x03\x04"
    assert gzip.decompress(gzip_bomb(prefix, 3)) == prefix + bytes(3 << 20)


_PLAIN = [  # (why, the file's bytes, what the message says)
    ("empty", b"", "bad magic number"),
    ("bad magic", b"\x01\x00\x08\x01" + bytes(8), "bad magic number"),
    ("unknown type", b"\x00\x00\x07\x01" + bytes(8), "bad magic number"),
    ("no dimensions", b"\x00\x00\x08\x00\x05", "no dimensions"),
    ("header cut in a size", _header(10, 28, 28)[:9], "truncated"),
    ("truncated data", _header(10, 28, 28) + bytes(7000), "truncated"),
    ("trailing data", _header(2) + bytes(3), "holds more than it declares"),
    ("4 billion images of 28 x 28", _header(2**32 - 1, 28, 28) + bytes(100), "truncated"),
    ("sizes overflowing 64 bits", _header(*[2**32 - 1] * 8) + bytes(100), "truncated"),
]


@pytest.mark.parametrize("case", [c[0] for c in _PLAIN])
@pytest.mark.parametrize("compress", [False, True])
def test_malformed_idx_files_are_refused_before_allocating(case, compress, tmp_path):
    _, raw, message = next(c for c in _PLAIN if c[0] == case)
    if compress and message == "truncated" and len(raw) > 100:  # a gzip file may say more
        message = "truncated|more than a"
    path = tmp_path / ("f.gz" if compress else "f")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    outcome, peak = _traced(read_idx, path)
    assert isinstance(outcome, ValueError) and str(path) in str(outcome)
    assert re.search(message, str(outcome)), outcome
    assert peak < memory_limit(path.stat().st_size)


def test_damaged_gzip_streams_are_a_value_error_naming_the_file(tmp_path):
    good = gzip.compress(_header(4, 28, 28) + bytes(4 * 784))
    path = tmp_path / "f.gz"
    for raw, message in [
        (good[:-6], "truncated|not a readable gzip"),  # trailer cut
        (good[:-8] + b"\0\0\0\0" + good[-4:], "not a readable gzip"),  # CRC wrong
        (good[:20], "truncated|not a readable gzip"),
        (b"\x1f\x8b\x08" + bytes(20), "not a readable gzip"),
        (good + gzip.compress(b"more"), "holds more than it declares"),  # a second member
        (good + b"junk after the stream", "not a readable gzip"),
    ]:
        path.write_bytes(raw)
        with pytest.raises(ValueError, match=message) as exc:
            read_idx(path)
        assert str(path) in str(exc.value)
    path.write_bytes(good + bytes(16))  # gzip's zero padding after a member is fine
    assert read_idx(path).shape == (4, 28, 28)


def test_images_must_be_uint8_and_labels_in_range(tmp_path):
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(images))
    labels = tmp_path / "train-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(np.array([1, -2, 3], dtype=np.int8), code=0x09))
    with pytest.raises(ValueError, match="labels must be at least 0") as exc:
        load_mnist(tmp_path)
    assert str(labels) in str(exc.value)
    labels.write_bytes(idx_bytes(np.array([1, 12, 3], dtype=np.uint8)))
    assert load_mnist(tmp_path).target.tolist() == [1, 12, 3]  # any set in MNIST's layout
    with pytest.raises(ValueError, match="labels must be 0 to 9, got 1 to 12"):
        load_fashion_mnist(tmp_path)  # but Fashion-MNIST has ten classes
    labels.write_bytes(idx_bytes(np.array([1, 2, 3], dtype=">f4"), code=0x0D))
    with pytest.raises(ValueError, match="must be integers"):
        load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(images.astype(">i4"), 0x0C))
    with pytest.raises(ValueError, match="images must be uint8"):
        load_mnist(tmp_path)


# --- fuzz: 1,000 damaged copies each of a small plain and a small gzip idx pair ----------


def _idx_fields(raw):
    ndim = raw[3]
    return [(0, 1, "big"), (2, 1, "big"), (3, 1, "big")] + [
        (4 + 4 * k, 4, "big") for k in range(ndim)
    ]


@pytest.mark.parametrize("kind", ["plain", "gzip"])
def test_fuzzed_idx_files_are_refused_naming_the_file_or_read_correctly(kind, tmp_path):
    rng = np.random.default_rng(32 if kind == "plain" else 33)
    images = idx_bytes(rng.integers(0, 256, (8, 28, 28), dtype=np.uint8))
    labels = idx_bytes(rng.integers(0, 10, 8, dtype=np.uint8))
    suffix = ".gz" if kind == "gzip" else ""
    images_file = tmp_path / f"train-images-idx3-ubyte{suffix}"
    labels_file = tmp_path / f"train-labels-idx1-ubyte{suffix}"
    pack = gzip.compress if kind == "gzip" else (lambda b: b)
    cases = []
    for which, base in (("images", images), ("labels", labels)):
        n = 700 if which == "images" else 300
        damaged = mutations(base, rng, n, hot=[(0, 24)], fields=_idx_fields(base))
        if kind == "gzip":  # half damage the content, half the compressed bytes
            packed = pack(base)
            raw_damage = mutations(
                packed, rng, n // 2, hot=[(0, 16), (len(packed) - 8, len(packed))]
            )
            damaged = [pack(d) for d in damaged[: n - n // 2]] + raw_damage
        else:
            damaged = [pack(d) for d in damaged]
        cases += [(d, pack(labels)) if which == "images" else (pack(images), d) for d in damaged]
    assert len(cases) == 1000
    outcomes = {"refused": 0, "read": 0}
    tracemalloc.start()
    try:
        for i, (image_bytes, label_bytes) in enumerate(cases):
            overwrite(images_file, image_bytes)
            overwrite(labels_file, label_bytes)
            result, peak = traced_peak(load_mnist, tmp_path, return_X_y=True)
            assert peak < memory_limit(len(image_bytes) + len(label_bytes)), (i, peak)
            if isinstance(result, BaseException):
                check_failure(result, [images_file, labels_file])
                outcomes["refused"] += 1
            else:
                check_images(*result, channels=1, n_classes=256)
                outcomes["read"] += 1
    finally:
        tracemalloc.stop()
    assert outcomes["refused"] > 500 and outcomes["read"] > 20, outcomes  # both paths taken
