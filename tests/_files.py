"""Small data-set files written byte for byte as distributed, for the loaders' and the
reproductions' tests: CIFAR-10's python batches (as Python 2's cPickle wrote them), MNIST's
idx files, SVHN's ``.mat`` files."""

import gzip
import pickle
import struct

import numpy as np


class _Python2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for the CIFAR batches: protocol 2, byte strings
    as (SHORT_)BINSTRING, numpy under its Python 2 module name ``numpy.core``."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_bytes(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes

    def save_str(self, obj):  # Python 2's str was a byte string
        self.save_bytes(obj.encode("latin1"))

    dispatch[str] = save_str

    def save_global(self, obj, name=None):
        name = name or obj.__qualname__
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n")
        self.memoize(obj)


def dump_py2(obj, path):
    with open(path, "wb") as f:
        _Python2Pickler(f, protocol=2).dump(obj)


def cifar_rows(rng, n):
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)


def write_cifar10(folder, rng, n_per_batch, n_test):
    """CIFAR-10's ``cifar-10-batches-py`` folder under ``folder``: five training batches of
    ``n_per_batch`` random images, a test batch of ``n_test`` and ``batches.meta``.
    Returns ``{batch name: (data, labels)}``."""
    folder = folder / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for i in range(1, 6):
        data = cifar_rows(rng, n_per_batch)
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        batches[f"data_batch_{i}"] = (data, labels)
        batch = {b"batch_label": b"training batch %d of 5" % i, b"labels": labels, b"data": data}
        batch[b"filenames"] = [b"img_%d.png" % k for k in range(n_per_batch)]
        dump_py2(batch, folder / f"data_batch_{i}")
    data, labels = cifar_rows(rng, n_test), [int(v) for v in rng.integers(0, 10, n_test)]
    batches["test_batch"] = (data, labels)
    dump_py2({b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": data},
             folder / "test_batch")  # fmt: skip
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]  # fmt: skip
    dump_py2({b"num_cases_per_batch": 10000, b"label_names": names, b"num_vis": 3072},
             folder / "batches.meta")  # fmt: skip
    return batches


def write_idx(path, array):
    """One idx file, gzip-compressed as distributed (``path`` + ``.gz``)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(str(path) + ".gz", "wb") as f:
        f.write(header + array.astype(">u1").tobytes())


def write_mnist_like(folder, rng, n_train, n_test):
    """MNIST's (or Fashion-MNIST's) four idx files of random 28 x 28 images in ``folder``."""
    folder.mkdir(exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))


def write_svhn(folder, rng, n_train, n_test):
    """SVHN's ``train_32x32.mat`` and ``test_32x32.mat`` (``X`` of shape (32, 32, 3, n),
    labels 1 to 10, 10 meaning 0) in ``folder``."""
    from scipy.io import savemat

    folder.mkdir(exist_ok=True)
    for name, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        labels = rng.integers(1, 11, size=(n, 1)).astype(np.uint8)
        savemat(folder / f"{name}_32x32.mat", {"X": images, "y": labels})
