"""Reading MNIST (or any idx-format image set) from a local folder."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
from sklearn.utils import Bunch

from ..utils import check_number, check_options

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

    Parameters
    ----------
    path : str or path-like
        The file; a ``.gz`` suffix means gzip-compressed.

    Returns
    -------
    array : ndarray
        With the shape and dtype the file's header declares.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path} is not an idx file (bad magic number {raw[:4]!r}).")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(
            f"{path} is truncated: header says {dims.tolist()}, found {data.size} values."
        )
    return data.reshape(dims)


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
    """
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
    labels = read_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_file.name} and {labels_file.name} do not match: images {images.shape}, "
            f"labels {labels.shape}."
        )
    if n_samples is not None:
        images, labels = images[:n_samples], labels[:n_samples]
    X = (images.astype(np.float32) / 255.0)[:, None, :, :]
    y = labels.astype(np.int64)
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, DESCR=f"MNIST {subset} split read from {folder}.")


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
    """
    X, y = load_mnist(path, subset=subset, n_samples=n_samples, return_X_y=True)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=list(FASHION_MNIST_CLASSES),
        DESCR=f"Fashion-MNIST {subset} split read from {os.fspath(path)}.",
    )
