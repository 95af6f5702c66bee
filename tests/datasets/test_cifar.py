"""CIFAR-10 and CIFAR-100 loaders, on small files written byte for byte as distributed."""

import codecs
import pickle
import pickletools
import tracemalloc

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from robustsk.datasets import load_cifar10, load_cifar100, make_doubled, read_cifar_batch
from tests._files import cifar_rows as _rows, dump_py2 as _dump_py2
from tests.datasets._hostile import (
    RECONSTRUCT,
    Reduce,
    check_failure,
    check_images,
    dtype,
    memory_limit,
    mutations,
    overwrite,
    py2_pickle,
    reconstructed,
    traced_peak,
)


@pytest.fixture
def cifar10(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for i in range(1, 6):
        data, labels = _rows(rng, 4), [int(v) for v in rng.integers(0, 10, 4)]
        batches[f"data_batch_{i}"] = (data, labels)
        batch = {b"batch_label": b"training batch %d of 5" % i, b"labels": labels, b"data": data}
        batch[b"filenames"] = [b"img_%d.png" % k for k in range(4)]
        _dump_py2(batch, folder / f"data_batch_{i}")
    data, labels = _rows(rng, 3), [1, 2, 3]
    batches["test_batch"] = (data, labels)
    _dump_py2({b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": data},
              folder / "test_batch")  # fmt: skip
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]  # fmt: skip
    _dump_py2({b"num_cases_per_batch": 10000, b"label_names": names, b"num_vis": 3072},
              folder / "batches.meta")  # fmt: skip
    return tmp_path, batches


def test_cifar10_reads_the_python_batches_in_channel_row_column_order(cifar10):
    root, batches = cifar10
    bunch = load_cifar10(root)  # the folder above cifar-10-batches-py works too
    X, y = bunch.data, bunch.target
    assert X.shape == (20, 3, 32, 32) and X.dtype == np.float32 and y.dtype == np.int64
    data = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    np.testing.assert_array_equal(y, labels)
    # row layout: 1024 red values, then green, then blue, each row-major over 32 x 32
    for n, c, h, w in [(0, 0, 0, 0), (7, 1, 3, 30), (19, 2, 31, 5)]:
        assert X[n, c, h, w] == np.float32(data[n, c * 1024 + h * 32 + w]) / np.float32(255)
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert bunch.target_names[:2] == ["airplane", "automobile"]
    X_test, y_test = load_cifar10(root / "cifar-10-batches-py", subset="test", return_X_y=True)
    assert X_test.shape == (3, 3, 32, 32) and y_test.tolist() == [1, 2, 3]
    X6, y6 = load_cifar10(root, n_samples=6, return_X_y=True)  # spans two batches, in order
    np.testing.assert_array_equal(X6, X[:6])
    np.testing.assert_array_equal(y6, y[:6])


def test_cifar10_names_the_missing_batch(cifar10):
    root, _ = cifar10
    (root / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(root)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_cifar10(root / "nowhere")
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(root, subset="valid")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # would create a file when loaded


def test_a_crafted_batch_is_refused_before_it_runs(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": _Payload(marker), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match="refusing to load"):
        load_cifar10(tmp_path, subset="test")
    assert not marker.exists()
    (folder / "test_batch").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="not a CIFAR python batch"):
        read_cifar_batch(folder / "test_batch")


def test_cifar100_fine_and_coarse_labels(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 5), ("test", 2)):
        _dump_py2(
            {
                b"data": _rows(rng, n),
                b"fine_labels": list(range(n)),
                b"coarse_labels": [k % 2 for k in range(n)],
                b"filenames": [b"x.png"] * n,
            },
            folder / name,
        )
    _dump_py2(
        {
            b"fine_label_names": [b"apple", b"aquarium_fish"] + [b"c"] * 98,
            b"coarse_label_names": [b"aquatic_mammals", b"fish"] + [b"s"] * 18,
        },
        folder / "meta",
    )
    fine = load_cifar100(folder)
    coarse = load_cifar100(tmp_path, label_type="coarse", subset="test")
    assert fine.data.shape == (5, 3, 32, 32) and fine.target.tolist() == [0, 1, 2, 3, 4]
    assert fine.target_names[1] == "aquarium_fish" and coarse.target_names[1] == "fish"
    assert coarse.data.shape == (2, 3, 32, 32) and coarse.target.tolist() == [0, 1]
    with pytest.raises(ValueError, match="label_type"):
        load_cifar100(folder, label_type="medium")


def test_make_doubled_takes_real_cifar10(cifar10):
    root, _ = cifar10
    X, y = load_cifar10(root, return_X_y=True)
    X_new, y_new = make_doubled(X, y, random_state=0)
    assert X_new.shape[0] == len(X) and X_new.shape[1] == 3 and X_new.shape[3] == 64
    assert set(np.unique(y_new)) <= set(range(10))


# --- hostile batches: the file is parsed, never unpickled --------------------------------


def _batch_folder(tmp_path, batch_bytes):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir(exist_ok=True)
    (folder / "test_batch").write_bytes(batch_bytes)
    return folder / "test_batch"


def _labels(n):
    return [k % 10 for k in range(n)]


_OBJECT_STATE = (3, "|", None, None, None, -1, -1, 0)  # object dtype, its flags cleared

HOSTILE_DTYPES = {
    # numpy would copy 8-byte "pointers" from the file into an object array: SIGSEGV
    "object dtype, flags cleared": (dtype("O", _OBJECT_STATE), 8),
    "uint8 with the object flags set": (dtype("u1", (3, "|", None, None, None, -1, -1, 63)), 1),
    "uint8 with an item size of 0": (dtype("u1", (3, "|", None, None, None, 0, 1, 0)), 1),
    "uint8 with a subarray": (
        dtype("u1", (3, "|", (np.dtype("u1"), (3072,)), None, None, -1, -1, 0)),
        1,
    ),
    "int64 labels": (dtype("i8", (3, "<", None, None, None, -1, -1, 0)), 8),
    "a void dtype": (dtype("V8", (3, "|", None, None, None, 8, 1, 0)), 8),
}


@pytest.mark.parametrize("case", list(HOSTILE_DTYPES))
@pytest.mark.parametrize("entry", ["data", "labels"])
def test_a_dtype_state_is_refused_and_never_crashes(case, entry, tmp_path):
    dt, itemsize = HOSTILE_DTYPES[case]
    n = 4
    shape = (n, 3072) if entry == "data" else (n,)
    hostile = reconstructed(shape, dt, b"\x41" * (itemsize * int(np.prod(shape))))
    batch = {b"data": _rows(np.random.default_rng(0), n), b"labels": _labels(n)}
    batch[entry.encode()] = hostile
    if entry == "labels":  # one array per batch: make the pixels plain bytes
        batch[b"data"] = b"\0"
    file = _batch_folder(tmp_path, py2_pickle(batch))
    with pytest.raises(ValueError, match="dtype") as exc:
        load_cifar10(tmp_path, subset="test")  # in-process: a crash would kill pytest
    assert str(file) in str(exc.value)


def _zero_stride(n):
    """The 262-byte batch that claimed 100,000 images through numpy.ndarray(...,
    strides=(0, 0)) and made the loader allocate 2.5 GB."""
    buffer = Reduce(codecs.encode, ("\x00", "latin1"))
    data = Reduce(np.ndarray, ((n, 3072), dtype(), buffer, 0, (0, 0)))
    i8 = dtype("i8", (3, "<", None, None, None, -1, -1, 0))
    labels = Reduce(np.ndarray, ((n,), i8, Reduce(codecs.encode, ("\x00" * 8, "latin1")), 0, (0,)))
    return {b"data": data, b"labels": labels}


def _plain(n=4):
    return np.random.default_rng(1).integers(0, 256, (n, 3072), dtype=np.uint8)


HOSTILE_ARRAYS = {
    "numpy.ndarray called with zero strides": (_zero_stride(100_000), "calls numpy.ndarray"),
    "as_strided": (
        {b"data": Reduce(as_strided, (_plain(), (100_000, 3072), (0, 1))), b"labels": [0]},
        "refusing to load numpy.lib",
    ),
    "broadcast_to": (
        {b"data": Reduce(np.broadcast_to, (_plain(1), (100_000, 3072))), b"labels": [0]},
        "refusing to load numpy",
    ),
    "a shape larger than its bytes": (
        {b"data": reconstructed((100_000, 3072), dtype(), b"\x01" * 3072), b"labels": [0]},
        "declares shape",
    ),
    "a Fortran-ordered array": (
        {b"data": reconstructed((1, 3072), dtype(), b"\x01" * 3072, True), b"labels": [0]},
        "Fortran",
    ),
    "_reconstruct of an ndarray subclass": (
        {b"data": Reduce(RECONSTRUCT, (np.matrix, (0,), b"b")), b"labels": [0]},
        "refusing to load numpy",
    ),
    "_reconstruct of an object typecode": (
        {b"data": Reduce(RECONSTRUCT, (np.ndarray, (0,), b"O")), b"labels": [0]},
        "_reconstruct",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_ARRAYS))
def test_views_strides_and_oversized_arrays_are_refused_before_allocating(case, tmp_path):
    batch, message = HOSTILE_ARRAYS[case]
    file = _batch_folder(tmp_path, py2_pickle(batch))
    tracemalloc.start()
    try:
        outcome, peak = traced_peak(load_cifar10, tmp_path, subset="test")
    finally:
        tracemalloc.stop()
    assert isinstance(outcome, ValueError), outcome
    assert str(file) in str(outcome) and message in str(outcome)
    assert peak < memory_limit(file.stat().st_size)


def test_batches_pickled_by_python_3_are_read_at_every_protocol(tmp_path):
    rng = np.random.default_rng(4)
    data, labels = _rows(rng, 5), [3, 1, 4, 1, 5]
    for protocol in (2, 3, 4, 5):
        batch = {"batch_label": "b" * 5000, "labels": labels, "data": data, "filenames": ["a"]}
        _batch_folder(tmp_path, pickle.dumps(batch, protocol=protocol))
        X, y = load_cifar10(tmp_path, subset="test", return_X_y=True)
        np.testing.assert_array_equal(X.reshape(5, -1) * np.float32(255), data)
        assert y.tolist() == labels
        read = read_cifar_batch(tmp_path / "cifar-10-batches-py" / "test_batch")
        assert read["data"].flags.writeable and read["batch_label"] == "b" * 5000


def _ops(*parts):
    return b"\x80\x02" + b"".join(parts)


_TINY = [  # (why, the batch's bytes, what the message says)
    ("truncated", _ops(b"}q\x00(U\x04data"), "truncated"),
    ("no STOP", _ops(b"}q\x00"), "truncated"),
    ("bytes after STOP", _ops(b"}.", b"extra"), "follow the pickle's end"),
    ("two dicts", _ops(b"}}", b"."), "more than one dict"),
    ("a list in a list", _ops(b"}U\x01a]]a", b"s."), "holds a list"),
    ("a key twice", _ops(b"}(U\x01aK\x01U\x01aK\x02u."), "appears twice"),
    ("an unknown memo entry", _ops(b"}h\x07."), "memo entry 7"),
    ("a string past the end", _ops(b"}U\x01aT\xff\xff\xff\x7fabc"), "truncated"),
    ("a negative length", _ops(b"}U\x01aT\xff\xff\xff\xffabc"), "truncated"),
    ("a huge integer", _ops(b"}U\x01a\x8a\x20" + b"\x01" * 32), "more than 64 bits"),
    ("an opcode batches never use", _ops(b"}U\x01a\x81"), "is not one a batch uses"),
    ("a top that is not a dict", _ops(b"]."), "exactly one dict"),
    ("an empty stack", _ops(b"s."), "empty stack"),
    ("calling a string", _ops(b"}U\x01aU\x01b)Rs."), "calls bytes"),
]


@pytest.mark.parametrize("case", [c[0] for c in _TINY])
def test_malformed_batches_are_a_value_error_naming_the_file(case, tmp_path):
    _, raw, message = next(c for c in _TINY if c[0] == case)
    file = _batch_folder(tmp_path, raw)
    with pytest.raises(ValueError, match=message) as exc:
        read_cifar_batch(file)
    assert str(file) in str(exc.value)


def test_labels_and_class_names_are_checked(tmp_path):
    def load(batch, meta=None):
        file = _batch_folder(tmp_path, py2_pickle(batch))
        if meta is not None:
            _dump_py2(meta, file.parent / "batches.meta")
        with pytest.raises(ValueError) as exc:
            load_cifar10(tmp_path, subset="test")
        return str(exc.value)

    data = _rows(np.random.default_rng(5), 3)
    assert "0 to 9, got 0 to 10" in load({b"data": data, b"labels": [0, 10, 2]})
    assert "at least" not in load({b"data": data, b"labels": [-1, 0, 2]})
    assert "3 images but 2 labels" in load({b"data": data, b"labels": [0, 1]})
    assert "list of integers" in load({b"data": data, b"labels": [b"0", 1, 2]})
    assert "3072 values" in load({b"data": data[:, :100].copy(), b"labels": [0, 1, 2]})
    assert "3072 values" in load({b"data": b"\x00" * 3072, b"labels": [0]})
    meta = {b"label_names": [b"airplane"] * 9}
    message = load({b"data": data, b"labels": [0, 1, 2]}, meta)
    assert "batches.meta" in message and "list of 10 class names" in message


def test_memo_references_and_cheap_opcodes_cannot_amplify_memory(tmp_path):
    # A 255-byte file name listed 20,000 more times (2 bytes each) decodes to one str.
    name = b"U" + b"\xff" + b"x" * 255
    raw = _ops(
        b"}(U\x04dataT\x00\x0c\x00\x00",
        b"\x07" * 3072,
        b"U\x06labels]K\x01a",
        b"U\tfilenames](",
        name,
        b"q\x01",
        b"h\x01" * 20_000,
        b"eu.",
    )
    file = _batch_folder(tmp_path, raw)
    size = file.stat().st_size
    tracemalloc.start()
    try:
        outcome, peak = traced_peak(read_cifar_batch, file)
        assert peak < memory_limit(size), (peak, size)
        assert len(outcome["filenames"]) == 20_001
        assert len({id(v) for v in outcome["filenames"]}) == 1
        # 100,000 empty lists of one byte each would take 80 times the file's size
        file.write_bytes(_ops(b"]" * 100_000, b"."))
        outcome, peak = traced_peak(read_cifar_batch, file)
    finally:
        tracemalloc.stop()
    assert isinstance(outcome, ValueError) and "build more than" in str(outcome)
    assert peak < memory_limit(file.stat().st_size)


# --- fuzz: 1,000 damaged copies of a small valid batch and of its meta file -------------


def _pickle_fields(raw):
    """The byte ranges of a pickle's opcodes and arguments (all but the pixel bytes), and
    its integer arguments as (offset, size, byte order) fields to overwrite."""
    hot, fields = [], []
    ops = list(pickletools.genops(raw)) + [(None, None, len(raw))]
    for (op, _, pos), (_, _, nxt) in zip(ops, ops[1:]):
        fields.append((pos, 1, "little"))  # the opcode itself
        width = {1: 1, 2: 2, 4: 4, 8: 8}.get(getattr(op.arg, "n", 0))
        if op.name in (
            "SHORT_BINSTRING",
            "BINSTRING",
            "BININT",
            "BININT1",
            "BININT2",
            "BINPUT",
            "BINGET",
            "LONG_BINPUT",
            "PROTO",
        ):
            width = {
                "SHORT_BINSTRING": 1,
                "BINSTRING": 4,
                "BININT": 4,
                "BININT1": 1,
                "BININT2": 2,
                "BINPUT": 1,
                "BINGET": 1,
                "LONG_BINPUT": 4,
                "PROTO": 1,
            }[op.name]
            fields.append((pos + 1, width, "little"))
        hot.append((pos, min(nxt, pos + 16)))  # an opcode, its length, a string's start
    return hot, fields


def test_fuzzed_batches_are_refused_naming_the_file_or_read_correctly(tmp_path):
    rng = np.random.default_rng(31)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch_file, meta_file = folder / "test_batch", folder / "batches.meta"
    base = py2_pickle(
        {
            b"batch_label": b"testing batch 1 of 1",
            b"labels": _labels(8),
            b"data": _rows(rng, 8),
            b"filenames": [b"img_%d.png" % k for k in range(8)],
        }
    )
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    meta = py2_pickle({b"num_cases_per_batch": 10000, b"label_names": names, b"num_vis": 3072})
    hot, fields = _pickle_fields(base)
    meta_hot, meta_fields = _pickle_fields(meta)
    batches = mutations(base, rng, 850, hot=hot, fields=fields)
    metas = mutations(meta, rng, 150, hot=meta_hot, fields=meta_fields)
    cases = [(b, meta) for b in batches] + [(base, m) for m in metas]
    outcomes = {"refused": 0, "read": 0}
    tracemalloc.start()
    try:
        for i, (batch, meta_bytes) in enumerate(cases):
            overwrite(batch_file, batch)
            overwrite(meta_file, meta_bytes)
            result, peak = traced_peak(load_cifar10, tmp_path, subset="test")
            assert peak < memory_limit(len(batch) + len(meta_bytes)), (i, peak)
            if isinstance(result, BaseException):
                check_failure(result, [batch_file, meta_file])
                outcomes["refused"] += 1
            else:
                check_images(result.data, result.target, channels=3, n_classes=10)
                names_read = result.target_names
                assert names_read is None or (
                    len(names_read) == 10 and all(isinstance(v, str) for v in names_read)
                )
                outcomes["read"] += 1
    finally:
        tracemalloc.stop()
    assert outcomes["refused"] > 500 and outcomes["read"] > 50, outcomes  # both paths taken
