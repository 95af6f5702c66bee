"""Fitted models a reproduction saves as it goes, and reuses when asked to resume."""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

#: Parameters that do not change what a model learns: a resumed run may differ in them.
_IGNORED = frozenset({"verbose", "device"})


def save_model(estimator: Any, path: str | os.PathLike) -> None:
    """Pickle ``estimator`` to ``path`` atomically: a crash leaves the old file or the new one.

    The pickle goes to a temporary file in the same folder, is synced to disk
    and then renamed over ``path``, so a run killed while saving never leaves a
    torn model for ``resume`` to trip on.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(estimator, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 -> what open() would have given
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def training_size(estimator: Any) -> int | None:
    """Examples seen in the first epoch of a fitted skorch net (its training set size)."""
    try:
        return int(sum(b["train_batch_size"] for b in estimator.history[0]["batches"]))
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def load_matching_model(path: str | os.PathLike, expected: Any, n_train: int) -> Any | None:
    """The model saved at ``path`` if it was fitted like ``expected`` on ``n_train`` examples.

    Parameters
    ----------
    path : path-like
        A pickle written by :func:`save_model` (or an earlier run). Pickles run
        code when loaded: resume only from folders you wrote.
    expected : estimator
        The unfitted model the run would train; the saved one must have the
        same type and parameters (``verbose`` and ``device`` aside).
    n_train : int
        Training examples the run would use.

    Returns
    -------
    model : fitted estimator or None
        None when there is no file, or it cannot be read (a torn write of an
        older version; a warning says so and the model is trained again).

    Raises
    ------
    ValueError
        When the saved model was trained with other settings: its file is not
        overwritten silently; the message names each differing parameter.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            saved = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        warnings.warn(
            f"{path} cannot be read ({type(exc).__name__}: {exc}); training that model again.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    differences = _differences(saved, expected, n_train)
    if differences:
        raise ValueError(
            f"resume: {path} was trained with other settings ({'; '.join(differences)}); "
            "give another output folder, or delete the file to train it again."
        )
    return saved


def _differences(saved: Any, expected: Any, n_train: int) -> list[str]:
    """What differs between a saved model and the one a run would train, in words."""
    if type(saved) is not type(expected):
        return [f"a {type(saved).__name__}, this run trains a {type(expected).__name__}"]
    if not hasattr(saved, "history") or not len(saved.history):
        return ["it is not fitted"]
    mine, theirs = saved.get_params(deep=False), expected.get_params(deep=False)
    out = [
        f"{key}={mine.get(key)!r}, this run {theirs.get(key)!r}"
        for key in sorted(set(mine) | set(theirs))
        if not key.startswith("_")
        and key not in _IGNORED
        and not _same(mine.get(key), theirs.get(key))
    ]
    seen = training_size(saved)
    if seen != n_train:
        out.append(f"{seen} training examples, this run {n_train}")
    return out


def _same(a: Any, b: Any) -> bool:
    """Parameter equality that survives arrays and objects compared by identity.

    Objects without their own ``__eq__`` (a module or a ``functools.partial``
    given as a parameter) are rebuilt by every run, so two of the same type
    count as equal when their reprs are; a repr that shows the object's
    address never matches, which refuses rather than reuses.
    """
    try:
        if bool(a == b):
            return True
    except (TypeError, ValueError):  # e.g. arrays: an ambiguous truth value
        pass
    return type(a) is type(b) and repr(a) == repr(b)
