"""The images a reproduction runs on: MNIST from a folder, else the embedded digits.

Importing it imports nothing heavy; the command line checks a folder with
:func:`mnist_problem` before any data is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: MNIST's four idx files, each plain or gzip-compressed (``.gz``), also spelled
#: ``train-images.idx3-ubyte``: what ``--mnist`` must hold (as ``load_mnist`` reads it).
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: Images of the embedded digits (scikit-learn's 1,797) for a reproduction without
#: ``--mnist``: a stratified split, upsampled to MNIST's 28x28.
DIGITS_N_TEST = 300
DIGITS_N_TRAIN = 1797 - DIGITS_N_TEST


def mnist_problem(folder: str) -> str | None:
    """Why ``folder`` is not an MNIST folder, or None. Looks at file names only."""
    path = Path(folder)
    if not path.is_dir():
        return f"{folder!r} is not a folder; it should hold MNIST's four idx files"
    missing = []
    for stem in MNIST_FILES:
        dotted = stem.replace("-idx", ".idx")
        if not any((path / n).is_file() for n in (stem, stem + ".gz", dotted, dotted + ".gz")):
            missing.append(f"{stem}[.gz]")
    if missing:
        return f"{folder!r} lacks {', '.join(missing)} (MNIST's idx files)"
    return None


def load_mnist_split(folder: str, n_train: int, n_test: int) -> tuple[Any, Any, Any, Any]:
    """The first ``n_train`` training and ``n_test`` test images of the MNIST in ``folder``:
    ``(X_train, y_train, X_test, y_test)``."""
    from ..datasets import load_mnist

    X, y = load_mnist(folder, subset="train", n_samples=n_train, return_X_y=True)
    X_test, y_test = load_mnist(folder, subset="test", n_samples=n_test, return_X_y=True)
    return X, y, X_test, y_test


def digits_as_mnist() -> tuple[Any, Any, Any, Any]:
    """scikit-learn's digits as MNIST-like data: ``(X_train, y_train, X_test, y_test)``.

    The 8x8 images in [0, 1] are upsampled (bilinear) to 20x20 and padded to 28x28,
    as MNIST centres its digits in a 20x20 box; a stratified split (seed 0, the same
    for every run) of 1,497 training and 300 test images, float32 of shape
    ``(n, 1, 28, 28)``.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split

    from ..datasets import load_digits_images

    X, y = load_digits_images(return_X_y=True)  # (1797, 1, 8, 8) in [0, 1]
    big = F.interpolate(torch.from_numpy(X), size=(20, 20), mode="bilinear", align_corners=False)
    X28 = np.pad(big.clamp(0, 1).numpy(), ((0, 0), (0, 0), (4, 4), (4, 4)))
    X_train, X_test, y_train, y_test = train_test_split(
        X28, y, test_size=DIGITS_N_TEST, stratify=y, random_state=0
    )
    return X_train, y_train, X_test, y_test
