"""A durable, append-only journal of every answer an oracle gave."""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def row_keys(X: ArrayLike) -> np.ndarray:
    """A content key (hex digest) for each row of ``X``, independent of its position.

    Parameters
    ----------
    X : array-like of shape (n, ...)
        Rows (cast to float32 before hashing).

    Returns
    -------
    keys : ndarray of str, shape (n,)
    """
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    flat = X.reshape(X.shape[0], -1)
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in flat])


def _to_json_label(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


class AnswerJournal:
    """Append-only JSON-lines file of taught ``(x, label)`` pairs, durable on return.

    Each :meth:`append` writes one line per example -- the row's content key,
    its label, its position in the pool it was queried from (if known), and the
    row itself -- then flushes and syncs it to disk (``fsync``) before returning, so an answer
    is on disk before anything else (such as training) can fail. A torn last
    line (a crash during a write) is skipped with a warning on reading.

    Parameters
    ----------
    path : str or path-like
        The journal file; created on first append.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(os.fspath(path))

    def append(
        self, X: ArrayLike, y: ArrayLike, indices: Sequence[int] | np.ndarray | None = None
    ) -> None:
        """Record the examples ``X`` with labels ``y`` (and pool positions ``indices``)."""
        X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
        keys = row_keys(X)
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        lines = []
        for i in range(X.shape[0]):
            lines.append(
                json.dumps(
                    {
                        "key": keys[i],
                        "label": _to_json_label(np.asarray(y)[i]),
                        "index": None if indices is None else int(indices[i]),
                        "shape": list(X.shape[1:]),
                        "x": base64.b64encode(X[i].tobytes()).decode("ascii"),
                        "time": now,
                    }
                )
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def records(self) -> list[dict[str, Any]]:
        """All complete records, in the order they were written."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                if number >= len(lines) - 1:  # the last line was cut by a crash
                    warnings.warn(
                        f"{self.path}: skipping an incomplete last line.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                else:
                    raise ValueError(f"{self.path}:{number} is not a journal record.") from None
        return out

    def load(self) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, list[int | None]]:
        """``(X, y, keys, indices)`` of every recorded answer (``X`` is None if empty)."""
        records = self.records()
        if not records:
            return None, np.empty(0), np.empty(0, dtype=str), []
        X = np.stack(
            [
                np.frombuffer(base64.b64decode(r["x"]), dtype=np.float32).reshape(r["shape"])
                for r in records
            ]
        )
        y = np.array([r["label"] for r in records])
        keys = np.array([r["key"] for r in records])
        return X, y, keys, [r["index"] for r in records]

    def __len__(self) -> int:
        return len(self.records())
