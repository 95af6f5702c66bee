"""Reading MNIST (or any idx-format image set) from a local folder.

An idx file is a header (a magic number naming the value type, then the size of each
dimension) and exactly the values it declares. :func:`read_idx` reads the header, checks
the declared size against the file's (a plain file must hold exactly that many bytes; a
gzip file cannot inflate to more than 1032 times its size), then reads exactly the
declared bytes: a gzip file is inflated as a stream, only as far as its header says, and
refused if it holds more (or less) than that. So a small file cannot make it allocate
more than the data the file really holds.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
from sklearn.utils import Bunch

from ..utils import check_number, check_options
from ._binary import MAX_INFLATION, read_chunks
from ._checks import check_file_labels

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_DTYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx file (optionally gzip-compressed) into a numpy array.

    The header's sizes are checked against the file's before anything is allocated,
    and exactly the declared values are read (see the module's docstring).

    Parameters
    ----------
    path : str or path-like
        The file; a ``.gz`` suffix means gzip-compressed.

    Returns
    -------
    array : ndarray
        With the shape and dtype the file's header declares.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        Naming the file, if its magic number or header is malformed, it declares
        more values than it holds (truncated) or holds more than it declares, or
        its gzip stream is damaged.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        if path.suffix != ".gz":
            return _read_idx(raw, str(path), size, compressed=False)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _read_idx(f, str(path), size, compressed=True)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ValueError(f"{path} is not a readable gzip file: {exc}") from None


def _read_idx(f: io.BufferedIOBase, where: str, size: int, *, compressed: bool) -> np.ndarray:
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _DTYPES:
        raise ValueError(f"{where} is not an idx file (bad magic number {magic!r}).")
    ndim = magic[3]
    if ndim == 0:
        raise ValueError(f"{where} is not an idx file: its header declares no dimensions.")
    sizes = f.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"{where} is truncated: its header declares {ndim} dimensions, the file ends "
            f"after {len(sizes) // 4} of them."
        )
    dims = struct.unpack(f">{ndim}I", sizes)
    dtype = np.dtype(_DTYPES[magic[2]])
    nbytes = math.prod(dims) * dtype.itemsize
    header = 4 + 4 * ndim
    declared = f"its header declares {list(dims)} {dtype} values ({nbytes} bytes)"
    if not compressed:
        if size != header + nbytes:
            problem = "is truncated" if size < header + nbytes else "holds more than it declares"
            raise ValueError(f"{where} {problem}: {declared}, the file holds {size - header}.")
        buffer = bytearray(nbytes)
        if f.readinto(buffer) != nbytes or f.read(1):
            raise ValueError(f"{where} changed while it was read.")
    else:
        if header + nbytes > MAX_INFLATION * size:
            raise ValueError(
                f"{where} is not an idx file: {declared}, more than a {size}-byte gzip "
                "file can hold."
            )
        buffer = bytearray().join(read_chunks(f.read, nbytes, where, "its header"))
        if f.read(1):
            raise ValueError(
                f"{where} holds more than it declares: {declared}, and more data follows."
            )
    return np.frombuffer(buffer, dtype=dtype).reshape(dims)


def _find(folder: Path, stem: str):
    dotted = stem.replace("-idx", ".idx")  # some copies name them train-images.idx3-ubyte
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


@overload
def load_mnist(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[False] = ...,
) -> Bunch: ...


@overload
def load_mnist(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def load_mnist(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: bool = ...,
) -> Bunch | tuple[np.ndarray, np.ndarray]: ...


def load_mnist(
    path: str | os.PathLike,
    *,
    subset: str = "train",
    n_samples: int | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load MNIST (or Fashion-MNIST, or any set in the same layout) from a folder.

    The folder holds the four idx files under their usual names, each either
    plain or gzip-compressed (``.gz``): ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``. Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like
        The folder.
    subset : {"train", "test"}, default="train"
        Which split to read.
    n_samples : int or None, default=None
        Keep only the first ``n_samples`` examples.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (float32, shape ``(n, 1, 28, 28)``, values in
        [0, 1]) and ``target`` (int64); or ``(X, y)``.

    Raises
    ------
    FileNotFoundError
        If the folder or one of the split's two files is missing; the message
        names the missing file.
    ValueError
        Naming the file, if a file is not a well-formed idx file (see
        :func:`read_idx`), the images are not uint8 of shape (n, rows, columns),
        or the labels are not one non-negative integer per image.
    """
    X, y, folder = _load(path, subset, n_samples, n_classes=None)
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, DESCR=f"MNIST {subset} split read from {folder}.")


def _load(
    path: str | os.PathLike, subset: str, n_samples: int | None, *, n_classes: int | None
) -> tuple[np.ndarray, np.ndarray, Path]:
    """``(X, y, folder)`` of a split: uint8 images in [0, 1] and labels in range."""
    check_options(subset, "subset", set(_FILES))
    if n_samples is not None:
        check_number(n_samples, "n_samples", low=1, integer=True)
    folder = Path(os.fspath(path))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"path {str(folder)!r} is not a folder; it should hold MNIST's idx files."
        )
    found = {stem: _find(folder, stem) for stem in _FILES[subset]}
    missing = [stem for stem, file in found.items() if file is None]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(repr(m + '[.gz]') for m in missing)} "
            f"(needed for subset={subset!r}); it holds {sorted(p.name for p in folder.iterdir())}."
        )
    images_file, labels_file = (found[stem] for stem in _FILES[subset])
    images = read_idx(images_file)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{images_file}: images must be uint8 (idx type 0x08) of shape (n, rows, "
            f"columns), got {images.dtype} of shape {images.shape}."
        )
    labels = read_idx(labels_file)
    if labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_file.name} and {labels_file.name} do not match: images {images.shape}, "
            f"labels {labels.shape}."
        )
    high = None if n_classes is None else n_classes - 1
    y = check_file_labels(labels, str(labels_file), "labels", high=high)
    if n_samples is not None:
        images, y = images[:n_samples], y[:n_samples]
    X = images.astype(np.float32)
    X /= np.float32(255)
    return X[:, None, :, :], y, folder


#: Fashion-MNIST's ten classes, in label order.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@overload
def load_fashion_mnist(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[False] = ...,
) -> Bunch: ...


@overload
def load_fashion_mnist(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def load_fashion_mnist(
    path: str | os.PathLike,
    *,
    subset: str = "train",
    n_samples: int | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST from its idx files in a local folder.

    Fashion-MNIST is distributed in MNIST's layout (the same four file names,
    gzip-compressed), so this reads as :func:`load_mnist` does and adds the
    class names. Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like
        The folder.
    subset : {"train", "test"}, default="train"
        Which split to read.
    n_samples : int or None, default=None
        Keep only the first ``n_samples`` examples.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (float32, shape ``(n, 1, 28, 28)``, values in
        [0, 1]), ``target`` (int64) and ``target_names``; or ``(X, y)``.

    Raises
    ------
    FileNotFoundError
        If the folder or one of the split's two files is missing; the message
        names the missing file.
    ValueError
        Naming the file, as :func:`load_mnist`, or if a label is not 0 to 9.
    """
    X, y, _ = _load(path, subset, n_samples, n_classes=len(FASHION_MNIST_CLASSES))
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=list(FASHION_MNIST_CLASSES),
        DESCR=f"Fashion-MNIST {subset} split read from {os.fspath(path)}.",
    )
