"""CIFAR-10 and CIFAR-100 loaders, on small files written byte for byte as distributed."""

import pickle

import numpy as np
import pytest

from robustsk.datasets import load_cifar10, load_cifar100, make_doubled, read_cifar_batch
from tests._files import cifar_rows as _rows, dump_py2 as _dump_py2


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
