"""Reading SVHN (the cropped-digits ``.mat`` files) from a local folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, overload

import numpy as np
from sklearn.utils import Bunch

from ..utils import check_number, check_options

_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}


@overload
def load_svhn(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[False] = ...,
) -> Bunch: ...


@overload
def load_svhn(
    path: str | os.PathLike,
    *,
    subset: str = ...,
    n_samples: int | None = ...,
    return_X_y: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def load_svhn(
    path: str | os.PathLike,
    *,
    subset: str = "train",
    n_samples: int | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load SVHN (format 2, cropped 32 x 32 digits) from its ``.mat`` files in a folder.

    The folder holds ``train_32x32.mat``, ``test_32x32.mat`` and, optionally,
    ``extra_32x32.mat`` as distributed (MATLAB 5 files with ``X`` of shape
    ``(32, 32, 3, n)`` and ``y`` of shape ``(n, 1)``, where label 10 means the
    digit 0). Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like
        The folder.
    subset : {"train", "test", "extra"}, default="train"
        Which file to read (73,257, 26,032 or 531,131 images).
    n_samples : int or None, default=None
        Keep only the first ``n_samples`` images.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (float32, shape ``(n, 3, 32, 32)``, values in
        [0, 1]) and ``target`` (int64, 0 to 9, label 10 mapped to 0); or ``(X, y)``.

    Raises
    ------
    FileNotFoundError
        If the folder or the split's file is missing; the message names it.
    ValueError
        If the file is not an SVHN ``.mat`` file.
    """
    from scipy.io import loadmat  # scipy comes with scikit-learn

    check_options(subset, "subset", set(_FILES))
    if n_samples is not None:
        check_number(n_samples, "n_samples", low=1, integer=True)
    folder = Path(os.fspath(path))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"path {str(folder)!r} is not a folder; it should hold SVHN's .mat files "
            f"({', '.join(_FILES.values())})."
        )
    file = folder / _FILES[subset]
    if not file.is_file():
        raise FileNotFoundError(
            f"{folder} lacks {_FILES[subset]!r} (needed for subset={subset!r}); it holds "
            f"{sorted(p.name for p in folder.iterdir())}."
        )
    try:
        mat = loadmat(file, variable_names=["X", "y"])
    except Exception as exc:  # not a MATLAB 5 file (e.g. truncated, or HDF5)
        raise ValueError(f"{file} is not an SVHN .mat file: {exc}") from None
    images, labels = mat.get("X"), mat.get("y")
    if (
        images is None
        or labels is None
        or images.ndim != 4
        or images.shape[:3] != (32, 32, 3)
        or labels.size != images.shape[3]
    ):
        raise ValueError(
            f"{file} is not an SVHN .mat file: expected X of shape (32, 32, 3, n) and y of "
            f"n labels, got X {getattr(images, 'shape', None)} and y "
            f"{getattr(labels, 'shape', None)}."
        )
    y = labels.reshape(-1).astype(np.int64)
    if y.size and (y.min() < 1 or y.max() > 10):
        raise ValueError(f"{file}: SVHN labels are 1 to 10, got {y.min()} to {y.max()}.")
    y[y == 10] = 0
    if n_samples is not None:
        images, y = images[..., :n_samples], y[:n_samples]
    X = np.ascontiguousarray(np.transpose(images, (3, 2, 0, 1))).astype(np.float32) / 255.0
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, DESCR=f"SVHN {subset} split read from {folder}.")
