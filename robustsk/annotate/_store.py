"""SQLite store of level queries and answers: an answer is on disk before it is acknowledged."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._validation import (
    INT64_MAX,
    INT64_MIN,
    QueryFieldError,
    check_current_sigma,
    check_example,
    check_label,
    check_level,
    check_query,
    check_seed,
    check_shape,
    check_sigmas,
    check_x,
)

logger = logging.getLogger("robustsk.annotate")

#: Seconds a writer waits for another connection (another server on the same file) to finish.
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT UNIQUE NOT NULL,
    example INTEGER NOT NULL,
    label TEXT,
    shape TEXT NOT NULL,
    x BLOB NOT NULL,
    sigmas TEXT NOT NULL,
    current_sigma REAL NOT NULL,
    seed INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    query INTEGER PRIMARY KEY REFERENCES queries(id),
    sigma REAL NOT NULL,
    answered REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS unreadable (
    query INTEGER PRIMARY KEY REFERENCES queries(id),
    reason TEXT NOT NULL,
    found REAL NOT NULL
);
"""

_SELECT = (
    "SELECT q.id, q.example, q.label, q.shape, q.x, q.sigmas, q.current_sigma, q.seed, a.sigma"
    " FROM queries q LEFT JOIN answers a ON a.query = q.id WHERE q.id = ?"
)


class QueryStore:
    """Level queries and their answers in one SQLite file (``synchronous=FULL``).

    Every query is checked (:func:`check_query`) before it is stored, so a bad
    row cannot be written through this class. A row that cannot be read back
    (written by an older version or by hand) is logged, recorded in the
    ``unreadable`` table and skipped, so it never stops the other queries from
    being served. Several stores (several servers) may share one file: adding
    the same query from two of them at once yields one row and one id.

    Parameters
    ----------
    path : str or path-like
        The database file (created if missing); ``":memory:"`` for a throwaway store.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding the file's write lock from its start."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add(
        self,
        example: int,
        x: ArrayLike,
        label: object,
        sigmas: Iterable[float],
        current_sigma: float,
        seed: int,
    ) -> int:
        """Store a query (or find the same one stored before); return its id.

        Parameters
        ----------
        example : int
            The learner's id of the example, in SQLite's 64-bit range.
        x : array-like
            The clean example (1 to 4 dimensions, finite float32 values).
        label : None, bool, int, float or str
            Its label.
        sigmas : iterable of float
            The ladder: finite levels >= 0, strictly increasing.
        current_sigma : float
            The example's current level, finite and >= 0.
        seed : int
            Seed of the ladder's noise pattern, in ``[0, 2**63 - 1]``.

        Returns
        -------
        qid : int
            The same id for the same ``(example, seed, x, sigmas)``, whichever
            process stored it first.

        Raises
        ------
        QueryFieldError
            A ``ValueError`` naming the bad field; nothing is stored.
        """
        example, arr, label, levels, current, seed = check_query(
            example, x, label, sigmas, current_sigma, seed
        )
        digest = hashlib.blake2b(arr.tobytes() + json.dumps(levels).encode(), digest_size=12)
        key = f"{example}:{seed}:{digest.hexdigest()}"
        with self._write() as db:
            db.execute(
                "INSERT INTO queries (key, example, label, shape, x, sigmas, current_sigma, seed,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
                (
                    key,
                    example,
                    json.dumps(label, allow_nan=False),
                    json.dumps(list(arr.shape)),
                    arr.tobytes(),
                    json.dumps(levels, allow_nan=False),
                    current,
                    seed,
                    time.time(),
                ),
            )
            row = db.execute("SELECT id FROM queries WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def get(self, qid: int) -> dict[str, Any] | None:
        """The query ``qid`` as a dict (with ``answer`` None while open).

        Parameters
        ----------
        qid : int
            The query's id.

        Returns
        -------
        query : dict or None
            Keys ``id, example, label, x, sigmas, current_sigma, seed, answer``;
            None for an unknown id or a row that cannot be read (logged and skipped).
        """
        if not INT64_MIN <= int(qid) <= INT64_MAX:
            return None
        with self._lock:
            row = self._db.execute(_SELECT, (int(qid),)).fetchone()
        if row is None:
            return None
        try:
            return _decode(row)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            self._mark_unreadable(int(qid), str(exc) or type(exc).__name__)
            return None

    def _mark_unreadable(self, qid: int, reason: str) -> None:
        logger.warning("query %d cannot be read and is skipped: %s", qid, reason)
        try:
            with self._write() as db:
                db.execute(
                    "INSERT OR IGNORE INTO unreadable (query, reason, found) VALUES (?, ?, ?)",
                    (qid, reason[:500], time.time()),
                )
        except sqlite3.Error as exc:  # a read-only file: keep serving, skip it in memory
            logger.warning("could not record unreadable query %d: %s", qid, exc)

    def next_open(self) -> int | None:
        """Id of the oldest unanswered, readable query, or None."""
        after = INT64_MIN
        while True:
            with self._lock:
                row = self._db.execute(
                    "SELECT q.id FROM queries q LEFT JOIN answers a ON a.query = q.id"
                    " LEFT JOIN unreadable u ON u.query = q.id"
                    " WHERE a.query IS NULL AND u.query IS NULL AND q.id > ?"
                    " ORDER BY q.id LIMIT 1",
                    (after,),
                ).fetchone()
            if row is None:
                return None
            if self.get(int(row[0])) is not None:
                return int(row[0])
            after = int(row[0])

    def progress(self) -> dict[str, int]:
        """``{"answered": ..., "total": ...}`` over the readable queries."""
        with self._lock:
            total = self._db.execute(
                "SELECT COUNT(*) FROM queries WHERE id NOT IN (SELECT query FROM unreadable)"
            ).fetchone()[0]
            answered = self._db.execute(
                "SELECT COUNT(*) FROM answers WHERE query NOT IN (SELECT query FROM unreadable)"
            ).fetchone()[0]
        return {"answered": int(answered), "total": int(total)}

    def answer(self, qid: int, sigma: float) -> float:
        """Record an answer durably and return the stored level.

        Parameters
        ----------
        qid : int
            The query's id.
        sigma : float
            The chosen level; it must be on the query's ladder (within 1e-9).

        Returns
        -------
        level : float
            The ladder's value that was stored (not the float that was sent).

        Raises
        ------
        KeyError
            Unknown (or unreadable) query.
        ValueError
            ``sigma`` is not a finite number on the ladder.
        RuntimeError
            The query is already answered.
        """
        value = check_level(sigma, "sigma")
        query = self.get(qid)
        if query is None:
            raise KeyError(f"unknown query {qid}")
        if query["answer"] is not None:
            raise RuntimeError(f"query {qid} is already answered (sigma={query['answer']})")
        hit = [s for s in query["sigmas"] if abs(s - value) < 1e-9]
        if not hit:
            raise QueryFieldError(
                "sigma",
                f"{value!r} is not on query {qid}'s ladder "
                f"({query['sigmas'][0]} to {query['sigmas'][-1]})",
            )
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO answers (query, sigma, answered) VALUES (?, ?, ?)",
                    (int(qid), hit[0], time.time()),
                )
            except sqlite3.IntegrityError:
                raise RuntimeError(f"query {qid} is already answered") from None
        return hit[0]

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _decode(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored row as a query dict, checked by the same rules as a new query."""
    x = np.frombuffer(row[4], dtype=np.float32)
    shape = check_shape(json.loads(row[3]), x.size)
    sigmas = check_sigmas(json.loads(row[5]))
    return {
        "id": int(row[0]),
        "example": check_example(row[1]),
        "label": check_label(json.loads(row[2]) if row[2] is not None else None),
        "x": check_x(x.reshape(shape)),
        "sigmas": sigmas,
        "current_sigma": check_current_sigma(row[6]),
        "seed": check_seed(row[7]),
        "answer": None if row[8] is None else float(row[8]),
    }
