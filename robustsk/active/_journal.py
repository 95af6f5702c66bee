"""A durable, append-only, locked journal of every answer an oracle gave.

One line per record: the record as compact JSON with a ``"crc"`` field last, the
BLAKE2b digest (8 bytes, hex) of the text before it (closed with ``}``), so a torn or
corrupted line is detected, not only an unparsable one. Every record has a ``"kind"``:
``"label"`` (:class:`ActiveLearner`: ``key``, ``label``, ``index``, ``shape``, ``x``),
``"ask"`` and ``"level"`` (the AQPL learner: a query about to be asked, and its answer).
Lines of the first format (no checksum) are still read.

Only the last line, without its newline, can be a record cut short by a crash (a
torn tail): the start of a record (``{``) or NUL bytes (the size grew before the
data reached the disk), printable ASCII otherwise. Anything else that is not a
record -- a complete line, an empty line, binary data, a file that is not a journal
-- is damage: a ``ValueError`` naming ``file:line``, and the file is left as it is.
"""

from __future__ import annotations

import base64
import datetime as _dt
import errno
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


def _flock_holders(fd: int) -> list[int]:
    """The processes holding a ``flock`` on the file open as ``fd`` (Linux's /proc/locks)."""
    st = os.fstat(fd)
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    exact, same_inode = [], []
    try:
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            pid = int(fields[4])
        except ValueError:
            continue
        if fields[5] == dev:
            exact.append(pid)
        elif fields[5].rsplit(":", 1)[-1] == str(st.st_ino):  # an overlay may show another dev
            same_inode.append(pid)
    return sorted(set(exact or (same_inode if len(same_inode) == 1 else [])))


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


def _label_type(label: Any) -> str:
    """The JSON type of a recorded label: ``"bool"``, ``"int"``, ``"float"``, ``"str"`` or other."""
    for name, types in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if isinstance(label, types):
            return name
    return type(label).__name__


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
    if not isinstance(record, dict) or "kind" in record or "crc" in record:
        return None  # the first format had neither: a damaged record of the second one
    if {"key", "label", "shape", "x"} <= record.keys():
        return {**record, "kind": "label"}
    if {"index", "sigma"} <= record.keys() and "key" not in record:
        return {"kind": "level", "index": record["index"], "sigma": record["sigma"]}
    return None


#: Bytes a torn write of this journal can leave: its printable ASCII, and NULs (blocks
#: whose data did not reach the disk before the crash).
_TORN_BYTES = bytes([0]) + bytes(range(0x20, 0x7F))


def _could_be_torn(tail: bytes) -> bool:
    """Whether ``tail`` (the last line, without a newline) can be a record cut short."""
    if tail.translate(None, _TORN_BYTES):
        return False  # binary, a tab, a carriage return: not written by this journal
    head = tail.split(b"\0", 1)[0]
    if head and not (head.startswith(b'{"') or head == b"{"):
        return False  # every record starts with '{"'
    if b"\0" not in tail:
        try:
            json.loads(tail)
        except ValueError:
            return True  # the start of a record
        return _decode(tail) is not None  # a whole JSON value is only a record missing "\n"
    return True


def _describe(line: bytes) -> str:
    """What a line that is not a record looks like, for an error message."""
    shown = line[:60] + (b"..." if len(line) > 60 else b"")
    if not line.strip():
        return "an empty line"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data {shown!r}"
    try:
        json.loads(text)
    except ValueError:
        return f"not JSON: {shown!r}"
    if _CRC in text:
        return f"a record whose checksum does not match its content: {shown!r}"
    return f"JSON without a journal checksum: {shown!r}"


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
    carries a checksum of its content; see the module notes for the format. A
    write or sync that fails (a full disk, a file-size limit, an I/O error) cuts
    the file back to its size before that write (``ftruncate``) and raises: none
    of the records of a failed call stays, and the next append never glues onto a
    fragment (if even the cut fails, the next append makes it first, or raises).

    Opening the journal for writing (:meth:`open`, or the first append) takes an
    exclusive lock on the journal file itself (``flock`` on its open descriptor;
    released by :meth:`close`, by garbage collection or when the process dies,
    even by ``kill -9``): a second journal object on the same file -- through any
    path: a symlink, a hard link, a relative path -- in this process or another,
    fails at once with a ``RuntimeError`` naming the process that holds it. Then a
    torn tail -- a last line without its newline that can be the start of a record,
    left by a crash in the middle of a write -- is cut, its bytes kept in
    ``<path>.torn-<time>``, with a warning, so a later append never glues onto a
    fragment. Anything else that is not a record (a complete line, an empty line,
    binary data, a file that is not a journal) is damage: opening and reading
    raise ``ValueError`` naming ``file:line``, and leave the file as it is.

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
        self.path = Path(os.fsdecode(os.fspath(path)))
        self._reset()

    def _reset(self) -> None:
        self._fds: list[int] = []  # [journal fd, (Windows) lock fd] while open
        self._finalizer: weakref.finalize | None = None
        self._size = 0  # where the valid records end, as this object wrote or checked them
        self._cut: int | None = None  # a failed write not yet cut back: its start

    # ------------------------------------------------------------ open / close
    @property
    def is_open(self) -> bool:
        """Whether this object holds the lock (and may append)."""
        return bool(self._fds)

    def open(self) -> AnswerJournal:
        """Take the lock, cut a torn tail (kept aside, with a warning); return ``self``.

        Raises
        ------
        RuntimeError
            If another journal object (of any process, through any path to the
            same file) holds the lock.
        ValueError
            If the file holds anything but records and a torn tail (the file is
            left unchanged).
        """
        if self._fds:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fds: list[int] = []
        try:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:  # (or a dangling symlink: its target is created)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            fds.append(fd)
            fds.extend(self._lock(fd))
            if os.fstat(fd).st_size == 0:  # created (or empty): make its entry durable
                os.fsync(fd)
                _fsync_dir(Path(os.path.realpath(self.path)).parent)
            self._repair(fd)
        except BaseException:
            _close_fds(fds)
            raise
        self._fds = fds
        self._cut = None
        self._finalizer = weakref.finalize(self, _close_fds, fds)
        return self

    def _lock(self, fd: int) -> list[int]:
        """Lock the open journal ``fd`` (the file itself, whatever path names it)."""
        if sys.platform == "win32":  # pragma: no cover - byte locks there are mandatory
            return self._lock_beside(fd)
        if not _try_lock(fd):
            holders = _flock_holders(fd)
            holder = (
                "held by pid " + ", ".join(map(str, holders))
                if holders
                else "held by another process"
            )
            raise RuntimeError(
                f"the answer journal {self.path} is in use by another learner ({holder}; the "
                f"lock is on the file {os.path.realpath(self.path)} itself, shared by every "
                "path or link to it); two learners on one journal would apply answers twice. "
                "Close the other learner (close(), or let its process end) or give this one "
                "another journal."
            )
        return []

    def _lock_beside(self, fd: int) -> list[int]:  # pragma: no cover - Windows only
        """Windows: a lock file beside the file's real path (symlinks share it)."""
        lock_path = Path(os.path.realpath(self.path) + ".lock")
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(lock_fd):
            os.close(lock_fd)
            try:
                text = lock_path.read_text().strip()
            except OSError:
                text = ""
            holder = f"held by {text}" if text.startswith("pid ") else "held by another process"
            raise RuntimeError(
                f"the answer journal {self.path} is in use by another learner ({holder}, lock "
                f"{lock_path}); two learners on one journal would apply answers twice. Close "
                "the other learner (close(), or let its process end) or give this one another "
                "journal."
            )
        os.ftruncate(lock_fd, 0)
        os.write(lock_fd, f"pid {os.getpid()}\n".encode())
        return [lock_fd]

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
        self._reset()

    def _repair(self, fd: int) -> None:
        """Check the whole file; cut a torn tail (kept aside). Damage raises, changing nothing."""
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if hasattr(os, "pread") else self.path.read_bytes()
        _, good_end, line = self._scan(data)
        self._size = good_end
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
        """``(records, end of the valid part, line of the torn tail or 0)``.

        Every complete line must be a record; only the last line, without its
        newline, may be a torn tail (:func:`_could_be_torn`). Anything else raises
        ``ValueError`` naming ``file:line``.
        """
        records: list[dict[str, Any]] = []
        pos, number = 0, 0
        while pos < len(data):
            number += 1
            nl = data.find(b"\n", pos)
            if nl < 0:  # the last line, without its newline
                tail = data[pos:]
                if _could_be_torn(tail):
                    return records, pos, number
                raise self._damage(number, tail, records, last=True)
            record = _decode(data[pos:nl])
            if record is None:
                raise self._damage(number, data[pos:nl], records, last=False)
            records.append(record)
            pos = nl + 1
        return records, pos, 0

    def _damage(self, number: int, line: bytes, records: list[Any], *, last: bool) -> ValueError:
        """The error for line ``number``, which is not a record (nor a torn tail)."""
        where = (
            "the last line, without a newline, but not the start of a record cut short by a crash"
            if last
            else "a complete line: not a record cut short by a crash"
        )
        what = (
            " The file holds no journal record before it: is this an answer journal?"
            if not records
            else ""
        )
        return ValueError(
            f"{self.path}:{number} is not a valid journal record ({_describe(line)}; {where})."
            f"{what} The file was left unchanged: repair or remove that line by hand, or give "
            "the learner another journal path."
        )

    # ------------------------------------------------------------------ writing
    def append_records(self, records: Sequence[dict[str, Any]]) -> None:
        """Write records (dicts with a ``"kind"``) durably, in one write.

        All or nothing: if the write or the sync fails, the file is cut back to
        its size before it and the error is raised.

        Parameters
        ----------
        records : sequence of dict
            JSON-serialisable records with finite numbers; a ``"time"`` is added.
        """
        if not records:
            return
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        for r in records:
            if not isinstance(r.get("kind"), str):
                raise ValueError(f"a journal record needs a 'kind' string, got {r!r}.")
        data = b"".join(_encode({**r, "time": r.get("time", now)}) for r in records)
        self.open()
        fd = self._fds[0]
        start = self._end(fd)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(errno.EIO, f"no byte written to {self.path}")
                view = view[n:]
            os.fsync(fd)
        except BaseException:
            self._cut_back(fd, start)
            raise
        self._size = start + len(data)

    def _end(self, fd: int) -> int:
        """The size to append at: a failed write cut back first; a file changed behind
        this object's back checked again (damage raises)."""
        if self._cut is not None:  # raises again if it still fails: nothing is appended
            os.ftruncate(fd, self._cut)
            os.fsync(fd)
            self._cut = None
        if os.fstat(fd).st_size != self._size:
            self._repair(fd)
        return self._size

    def _cut_back(self, fd: int, start: int) -> None:
        """Cut the file back to ``start`` after a failed write (or leave it to the next one)."""
        try:
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError:
            self._cut = start
        else:
            self._size = start

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
        rows = []
        for number, r in enumerate(records, 1):  # every line is a record: number = line
            try:
                rows.append(
                    np.frombuffer(
                        base64.b64decode(r["x"], validate=True), dtype=np.float32
                    ).reshape(r["shape"])
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"{self.path}:{number}: the record's example cannot be read ({exc}); the "
                    "file was altered."
                ) from None
        shapes = [row.shape for row in rows]
        odd = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), None)
        if odd is not None:
            raise ValueError(
                f"{self.path}:{odd + 1}: an example of shape {shapes[odd]}, but line 1 holds "
                f"one of shape {shapes[0]}: a journal holds examples of one shape."
            )
        kinds = [_label_type(r.get("label")) for r in records]
        family = ["number" if k in ("int", "float") else k for k in kinds]
        odd = next((i for i, f in enumerate(family) if f != family[0]), None)
        if family[0] not in ("bool", "number", "str"):
            raise ValueError(
                f"{self.path}:1: a label of type {kinds[0]} ({records[0].get('label')!r}); "
                "journal labels are numbers, strings or booleans."
            )
        if odd is not None:
            raise ValueError(
                f"{self.path}:{odd + 1}: a label of type {kinds[odd]} "
                f"({records[odd].get('label')!r}), but line 1 holds one of type {kinds[0]}: "
                "the labels of one journal are all numbers, all strings or all booleans."
            )
        X = np.stack(rows)
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
