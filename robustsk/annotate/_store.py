"""SQLite store of level queries and answers: an answer is on disk before it is acknowledged."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

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
"""


class QueryStore:
    """Level queries and their answers in one SQLite file (``synchronous=FULL``).

    Parameters
    ----------
    path : str or path-like
        The database file (created if missing); ``":memory:"`` for a throwaway store.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def add(
        self,
        example: int,
        x: ArrayLike,
        label: object,
        sigmas: Iterable[float],
        current_sigma: float,
        seed: int,
    ) -> int:
        """Store a query (or find the same one stored before a restart); return its id."""
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        sigmas = [round(float(s), 10) for s in sigmas]
        digest = hashlib.blake2b(x.tobytes() + json.dumps(sigmas).encode(), digest_size=12)
        key = f"{int(example)}:{int(seed)}:{digest.hexdigest()}"
        with self._lock:
            row = self._db.execute("SELECT id FROM queries WHERE key = ?", (key,)).fetchone()
            if row:
                return int(row[0])
            cur = self._db.execute(
                "INSERT INTO queries (key, example, label, shape, x, sigmas, current_sigma, seed,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    int(example),
                    json.dumps(_plain(label)),
                    json.dumps(list(x.shape)),
                    x.tobytes(),
                    json.dumps(sigmas),
                    float(current_sigma),
                    int(seed),
                    time.time(),
                ),
            )
            return int(cast(int, cur.lastrowid))  # set by the INSERT

    def get(self, qid: int) -> dict[str, Any] | None:
        """The query ``qid`` as a dict (with ``answer`` None while open), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT q.id, q.example, q.label, q.shape, q.x, q.sigmas, q.current_sigma, q.seed,"
                " a.sigma FROM queries q LEFT JOIN answers a ON a.query = q.id WHERE q.id = ?",
                (int(qid),),
            ).fetchone()
        if row is None:
            return None
        shape = json.loads(row[3])
        return {
            "id": row[0],
            "example": row[1],
            "label": json.loads(row[2]),
            "x": np.frombuffer(row[4], dtype=np.float32).reshape(shape),
            "sigmas": json.loads(row[5]),
            "current_sigma": row[6],
            "seed": row[7],
            "answer": row[8],
        }

    def next_open(self) -> int | None:
        """Id of the oldest unanswered query, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT q.id FROM queries q LEFT JOIN answers a ON a.query = q.id "
                "WHERE a.query IS NULL ORDER BY q.id LIMIT 1"
            ).fetchone()
        return None if row is None else int(row[0])

    def progress(self) -> dict[str, int]:
        """``{"answered": ..., "total": ...}``."""
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
            answered = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        return {"answered": int(answered), "total": int(total)}

    def answer(self, qid: int, sigma: float) -> None:
        """Record an answer durably. Raises KeyError (unknown), ValueError (off the ladder)
        or RuntimeError (already answered)."""
        query = self.get(qid)
        if query is None:
            raise KeyError(f"unknown query {qid}")
        if query["answer"] is not None:
            raise RuntimeError(f"query {qid} is already answered (sigma={query['answer']})")
        hit = [s for s in query["sigmas"] if abs(s - float(sigma)) < 1e-9]
        if not hit:
            raise ValueError(
                f"sigma={sigma!r} is not on query {qid}'s ladder "
                f"({query['sigmas'][0]} to {query['sigmas'][-1]})"
            )
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO answers (query, sigma, answered) VALUES (?, ?, ?)",
                    (int(qid), hit[0], time.time()),
                )
            except sqlite3.IntegrityError:
                raise RuntimeError(f"query {qid} is already answered") from None

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
