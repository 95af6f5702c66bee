"""Reading CIFAR-10 and CIFAR-100 (the python pickle batches) from a local folder.

The batches are Python 2 pickles. A pickle can run code when it is loaded, so
they are read by an unpickler that builds only what the batches hold (dicts,
lists, strings, numbers and numpy arrays): a crafted file that asks for
anything else is refused with a ``ValueError`` before any of it runs.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
from sklearn.utils import Bunch

from ..utils import check_number, check_options

#: The globals a CIFAR batch may name: numpy's array and dtype reconstruction.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes as written by Python 3's protocol 2
}

_CIFAR10 = {
    "folder": "cifar-10-batches-py",
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
    "meta": "batches.meta",
}
_CIFAR100 = {
    "folder": "cifar-100-python",
    "train": ("train",),
    "test": ("test",),
    "meta": "meta",
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy's array reconstruction (and ``_codecs.encode``)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise ValueError(
                f"refusing to load {module}.{name}: a CIFAR batch holds only dicts, lists, "
                "strings, numbers and numpy arrays (the file is not a CIFAR batch, or was "
                "tampered with)."
            )
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own, whatever its module
        if name == "encode":
            import codecs

            return codecs.encode
        return getattr(np, name)


def read_cifar_batch(path: str | os.PathLike) -> dict[str, Any]:
    """Read one CIFAR python batch (or meta file) safely; keys are str.

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``cifar-10-batches-py/data_batch_1``.

    Returns
    -------
    batch : dict
        Its entries, keys decoded to str (``"data"``, ``"labels"``, ...), byte
        strings among the values decoded too (``label_names``).

    Raises
    ------
    ValueError
        If the file is not a pickle, or names anything but numpy's array
        reconstruction (nothing in it is run).
    """
    raw = Path(path).read_bytes()
    try:
        obj = _BatchUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except ValueError:
        raise
    except Exception as exc:  # truncated or not a pickle at all
        raise ValueError(f"{path} is not a CIFAR python batch: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} is not a CIFAR python batch: it holds a {type(obj).__name__}.")
    return {_text(k): _decoded(v) for k, v in obj.items()}


def _text(value: Any) -> Any:
    return value.decode("latin1") if isinstance(value, bytes) else value


def _decoded(value: Any) -> Any:
    if isinstance(value, list):
        return [_text(v) for v in value]
    return _text(value)


def _folder(path: str | os.PathLike, spec: dict[str, Any], what: str) -> Path:
    """The folder holding the batches: ``path`` itself or its ``cifar-*`` subfolder."""
    folder = Path(os.fspath(path))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"path {str(folder)!r} is not a folder; it should hold {what}'s python batches "
            f"(the {spec['folder']!r} folder of the archive, or the folder above it)."
        )
    inner = folder / spec["folder"]
    return inner if inner.is_dir() else folder


def _load(
    path: str | os.PathLike,
    spec: dict[str, Any],
    what: str,
    subset: str,
    n_samples: int | None,
    label_key: str,
    names_key: str,
) -> tuple[np.ndarray, np.ndarray, list[str] | None, Path]:
    check_options(subset, "subset", {"train", "test"})
    if n_samples is not None:
        check_number(n_samples, "n_samples", low=1, integer=True)
    folder = _folder(path, spec, what)
    missing = [name for name in spec[subset] if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(repr(m) for m in missing)} (needed for "
            f"subset={subset!r} of {what}); it holds {sorted(p.name for p in folder.iterdir())}."
        )
    images, labels = [], []
    remaining = n_samples
    for name in spec[subset]:
        batch = read_cifar_batch(folder / name)
        if "data" not in batch or label_key not in batch:
            raise ValueError(
                f"{folder / name} is not a {what} batch: it lacks 'data' or {label_key!r} "
                f"(it has {sorted(batch)})."
            )
        data = np.asarray(batch["data"])
        y = np.asarray(batch[label_key], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise ValueError(
                f"{folder / name}: 'data' must be uint8 rows of 3 x 32 x 32 = 3072 values, "
                f"got {data.dtype} of shape {data.shape}."
            )
        if y.shape != (data.shape[0],):
            raise ValueError(f"{folder / name}: {data.shape[0]} images but {y.shape[0]} labels.")
        if remaining is not None:
            data, y = data[:remaining], y[:remaining]
            remaining -= len(y)
        images.append(data)
        labels.append(y)
        if remaining == 0:
            break
    X = np.concatenate(images).reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    target = np.concatenate(labels)
    meta = folder / spec["meta"]
    names = read_cifar_batch(meta).get(names_key) if meta.is_file() else None
    return X, target, names, folder


@overload
def load_cifar10(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[False] = ...,
) -> Bunch: ...


@overload
def load_cifar10(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def load_cifar10(
    path: str | os.PathLike,
    *,
    subset: str = "train",
    n_samples: int | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10 from the python version's batches in a local folder.

    ``path`` is the ``cifar-10-batches-py`` folder of ``cifar-10-python.tar.gz``
    (or the folder holding it): ``data_batch_1`` ... ``data_batch_5``,
    ``test_batch`` and ``batches.meta``. Nothing is downloaded. The batches
    are read with an unpickler that builds only arrays, lists and strings
    (:func:`read_cifar_batch`).

    Parameters
    ----------
    path : str or path-like
        The folder.
    subset : {"train", "test"}, default="train"
        The 50,000 training images (five batches, in order) or the 10,000 test images.
    n_samples : int or None, default=None
        Keep only the first ``n_samples`` images (only the batches needed are read).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (float32, shape ``(n, 3, 32, 32)``, values in
        [0, 1]), ``target`` (int64, 0 to 9) and ``target_names``; or ``(X, y)``.

    Raises
    ------
    FileNotFoundError
        If the folder or a batch of the split is missing; the message names it.
    ValueError
        If a file is not a CIFAR batch, or names anything a batch does not hold.
    """
    X, y, names, folder = _load(
        path, _CIFAR10, "CIFAR-10", subset, n_samples, "labels", "label_names"
    )
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=names,
        DESCR=f"CIFAR-10 {subset} split read from {folder}.",
    )


@overload
def load_cifar100(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    label_type: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[False] = ...,
) -> Bunch: ...


@overload
def load_cifar100(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    label_type: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def load_cifar100(
    path: str | os.PathLike,
    *,
    subset: str = "train",
    label_type: str = "fine",
    n_samples: int | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-100 from the python version's files in a local folder.

    ``path`` is the ``cifar-100-python`` folder of ``cifar-100-python.tar.gz``
    (or the folder holding it): ``train``, ``test`` and ``meta``. Nothing is
    downloaded; the files are read as by :func:`load_cifar10`.

    Parameters
    ----------
    path : str or path-like
        The folder.
    subset : {"train", "test"}, default="train"
        The 50,000 training or the 10,000 test images.
    label_type : {"fine", "coarse"}, default="fine"
        The 100 classes or the 20 superclasses.
    n_samples : int or None, default=None
        Keep only the first ``n_samples`` images.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (float32, shape ``(n, 3, 32, 32)``, values in
        [0, 1]), ``target`` (int64) and ``target_names``; or ``(X, y)``.

    Raises
    ------
    FileNotFoundError
        If the folder or the split's file is missing; the message names it.
    ValueError
        If a file is not a CIFAR batch, or names anything a batch does not hold.
    """
    check_options(label_type, "label_type", {"fine", "coarse"})
    X, y, names, folder = _load(
        path,
        _CIFAR100,
        "CIFAR-100",
        subset,
        n_samples,
        f"{label_type}_labels",
        f"{label_type}_label_names",
    )
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=names,
        DESCR=f"CIFAR-100 {subset} split ({label_type} labels) read from {folder}.",
    )
