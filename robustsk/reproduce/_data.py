"""The images a reproduction runs on: a data set from a folder, else the embedded digits.

Importing it imports nothing heavy; the command line checks a folder with
:func:`data_problem` (file names only) before any data is read, and reads it with
:func:`load_split`.
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


#: Each data set a reproduction can take (``--dataset NAME``): its title, the files
#: ``--data`` must hold (each with the spellings accepted) and the subfolder the
#: archive unpacks to, which ``--data`` may also point above.
DATASETS: dict[str, dict] = {
    "mnist": {"title": "MNIST", "files": MNIST_FILES, "folder": None},
    "fashion-mnist": {"title": "Fashion-MNIST", "files": MNIST_FILES, "folder": None},
    "svhn": {"title": "SVHN", "files": ("train_32x32.mat", "test_32x32.mat"), "folder": None},
    "cifar10": {
        "title": "CIFAR-10",
        "files": tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",),
        "folder": "cifar-10-batches-py",
    },
    # Built from CIFAR-10's files (robustsk.datasets.make_doubled).
    "doubled-cifar": {
        "title": "Doubled CIFAR-10",
        "files": tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",),
        "folder": "cifar-10-batches-py",
    },
}


def dataset_title(name: str) -> str:
    """The printed name of a data set of :data:`DATASETS` (``"cifar10"`` -> ``"CIFAR-10"``)."""
    return DATASETS[name]["title"]


def data_problem(dataset: str, folder: str) -> str | None:
    """Why ``folder`` cannot hold ``dataset``'s files, or None. Looks at file names only."""
    if dataset not in DATASETS:
        return f"unknown data set {dataset!r}; choose from {', '.join(DATASETS)}"
    spec = DATASETS[dataset]
    if spec["files"] is MNIST_FILES:
        problem = mnist_problem(folder)
        return problem and problem.replace("(MNIST's idx files)", f"({spec['title']}'s idx files)")
    path = Path(folder)
    if not path.is_dir():
        return f"{folder!r} is not a folder; it should hold {spec['title']}'s files"
    if spec["folder"] and (path / spec["folder"]).is_dir():
        path = path / spec["folder"]
    missing = [name for name in spec["files"] if not (path / name).is_file()]
    if missing:
        return f"{str(path)!r} lacks {', '.join(missing)} ({spec['title']}'s files)"
    return None


def load_split(
    dataset: str, folder: str, n_train: int, n_test: int, *, random_state: int = 0
) -> tuple[Any, Any, Any, Any]:
    """The first ``n_train`` training and ``n_test`` test images of ``dataset`` in ``folder``:
    ``(X_train, y_train, X_test, y_test)``, float32 ``(n, c, h, w)`` in [0, 1].

    ``"doubled-cifar"`` reads CIFAR-10 and builds Doubled CIFAR-10 from it
    (:func:`robustsk.datasets.make_doubled`, seeded by ``random_state`` and
    ``random_state + 1`` for the two splits), so one example per CIFAR-10 image.
    """
    from .. import datasets

    if dataset in ("mnist", "fashion-mnist"):
        load = datasets.load_mnist if dataset == "mnist" else datasets.load_fashion_mnist
    elif dataset == "svhn":
        load = datasets.load_svhn
    elif dataset in ("cifar10", "doubled-cifar"):
        load = datasets.load_cifar10
    else:
        raise ValueError(f"dataset={dataset!r}: choose from {', '.join(DATASETS)}")
    X, y = load(folder, subset="train", n_samples=n_train, return_X_y=True)
    X_test, y_test = load(folder, subset="test", n_samples=n_test, return_X_y=True)
    if dataset == "doubled-cifar":
        X, y = datasets.make_doubled(X, y, random_state=random_state)
        X_test, y_test = datasets.make_doubled(X_test, y_test, random_state=random_state + 1)
    return X, y, X_test, y_test


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
