"""The SVHN loader, on small .mat files written as distributed (MATLAB 5)."""

import re
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from robustsk.datasets import load_svhn
from tests.datasets._hostile import (
    check_failure,
    check_images,
    mat_compressed,
    mat_header,
    mat_matrix,
    memory_limit,
    mutations,
    overwrite,
    traced_peak,
    zlib_bomb,
)


def test_svhn_reads_the_mat_files_and_maps_label_10_to_0(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(32, 32, 3, 6), dtype=np.uint8)  # as distributed
    labels = np.array([[10], [1], [2], [9], [10], [5]], dtype=np.uint8)
    savemat(tmp_path / "train_32x32.mat", {"X": images, "y": labels})
    X, y = load_svhn(tmp_path, return_X_y=True)
    assert X.shape == (6, 3, 32, 32) and X.dtype == np.float32
    assert y.tolist() == [0, 1, 2, 9, 0, 5]
    for n, c, h, w in [(0, 0, 0, 0), (3, 1, 17, 2), (5, 2, 31, 31)]:
        assert X[n, c, h, w] == np.float32(images[h, w, c, n]) / np.float32(255)
    X2, y2 = load_svhn(tmp_path, n_samples=2, return_X_y=True)
    np.testing.assert_array_equal(X2, X[:2])
    with pytest.raises(FileNotFoundError, match="test_32x32.mat"):
        load_svhn(tmp_path, subset="test")
    (tmp_path / "extra_32x32.mat").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not an SVHN .mat file"):
        load_svhn(tmp_path, subset="extra")


def test_svhn_reads_compressed_files_double_labels_and_other_variables(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(32, 32, 3, 5), dtype=np.uint8)
    labels = np.array([[3], [10], [1], [7], [10]])
    for compress in (False, True):
        for label_type in (np.uint8, np.float64):
            others = {"names": "digits", "cell": np.array([1, "a"], dtype=object), "s": {"f": 1}}
            savemat(
                tmp_path / "test_32x32.mat",
                {**others, "y": labels.astype(label_type), "X": images},
                do_compression=compress,
            )
            X, y = load_svhn(tmp_path, subset="test", return_X_y=True)
            assert y.tolist() == [3, 0, 1, 7, 0]
            np.testing.assert_array_equal(X * np.float32(255), images.transpose(3, 2, 0, 1))
            X1, y1 = load_svhn(tmp_path, subset="test", n_samples=1, return_X_y=True)
            np.testing.assert_array_equal(X1, X[:1])
            assert y1.tolist() == [3]
    savemat(tmp_path / "test_32x32.mat", {"X": images[..., :1], "y": labels[:1]})  # n = 1
    assert load_svhn(tmp_path, subset="test").data.shape == (1, 3, 32, 32)


# --- hostile .mat files: declared sizes checked before allocating ------------------------


def _x_head(n, *, body=None, name=b"X"):
    """X's matrix element up to its data's tag, for ``n`` images of uint8 data (its
    matrix declaring ``body`` bytes, when given, instead of its true size)."""
    flags = struct.pack("<IIII", 6, 8, 9, 0)
    dims = struct.pack("<II4i", 5, 16, 32, 32, 3, n)
    name_el = struct.pack("<II", 1, len(name)) + name.ljust(8, b"\0")
    if body is None:
        body = len(flags) + len(dims) + len(name_el) + 8 + 3072 * n
    return struct.pack("<II", 14, body) + flags + dims + name_el + struct.pack("<II", 2, 3072 * n)


def _y(n):
    return mat_matrix("y", np.ones((n, 1), np.uint8))


def _svhn_file(tmp_path, *elements):
    file = tmp_path / "train_32x32.mat"
    file.write_bytes(mat_header() + b"".join(elements))
    return file


_IMAGES = np.zeros((32, 32, 3, 2), np.uint8)


def _noise(n):
    return np.random.default_rng(7).integers(0, 256, n, dtype=np.uint8).tobytes()


HUGE = {
    # a million images declared, 3 KB there (the matrix's own size told the truth)
    "X's data larger than its matrix": (
        lambda: [_x_head(10**6, body=64 + 3072) + bytes(3072), _y(1)],
        "more than the",
    ),
    "a variable larger than the file": (lambda: [_x_head(10**6) + bytes(3072), _y(1)], "truncated"),
    "dimensions larger than the data": (
        lambda: [mat_matrix("X", _IMAGES, dims=(32, 32, 3, 10**8)), _y(2)],
        "declares dimensions",
    ),
    "labels larger than the file": (
        lambda: [
            mat_matrix("X", _IMAGES),
            mat_matrix("y", np.ones((2, 1), np.uint8), dims=(2**31 - 1, 1)),
        ],
        "declares dimensions",
    ),
    "a compressed variable inflating to 3 GB": (
        lambda: [mat_compressed(b"", zlib.compress(_x_head(10**6) + bytes(3072))), _y(1)],
        "more than its",
    ),
    "a compressed stream cut short": (
        lambda: [
            mat_compressed(b"", zlib.compress(_x_head(1000) + _noise(3072000))[:-5000]),
            _y(1000),
        ],
        "truncated",
    ),
}


@pytest.mark.parametrize("case", list(HUGE))
def test_svhn_declaring_huge_arrays_is_refused_before_allocating(case, tmp_path):
    build, message = HUGE[case]
    file = _svhn_file(tmp_path, *build())
    for n_samples in (None, 1):
        tracemalloc.start()
        try:
            outcome, peak = traced_peak(load_svhn, tmp_path, n_samples=n_samples)
        finally:
            tracemalloc.stop()
        if n_samples == 1 and case == "a compressed stream cut short":
            assert outcome.data.shape == (1, 3, 32, 32)  # its first image is whole
            continue
        assert isinstance(outcome, ValueError) and str(file) in str(outcome), outcome
        assert message in str(outcome), outcome
        assert peak < memory_limit(file.stat().st_size), peak


def test_a_compressed_bomb_read_with_n_samples_1_stays_small(tmp_path):
    # 100,000 black images in 300 KB: the old reader inflated them all for one (722 MB).
    n = 100_000
    mib, rest = divmod(3072 * n, 1 << 20)
    x = mat_compressed(b"", zlib_bomb(_x_head(n), mib, bytes(rest)))
    file = _svhn_file(tmp_path, x, mat_compressed(_y(n)))
    tracemalloc.start()
    try:
        outcome, peak = traced_peak(load_svhn, tmp_path, n_samples=1, return_X_y=True)
        X, y = outcome
        assert X.shape == (1, 3, 32, 32) and not X.any() and y.tolist() == [1]
        assert peak < 2 * file.stat().st_size + (1 << 20), peak
        # 10 images declared, then 1 GiB more in the stream: refused, never inflated whole
        x = mat_compressed(b"", zlib_bomb(_x_head(10) + bytes(3072 * 10), 1024))
        file = _svhn_file(tmp_path, x, _y(10))
        outcome, peak = traced_peak(load_svhn, tmp_path)
    finally:
        tracemalloc.stop()
    assert isinstance(outcome, ValueError) and str(file) in str(outcome)
    assert "holds more than its data" in str(outcome)
    assert peak < memory_limit(file.stat().st_size), peak


def test_the_mat_file_that_crashes_scipy_loadmat_is_refused(tmp_path):
    # X's name element declares 1 byte and holds none, so the data's tag is read as the
    # name: scipy.io.loadmat 1.17 dies with SIGSEGV on these 272 bytes.
    head = _x_head(10, body=56 + 3072 * 10)
    head = head[:56] + head[64:]
    stream = zlib.compress(head + bytes(3072 * 10))
    file = _svhn_file(tmp_path, mat_compressed(b"", stream), mat_compressed(_y(10)))
    with pytest.raises(ValueError, match="is not a MATLAB name") as exc:
        load_svhn(tmp_path)
    assert str(file) in str(exc.value)


def _matrix(array, **kw):
    return mat_matrix("X", array, **kw)


_MALFORMED = {
    "a -v7.3 header": (mat_header()[:124] + b"\x00\x02IM", "0x0200"),
    "no byte-order mark": (mat_header()[:126] + b"XX", "byte-order mark"),
    "a short header": (mat_header()[:100], "fewer than a MATLAB 5 header"),
    "stray bytes at the end": (mat_header() + _matrix(_IMAGES) + _y(2) + b"\0\0\0", "stray"),
    "an element that is not a matrix": (
        mat_header() + struct.pack("<II", 5, 8) + bytes(8),
        "is no matrix",
    ),
    "two X": (mat_header() + _matrix(_IMAGES) + _matrix(_IMAGES) + _y(2), "two variables X"),
    "no y": (mat_header() + _matrix(_IMAGES), "lacks y"),
    "label 0": (
        mat_header() + _matrix(_IMAGES) + mat_matrix("y", np.array([[1], [0]], np.uint8)),
        "1 to 10, got 0 to 1",
    ),
    "label 11": (
        mat_header() + _matrix(_IMAGES) + mat_matrix("y", np.array([[11], [1]])),
        "1 to 10",
    ),
    "label 2.5": (
        mat_header() + _matrix(_IMAGES) + mat_matrix("y", np.array([[2.5], [1.0]])),
        "whole numbers",
    ),
    "X of doubles": (mat_header() + _matrix(_IMAGES.astype(float)) + _y(2), "must be uint8"),
    "X stored as int16": (
        mat_header() + _matrix(_IMAGES, data=bytes(2 * _IMAGES.size), data_type=3) + _y(2),
        "not uint8",
    ),
    "X complex": (mat_header() + _matrix(_IMAGES, cls=9 | 0x0800) + _y(2), "real numeric"),
    "grey X": (
        mat_header() + _matrix(np.zeros((32, 32, 1, 2), np.uint8)) + _y(2),
        "shape (32, 32, 3, n)",
    ),
    "3 images, 2 labels": (
        mat_header() + _matrix(np.zeros((32, 32, 3, 3), np.uint8)) + _y(2),
        "3 images but 2 labels",
    ),
    "a damaged stream": (
        mat_header() + mat_compressed(b"", b"\x78\x9c" + bytes(50)) + _y(2),
        "damaged compressed stream",
    ),
    "a name that is not ASCII": (
        mat_header() + mat_matrix("\xe9", _IMAGES.copy()) + _y(2),
        "not a MATLAB name",
    ),
}


@pytest.mark.parametrize("case", list(_MALFORMED))
def test_malformed_mat_files_are_a_value_error_naming_the_file(case, tmp_path):
    raw, message = _MALFORMED[case]
    file = tmp_path / "train_32x32.mat"
    file.write_bytes(raw)
    with pytest.raises(ValueError, match=re.escape(message)) as exc:
        load_svhn(tmp_path)
    assert str(file) in str(exc.value)


# --- fuzz: 1,000 damaged copies each of a small plain and a small compressed file --------


def _element_fields(start, ndim=4):
    """The integer fields of a matrix element written by mat_matrix at ``start``."""
    offsets = [0, 4, 8, 12, 16, 20, 24, 28, *range(32, 32 + 4 * ndim, 4)]
    name = 32 + 4 * ndim + 4 * (ndim % 2)
    offsets += [name, name + 4, name + 8, name + 16, name + 20]
    return [(start + o, 1 if o == name + 8 else 4, "little") for o in offsets]


@pytest.mark.parametrize("kind", ["plain", "compressed"])
def test_fuzzed_mat_files_are_refused_naming_the_file_or_read_correctly(kind, tmp_path):
    rng = np.random.default_rng(34 if kind == "plain" else 35)
    x = mat_matrix("X", rng.integers(0, 256, (32, 32, 3, 8), dtype=np.uint8))
    y = mat_matrix("y", rng.integers(1, 11, (8, 1)).astype(np.uint8))
    head = mat_header()
    file = tmp_path / "train_32x32.mat"
    if kind == "plain":
        base = head + x + y
        hot = [(116, 128), (128, 200), (128 + len(x), 128 + len(x) + 80)]
        fields = [(124, 2, "little"), (126, 2, "little")]
        fields += _element_fields(128) + _element_fields(128 + len(x), ndim=2)
        cases = mutations(base, rng, 1000, hot=hot, fields=fields)
    else:
        cases = []
        for which, element in (("X", x), ("y", y)):
            damaged = mutations(
                element,
                rng,
                300,
                hot=[(0, 80)],
                fields=_element_fields(0, 4 if which == "X" else 2),
            )
            damaged = [mat_compressed(d) for d in damaged]
            cases += [
                head + (d + mat_compressed(y) if which == "X" else mat_compressed(x) + d)
                for d in damaged
            ]
        base = head + mat_compressed(x) + mat_compressed(y)
        cases += mutations(base, rng, 400, hot=[(116, 128), (128, 150)])
    outcomes = {"refused": 0, "read": 0}
    tracemalloc.start()
    try:
        for i, raw in enumerate(cases):
            overwrite(file, raw)
            n_samples = 3 if i % 4 == 3 else None
            result, peak = traced_peak(load_svhn, tmp_path, n_samples=n_samples, return_X_y=True)
            assert peak < memory_limit(len(raw)), (i, peak)
            if isinstance(result, BaseException):
                check_failure(result, [file])
                outcomes["refused"] += 1
            else:
                check_images(*result, channels=3, n_classes=10)
                assert n_samples is None or len(result[0]) <= n_samples
                outcomes["read"] += 1
    finally:
        tracemalloc.stop()
    assert outcomes["refused"] > 500 and outcomes["read"] > 20, outcomes  # both paths taken
