"""A durable, append-only, locked journal of every answer an oracle gave.

One line per record: the record as compact JSON with a ``"crc"`` field last, the
BLAKE2b digest (8 bytes, hex) of the text before it (closed with ``}``), so a torn or
corrupted line is detected, not only an unparsable one. Every record has a ``"kind"``:
``"label"`` (:class:`ActiveLearner`: ``key``, ``label``, ``index``, ``shape``, ``x``),
``"ask"`` and ``"level"`` (the AQPL learner: a query about to be asked, and its answer).
Lines of the first format (no checksum) are still read.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import sys
import warnings
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

_CRC = ',"crc":"'

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EWOULDBLOCK: another open file holds it
            return False
        return True


def row_keys(X: ArrayLike) -> np.ndarray:
    """A content key (hex digest) for each row of ``X``, independent of its position.

    Parameters
    ----------
    X : array-like of shape (n, ...)
        Rows (cast to float32 before hashing).

    Returns
    -------
    keys : ndarray of str, shape (n,)
        BLAKE2b (16 bytes) of each row's float32 bytes.
    """
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    flat = X.reshape(X.shape[0], int(np.prod(X.shape[1:])))
    return np.array(
        [hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in flat], dtype="<U32"
    )


def match_rows(record_keys: ArrayLike, data_keys: ArrayLike) -> np.ndarray:
    """The row of ``data_keys`` that each record is about, matched by content.

    Records with the same key take that key's rows in order (one record per
    occurrence of the row), so reordered data maps every answer to its example.

    Parameters
    ----------
    record_keys : array-like of str, shape (n_records,)
        Content keys of the records, in journal order.
    data_keys : array-like of str, shape (n_rows,)
        Content keys of the current data (:func:`row_keys`).

    Returns
    -------
    rows : ndarray of int64, shape (n_records,)
        Row of each record, -1 where the data has no (more) such row.
    """
    rk = np.asarray(record_keys, dtype="<U32")
    dk = np.asarray(data_keys, dtype="<U32")
    rows = np.full(len(rk), -1, dtype=np.int64)
    if len(rk) == 0 or len(dk) == 0:
        return rows
    order = np.argsort(dk, kind="stable")
    uniq, first, counts = np.unique(dk[order], return_index=True, return_counts=True)
    pos = np.minimum(np.searchsorted(uniq, rk), len(uniq) - 1)
    found = uniq[pos] == rk
    # occurrence of each record among the records with its key, in journal order
    r_order = np.argsort(rk, kind="stable")
    srk = rk[r_order]
    start = np.r_[True, srk[1:] != srk[:-1]]
    rank = np.arange(len(srk))
    occ = np.empty(len(rk), dtype=np.int64)
    occ[r_order] = rank - np.maximum.accumulate(np.where(start, rank, 0))
    ok = found & (occ < counts[pos])
    rows[ok] = order[first[pos[ok]] + occ[ok]]
    return rows


def _to_json_label(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def _checksum(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=8).hexdigest()


def _encode(record: dict[str, Any]) -> bytes:
    payload = json.dumps(record, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return (payload[:-1] + _CRC + _checksum(payload.encode("ascii")) + '"}\n').encode("ascii")


def _decode(line: bytes) -> dict[str, Any] | None:
    """The record on one line (without its newline), or None if it is not a valid one."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    cut = text.rfind(_CRC)
    if cut >= 0 and text.endswith('"}'):
        payload = text[:cut] + "}"
        if _checksum(payload.encode("utf-8")) != text[cut + len(_CRC) : -2]:
            return None
        try:
            record = json.loads(payload)
        except ValueError:
            return None
        return record if isinstance(record, dict) and isinstance(record.get("kind"), str) else None
    # the first format: no checksum, so only what parses with the fields it always had
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    if {"key", "label", "shape", "x"} <= record.keys():
        return {**record, "kind": "label"}
    if {"index", "sigma"} <= record.keys() and "key" not in record:
        return {"kind": "level", "index": record["index"], "sigma": record["sigma"]}
    return None


def _fsync_dir(path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - directories cannot be opened there
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _close_fds(fds: list[int]) -> None:
    while fds:
        try:
            os.close(fds.pop())
        except OSError:
            pass


class AnswerJournal:
    """Append-only journal of answers: checksummed, locked, durable on return.

    Each :meth:`append` (or :meth:`append_records`) writes one line per record,
    then flushes and syncs it to disk (``fsync``) before returning, so an answer
    is on disk before anything else (such as training) can fail. Each line
    carries a checksum of its content; see the module notes for the format.

    Opening the journal for writing (:meth:`open`, or the first append) takes an
    exclusive lock on ``<path>.lock`` (``flock``; released by :meth:`close`, by
    garbage collection or when the process dies, even by ``kill -9``): a second
    journal object on the same file, in this process or another, fails at once
    with a ``RuntimeError`` naming the process that holds it. Then a torn tail --
    whatever follows the last complete, valid, newline-terminated record, left by
    a crash in the middle of a write -- is cut, its bytes kept in
    ``<path>.torn-<time>``, with a warning, so a later append never glues onto a
    fragment. A damaged line followed by valid records is not a torn write:
    opening and reading raise ``ValueError`` naming ``file:line``.

    Reading (:meth:`records`, :meth:`load`) takes no lock and skips a torn tail
    with a warning. A pickled or copied journal is closed (it does not carry the
    lock).

    Parameters
    ----------
    path : str or path-like
        The journal file; created on first open.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = tempfile.mkdtemp() + "/answers.jsonl"
    >>> with AnswerJournal(path) as journal:
    ...     journal.append(np.zeros((2, 3)), np.array([0, 1]))
    >>> len(AnswerJournal(path))
    2
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(os.fspath(path))
        self._fds: list[int] = []  # [lock fd, journal fd] while open
        self._finalizer: weakref.finalize | None = None

    # ------------------------------------------------------------ open / close
    @property
    def lock_path(self) -> Path:
        """The lock file, ``<path>.lock``."""
        return self.path.with_name(self.path.name + ".lock")

    @property
    def is_open(self) -> bool:
        """Whether this object holds the lock (and may append)."""
        return bool(self._fds)

    def open(self) -> AnswerJournal:
        """Take the lock, cut a torn tail (kept aside, with a warning); return ``self``.

        Raises
        ------
        RuntimeError
            If another journal object (of any process) holds the lock.
        ValueError
            If a line in the middle of the file is damaged.
        """
        if self._fds:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fds: list[int] = []
        try:
            lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            fds.append(lock_fd)
            if not _try_lock(lock_fd):
                raise RuntimeError(
                    f"the answer journal {self.path} is in use by another learner "
                    f"({self._holder()}, lock {self.lock_path}); two learners on one journal "
                    "would apply answers twice. Close the other learner (close(), or let its "
                    "process end) or give this one another journal."
                )
            os.ftruncate(lock_fd, 0)
            os.write(lock_fd, f"pid {os.getpid()}\n".encode())
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            fds.append(fd)
            if created:
                os.fsync(fd)
                _fsync_dir(self.path.parent)
            self._repair(fd)
        except BaseException:
            _close_fds(fds)
            raise
        self._fds = fds
        self._finalizer = weakref.finalize(self, _close_fds, fds)
        return self

    def close(self) -> None:
        """Release the lock (appending again reopens the journal)."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._fds = []

    def __enter__(self) -> AnswerJournal:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = Path(state["path"])
        self._fds = []
        self._finalizer = None

    def _holder(self) -> str:
        try:
            text = self.lock_path.read_text().strip()
        except OSError:
            text = ""
        return f"held by {text}" if text.startswith("pid ") else "held by another process"

    def _repair(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if hasattr(os, "pread") else self.path.read_bytes()
        _, good_end, line = self._scan(data)
        if good_end == len(data):
            return
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        side = self.path.with_name(f"{self.path.name}.torn-{stamp}-{os.getpid()}")
        with open(side, "wb") as f:
            f.write(data[good_end:])
            f.flush()
            os.fsync(f.fileno())
        os.ftruncate(fd, good_end)
        os.fsync(fd)
        _fsync_dir(self.path.parent)
        warnings.warn(
            f"{self.path}:{line}: cut a torn tail of {len(data) - good_end} bytes (a record "
            f"cut short by a crash, never acknowledged); the bytes are kept in {side}.",
            RuntimeWarning,
            stacklevel=3,
        )

    def _scan(self, data: bytes) -> tuple[list[dict[str, Any]], int, int]:
        """``(records, end of the valid part, first line of the torn tail)``."""
        records: list[dict[str, Any]] = []
        good_end, pos, number, bad = 0, 0, 0, 0
        while pos < len(data):
            number += 1
            nl = data.find(b"\n", pos)
            end = len(data) if nl < 0 else nl
            line = data[pos:end]
            if nl >= 0 and not line.strip():
                if not bad:
                    good_end = nl + 1
            else:
                record = _decode(line) if nl >= 0 else None  # no newline: cut short
                if record is None:
                    bad = bad or number
                elif bad:
                    raise ValueError(
                        f"{self.path}:{bad} is not a valid journal record, and valid records "
                        f"follow (line {number}): the file was damaged, not cut by a crash. "
                        "Repair or remove that line by hand."
                    )
                else:
                    records.append(record)
                    good_end = nl + 1
            pos = end + 1
        return records, good_end, bad

    # ------------------------------------------------------------------ writing
    def append_records(self, records: Sequence[dict[str, Any]]) -> None:
        """Write records (dicts with a ``"kind"``) durably, in one write.

        Parameters
        ----------
        records : sequence of dict
            JSON-serialisable records with finite numbers; a ``"time"`` is added.
        """
        if not records:
            return
        self.open()
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        for r in records:
            if not isinstance(r.get("kind"), str):
                raise ValueError(f"a journal record needs a 'kind' string, got {r!r}.")
        data = memoryview(b"".join(_encode({**r, "time": r.get("time", now)}) for r in records))
        fd = self._fds[1]
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)

    def append(
        self,
        X: ArrayLike,
        y: ArrayLike,
        indices: Sequence[int] | np.ndarray | None = None,
        *,
        keys: Sequence[str] | np.ndarray | None = None,
    ) -> None:
        """Record the examples ``X`` with labels ``y`` (``"label"`` records).

        Parameters
        ----------
        X : array-like of shape (n, ...)
            The examples (stored as float32).
        y : array-like of shape (n,)
            Their labels.
        indices : sequence of int or None, default=None
            Their positions in the pool they were queried from (informative only).
        keys : sequence of str or None, default=None
            Their content keys, when already computed (:func:`row_keys`).
        """
        X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
        y = np.asarray(y)
        keys = row_keys(X) if keys is None else np.asarray(keys)
        shape = list(X.shape[1:])
        self.append_records(
            [
                {
                    "kind": "label",
                    "key": str(keys[i]),
                    "label": _to_json_label(y[i]),
                    "index": None if indices is None else int(indices[i]),
                    "shape": shape,
                    "x": base64.b64encode(X[i].tobytes()).decode("ascii"),
                }
                for i in range(X.shape[0])
            ]
        )

    # ------------------------------------------------------------------ reading
    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        """All complete records (of ``kind``, if given), in the order they were written.

        Parameters
        ----------
        kind : str or None, default=None
            ``"label"``, ``"ask"`` or ``"level"``; None for all.

        Returns
        -------
        records : list of dict
        """
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        out, good_end, line = self._scan(data)
        if good_end < len(data):
            warnings.warn(
                f"{self.path}:{line}: skipping an incomplete last record "
                f"({len(data) - good_end} bytes cut by a crash).",
                RuntimeWarning,
                stacklevel=2,
            )
        return out if kind is None else [r for r in out if r["kind"] == kind]

    def load(self) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, list[int | None]]:
        """``(X, y, keys, indices)`` of every ``"label"`` record (``X`` is None if none).

        Raises
        ------
        ValueError
            If the journal holds other kinds of records, or a record's key does
            not match its example.
        """
        records = self.records()
        other = sorted({r["kind"] for r in records} - {"label"})
        if other:
            raise ValueError(
                f"{self.path} holds {other} records (a PerturbationLevelLearner's journal), "
                "not labelled examples; give the ActiveLearner its own journal."
            )
        if not records:
            return None, np.empty(0), np.empty(0, dtype="<U32"), []
        X = np.stack(
            [
                np.frombuffer(base64.b64decode(r["x"]), dtype=np.float32).reshape(r["shape"])
                for r in records
            ]
        )
        y = np.array([r["label"] for r in records])
        keys = np.array([r["key"] for r in records], dtype="<U32")
        bad = np.flatnonzero(keys != row_keys(X))
        if bad.size:
            raise ValueError(
                f"{self.path}: {bad.size} records hold an example that does not match their "
                f"key (first: record {bad[0] + 1}); the file was altered."
            )
        return X, y, keys, [r["index"] for r in records]

    def __len__(self) -> int:
        return len(self.records())
