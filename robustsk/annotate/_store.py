"""SQLite store of level queries and answers: an answer is on disk before it is acknowledged."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..utils import check_number
from ._validation import (
    DEFAULT_ANNOTATOR,
    INT64_MAX,
    INT64_MIN,
    MAX_LIVE_SKIPS_PER_QUERY,
    MAX_WITHDRAWN_PER_QUERY,
    QueryFieldError,
    check_annotator,
    check_choice,
    check_current_sigma,
    check_example,
    check_label,
    check_level,
    check_query,
    check_seed,
    check_settle_time,
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
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    query INTEGER NOT NULL REFERENCES queries(id),
    annotator TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('level', 'unrecognisable', 'skip')),
    sigma REAL,
    answered REAL NOT NULL,
    withdrawn REAL,
    why TEXT
);
CREATE INDEX IF NOT EXISTS responses_by_query ON responses(query, withdrawn);
CREATE INDEX IF NOT EXISTS responses_by_annotator ON responses(annotator, withdrawn);
CREATE TABLE IF NOT EXISTS collected (
    query INTEGER PRIMARY KEY REFERENCES queries(id),
    sigma REAL NOT NULL,
    collected REAL NOT NULL
);
"""

#: The schema's version (``PRAGMA user_version``). 0: one answer per query, in ``answers``;
#: 1: every response of every annotator in ``responses``, with the answers of a version-0
#: file copied in (as annotator "default", already collected) and ``answers`` kept as it was.
SCHEMA_VERSION = 1

_SELECT = (
    "SELECT q.id, q.example, q.label, q.shape, q.x, q.sigmas, q.current_sigma, q.seed"
    " FROM queries q WHERE q.id = ?"
)
#: A query's live responses (those neither undone, superseded nor displaced), oldest first.
_LIVE = (
    "SELECT annotator, choice, sigma, answered, id FROM responses"
    " WHERE query = ? AND withdrawn IS NULL ORDER BY id"
)
#: Deletes a query's withdrawn responses past the newest ``?`` (by the time withdrawn).
_PRUNE = (
    "DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE query = ?"
    " AND withdrawn IS NOT NULL ORDER BY withdrawn DESC, id DESC LIMIT -1 OFFSET ?)"
)


class QueryStore:
    """Level queries and the answers of one or more annotators, in one SQLite file
    (``synchronous=FULL``).

    Every query is checked (:func:`check_query`) before it is stored, so a bad
    row cannot be written through this class. A row that cannot be read back
    (written by an older version or by hand) is logged, recorded in the
    ``unreadable`` table and skipped, so it never stops the other queries from
    being served. Several stores (several servers) may share one file: adding
    the same query from two of them at once yields one row and one id, and
    every answer is checked and written in one transaction that holds the
    file's write lock.

    **A team of annotators.** Each response names its annotator and is one of:
    a level on the query's ladder, ``"unrecognisable"`` (the content cannot be
    recognised at any level, not even the least noisy one) or ``"skip"`` (pass
    it on; the query comes back to that annotator after their other open ones).
    A query is *settled* once ``answers_per_query`` different annotators have
    given a level or ``"unrecognisable"``; its answer is then the aggregate of
    those responses by ``aggregate`` (an unrecognisable counts as the ladder's
    lowest level): ``"median"``, the lower median, a level on the ladder that no
    single annotator can move past the others; ``"min"``, the level everyone
    still recognised. An undone answer, or a skip followed by an answer, is
    kept with the time it was withdrawn and why.

    **Bounds.** Only *live* responses (neither undone nor superseded) count
    against a query's limits, so no client can fill a query up: an annotator
    has at most one live response per query (skipping again refreshes their
    skip, in place, without a new row); a query takes answers until it is
    settled (at most ``answers_per_query``), and skips never stop an answer;
    past :data:`MAX_LIVE_SKIPS_PER_QUERY` live skips a new annotator's skip
    displaces the oldest one (kept, withdrawn as ``"displaced"``). Hence
    :meth:`next_open` only offers a query the annotator can answer. The
    history is bounded too: past :data:`MAX_WITHDRAWN_PER_QUERY` withdrawn
    responses on a query, the oldest withdrawn ones are deleted.

    **Undo and collection.** :meth:`undo` withdraws an annotator's latest live
    response; :meth:`collect` (what the learner's :class:`HumanOracle` calls)
    freezes the answers of settled queries and returns them, only those whose
    last answer is at least ``settle_time`` seconds old by this store's clock,
    read inside the transaction that freezes them. Both run in one write
    transaction, so an answer the learner has taken can no longer be undone
    (``RuntimeError``), the learner never takes an answer that was withdrawn,
    and never one younger than the ``settle_time`` it asked for.

    Parameters
    ----------
    path : str or path-like
        The database file (created if missing, migrated in place from the
        one-answer schema of earlier versions); ``":memory:"`` for a throwaway store.
    answers_per_query : int, default=1
        Annotators whose answers settle a query (1 to 100). Servers sharing a
        file should use the same value.
    aggregate : {"median", "min"}, default="median"
        How a settled query's answers become its level (see above).
    clock : callable or None, default=None
        The store's clock, in seconds (``time.time`` when None): when answers
        are given and withdrawn, and how old they are when collected. Stores
        sharing a file must share a clock.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        answers_per_query: int = 1,
        aggregate: str = "median",
        clock: Callable[[], float] | None = None,
    ):
        self.answers_per_query = check_number(
            answers_per_query, "answers_per_query", low=1, high=100, integer=True
        )
        if aggregate not in AGGREGATES:
            raise ValueError(
                f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}."
            )
        self.aggregate = aggregate
        self.clock: Callable[[], float] = time.time if clock is None else clock
        self._max_skips = MAX_LIVE_SKIPS_PER_QUERY
        self._max_withdrawn = MAX_WITHDRAWN_PER_QUERY
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
        self._migrate()

    def _migrate(self) -> None:
        """Bring a file of an earlier schema to :data:`SCHEMA_VERSION`, in one transaction."""
        if self._version() >= SCHEMA_VERSION:
            return
        with self._write() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                return  # another store migrated it meanwhile
            # version 0: one final answer per query, which its learner may have read
            db.execute(
                "INSERT INTO responses (query, annotator, choice, sigma, answered)"
                " SELECT query, ?, 'level', sigma, answered FROM answers ORDER BY query",
                (DEFAULT_ANNOTATOR,),
            )
            db.execute(
                "INSERT OR IGNORE INTO collected (query, sigma, collected)"
                " SELECT query, sigma, answered FROM answers"
            )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

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
                    self.clock(),
                ),
            )
            row = db.execute("SELECT id FROM queries WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def get(self, qid: int) -> dict[str, Any] | None:
        """The query ``qid`` as a dict (with ``answer`` None while it is not settled).

        Parameters
        ----------
        qid : int
            The query's id.

        Returns
        -------
        query : dict or None
            Keys ``id, example, label, x, sigmas, current_sigma, seed`` (the
            query), ``answer`` (its aggregated level once settled, else None),
            ``responses`` (its live answers: level or unrecognisable, skips
            excluded), ``unrecognisable`` (how many of them say so),
            ``settled_at`` (time of the answer that settled it, else None) and
            ``collected`` (whether the learner has taken the answer); None for
            an unknown id or a row that cannot be read (logged and skipped).
        """
        if not INT64_MIN <= int(qid) <= INT64_MAX:
            return None
        with self._lock:
            row = self._db.execute(_SELECT, (int(qid),)).fetchone()
            if row is None:
                return None
            live = self._db.execute(_LIVE, (int(qid),)).fetchall()
            taken = self._db.execute(
                "SELECT sigma FROM collected WHERE query = ?", (int(qid),)
            ).fetchone()
        try:
            query = _decode(row)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            self._mark_unreadable(int(qid), str(exc) or type(exc).__name__)
            return None
        answers = [r for r in live if r[1] != "skip"]
        query["responses"] = len(answers)
        query["unrecognisable"] = sum(r[1] == "unrecognisable" for r in answers)
        query["settled_at"] = None
        query["answer"] = None
        query["collected"] = taken is not None
        if taken is not None:
            query["answer"] = float(taken[0])
            query["settled_at"] = max((r[3] for r in answers), default=None)
        elif len(answers) >= self.answers_per_query:
            query["answer"] = self._aggregate(query["sigmas"], answers)
            query["settled_at"] = max(r[3] for r in answers)
        return query

    def _aggregate(self, sigmas: list[float], answers: list[tuple[Any, ...]]) -> float:
        """The level of a settled query: ``aggregate`` over its answers (an unrecognisable
        is the ladder's lowest level)."""
        values = sorted(sigmas[0] if r[1] == "unrecognisable" else float(r[2]) for r in answers)
        if self.aggregate == "min":
            return values[0]
        return values[(len(values) - 1) // 2]  # the lower median: a level on the ladder

    def _mark_unreadable(self, qid: int, reason: str) -> None:
        logger.warning("query %d cannot be read and is skipped: %s", qid, reason)
        try:
            with self._write() as db:
                db.execute(
                    "INSERT OR IGNORE INTO unreadable (query, reason, found) VALUES (?, ?, ?)",
                    (qid, reason[:500], self.clock()),
                )
        except sqlite3.Error as exc:  # a read-only file: keep serving, skip it in memory
            logger.warning("could not record unreadable query %d: %s", qid, exc)

    def next_open(self, annotator: str = DEFAULT_ANNOTATOR) -> int | None:
        """Id of the query ``annotator`` should see next, or None.

        The oldest readable query that is not settled and that ``annotator``
        has not answered; the ones they skipped come after all the others.

        Parameters
        ----------
        annotator : str, default="default"
            Who asks (see :func:`check_annotator`).
        """
        annotator = check_annotator(annotator)
        after = (-1, INT64_MIN)
        while True:
            with self._lock:
                row = self._db.execute(
                    "SELECT q.id, EXISTS (SELECT 1 FROM responses r WHERE r.query = q.id"
                    "   AND r.annotator = ? AND r.choice = 'skip' AND r.withdrawn IS NULL) AS s"
                    " FROM queries q LEFT JOIN unreadable u ON u.query = q.id"
                    " WHERE u.query IS NULL"
                    " AND q.id NOT IN (SELECT query FROM collected)"
                    " AND (SELECT COUNT(*) FROM responses r WHERE r.query = q.id"
                    "   AND r.choice != 'skip' AND r.withdrawn IS NULL) < ?"
                    " AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.query = q.id"
                    "   AND r.annotator = ? AND r.choice != 'skip' AND r.withdrawn IS NULL)"
                    " AND (s > ? OR (s = ? AND q.id > ?))"
                    " ORDER BY s, q.id LIMIT 1",
                    (annotator, self.answers_per_query, annotator, *after[:1], *after),
                ).fetchone()
            if row is None:
                return None
            if self.get(int(row[0])) is not None:
                return int(row[0])
            after = (int(row[1]), int(row[0]))

    def progress(self) -> dict[str, int]:
        """``{"answered": ..., "total": ...}``: settled and all readable queries."""
        with self._lock:
            total = self._db.execute(
                "SELECT COUNT(*) FROM queries WHERE id NOT IN (SELECT query FROM unreadable)"
            ).fetchone()[0]
            answered = self._db.execute(
                "SELECT COUNT(*) FROM queries q WHERE q.id NOT IN (SELECT query FROM unreadable)"
                " AND (q.id IN (SELECT query FROM collected) OR (SELECT COUNT(*) FROM responses r"
                "   WHERE r.query = q.id AND r.choice != 'skip' AND r.withdrawn IS NULL) >= ?)",
                (self.answers_per_query,),
            ).fetchone()[0]
        return {"answered": int(answered), "total": int(total)}

    def answered_by(self, annotator: str) -> int:
        """How many queries ``annotator`` has a live answer (level or unrecognisable) on."""
        annotator = check_annotator(annotator)
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM responses WHERE annotator = ? AND choice != 'skip'"
                    " AND withdrawn IS NULL",
                    (annotator,),
                ).fetchone()[0]
            )

    def answer(
        self,
        qid: int,
        sigma: float | None = None,
        *,
        annotator: str = DEFAULT_ANNOTATOR,
        choice: str = "level",
    ) -> float | None:
        """Record a response durably; return the stored level.

        Parameters
        ----------
        qid : int
            The query's id.
        sigma : float or None, default=None
            With ``choice="level"``: the chosen level, on the query's ladder
            (within 1e-9); the nearest rung is stored, so a ladder whose rungs
            are closer than that stores the rung that was sent. Must be None for
            the other choices.
        annotator : str, default="default"
            Who answers (see :func:`check_annotator`).
        choice : {"level", "unrecognisable", "skip"}, default="level"
            A level; "not recognisable at any level"; or pass the query on. A
            second skip of the same query by the same annotator refreshes their
            skip (its time and its place in their undo order) without a new row.

        Returns
        -------
        level : float or None
            The ladder's value that was stored (not the float that was sent);
            None for ``"unrecognisable"`` and ``"skip"``.

        Raises
        ------
        KeyError
            Unknown (or unreadable) query.
        ValueError
            A bad ``annotator`` or ``choice``, or ``sigma`` is not a finite number on
            the ladder (or given with another choice).
        RuntimeError
            The query is already settled or taken by the learner, or
            ``annotator`` has answered it (undo first).
        """
        annotator = check_annotator(annotator)
        choice = check_choice(choice)
        if choice == "level":
            value = check_level(sigma, "sigma")
        elif sigma is not None:
            raise QueryFieldError("sigma", f"must be null with choice={choice!r}")
        query = self.get(qid)
        if query is None:
            raise KeyError(f"unknown query {qid}")
        level = None
        if choice == "level":
            ladder = query["sigmas"]
            k = min(range(len(ladder)), key=lambda i: abs(ladder[i] - value))  # by index
            if not abs(ladder[k] - value) < 1e-9:
                raise QueryFieldError(
                    "sigma",
                    f"{value!r} is not on query {qid}'s ladder ({ladder[0]} to {ladder[-1]})",
                )
            level = ladder[k]
        qid = int(qid)
        with self._write() as db:
            live = db.execute(_LIVE, (qid,)).fetchall()
            answers = [r for r in live if r[1] != "skip"]
            if db.execute("SELECT 1 FROM collected WHERE query = ?", (qid,)).fetchone() or (
                len(answers) >= self.answers_per_query
            ):
                raise RuntimeError(f"query {qid} is already answered")
            if any(r[0] == annotator for r in answers):
                raise RuntimeError(
                    f"query {qid} is already answered by {annotator!r} (undo it first)"
                )
            now = self.clock()
            mine = [r[4] for r in live if r[1] == "skip" and r[0] == annotator]
            if choice == "skip" and mine:
                # skipped again: the same row, now the annotator's latest response
                db.execute(
                    "UPDATE responses SET answered = ?,"
                    " id = (SELECT MAX(id) FROM responses) + 1 WHERE id = ?",
                    (now, mine[0]),
                )
                return None
            if choice == "skip":
                skips = [r[4] for r in live if r[1] == "skip"]
                for rid in skips[: max(0, len(skips) - self._max_skips + 1)]:
                    db.execute(  # the oldest skips give way (kept, marked)
                        "UPDATE responses SET withdrawn = ?, why = 'displaced' WHERE id = ?",
                        (now, rid),
                    )
            else:
                # a skip this annotator made before is superseded (kept, with the time)
                db.execute(
                    "UPDATE responses SET withdrawn = ?, why = 'superseded' WHERE query = ?"
                    " AND annotator = ? AND choice = 'skip' AND withdrawn IS NULL",
                    (now, qid, annotator),
                )
            db.execute(
                "INSERT INTO responses (query, annotator, choice, sigma, answered)"
                " VALUES (?, ?, ?, ?, ?)",
                (qid, annotator, choice, level, now),
            )
            db.execute(_PRUNE, (qid, self._max_withdrawn))
        return level

    def undo(self, annotator: str = DEFAULT_ANNOTATOR) -> int:
        """Withdraw ``annotator``'s latest live response (it is kept, marked undone).

        Parameters
        ----------
        annotator : str, default="default"
            Whose response.

        Returns
        -------
        qid : int
            The query it answered, open again for ``annotator``.

        Raises
        ------
        LookupError
            ``annotator`` has no live response.
        RuntimeError
            The learner has already taken that query's answer.
        """
        annotator = check_annotator(annotator)
        with self._write() as db:
            row = db.execute(
                "SELECT id, query FROM responses WHERE annotator = ? AND withdrawn IS NULL"
                " ORDER BY id DESC LIMIT 1",
                (annotator,),
            ).fetchone()
            if row is None:
                raise LookupError(f"{annotator!r} has no answer to undo")
            if db.execute("SELECT 1 FROM collected WHERE query = ?", (row[1],)).fetchone():
                raise RuntimeError(
                    f"the answer to query {row[1]} was already taken by the learner and "
                    "cannot be undone"
                )
            db.execute(
                "UPDATE responses SET withdrawn = ?, why = 'undone' WHERE id = ?",
                (self.clock(), row[0]),
            )
            db.execute(_PRUNE, (row[1], self._max_withdrawn))
        return int(row[1])

    def collect(self, qids: Iterable[int], *, settle_time: float = 0.0) -> dict[int, float | None]:
        """Take the answers of the settled queries among ``qids``, freezing them.

        From then on they cannot be undone or answered again; taking them again
        returns the same levels. Unsettled (or unknown) queries map to None, and
        so do settled ones whose last answer is younger than ``settle_time``
        seconds by :attr:`clock`, read inside the transaction that freezes them.
        Each distinct id is looked at once, and only its ladder is read (never
        its example).

        Parameters
        ----------
        qids : iterable of int
            Query ids (repeats are looked at once).
        settle_time : float, default=0.0
            Seconds the last answer of a query must have stood (in ``[0, 86400]``).

        Returns
        -------
        levels : dict
            ``{qid: level or None}``, one entry per distinct id.
        """
        return {
            qid: None if got is None else got["sigma"]
            for qid, got in self._collect(qids, settle_time).items()
        }

    def _collect(self, qids: Iterable[int], settle_time: float) -> dict[int, Any]:
        """:meth:`collect`, each taken query as ``{"sigma", "responses", "unrecognisable"}``."""
        settle = check_settle_time(settle_time)
        wanted = list(dict.fromkeys(int(q) for q in qids))
        out: dict[int, Any] = {}
        with self._write() as db:
            now = self.clock()  # the server's clock, inside the transaction that takes them
            for qid in wanted:
                out[qid] = None
                if not INT64_MIN <= qid <= INT64_MAX:
                    continue
                answers = [r for r in db.execute(_LIVE, (qid,)).fetchall() if r[1] != "skip"]
                taken = db.execute("SELECT sigma FROM collected WHERE query = ?", (qid,))
                row = taken.fetchone()
                if row is None:
                    row = db.execute(
                        "SELECT sigmas FROM queries WHERE id = ?"
                        " AND id NOT IN (SELECT query FROM unreadable)",
                        (qid,),
                    ).fetchone()
                    if row is None or len(answers) < self.answers_per_query:
                        continue
                    if settle > 0 and not now - max(r[3] for r in answers) >= settle:
                        continue  # still inside the settle time: it can be undone
                    try:
                        ladder = check_sigmas(json.loads(row[0]))
                    except (ValueError, TypeError, RecursionError):
                        continue  # an unreadable row: get() records it
                    row = (self._aggregate(ladder, answers),)
                    db.execute(
                        "INSERT INTO collected (query, sigma, collected) VALUES (?, ?, ?)",
                        (qid, row[0], now),
                    )
                out[qid] = {
                    "sigma": float(row[0]),
                    "responses": len(answers),
                    "unrecognisable": sum(r[1] == "unrecognisable" for r in answers),
                }
        return out

    def responses(self, qid: int, *, withdrawn: bool = False) -> list[dict[str, Any]]:
        """The responses to query ``qid``, oldest first.

        Parameters
        ----------
        qid : int
            The query's id.
        withdrawn : bool, default=False
            Also the undone and superseded ones (with ``withdrawn`` and ``why``).

        Returns
        -------
        responses : list of dict
            Keys ``annotator, choice, sigma, answered`` (and ``withdrawn, why``).
        """
        if not INT64_MIN <= int(qid) <= INT64_MAX:
            return []
        where = "" if withdrawn else " AND withdrawn IS NULL"
        with self._lock:
            rows = self._db.execute(
                "SELECT annotator, choice, sigma, answered, withdrawn, why FROM responses"
                " WHERE query = ?" + where + " ORDER BY id",
                (int(qid),),
            ).fetchall()
        keys = ("annotator", "choice", "sigma", "answered", "withdrawn", "why")
        return [dict(zip(keys if withdrawn else keys[:4], r)) for r in rows]

    def agreement(self) -> dict[str, Any]:
        """How far the annotators agree, over the queries two or more of them answered.

        Levels are compared in rungs of each query's ladder (an unrecognisable
        is the rung below the lowest, -1).

        Returns
        -------
        agreement : dict
            ``queries`` (how many were answered by two or more), ``exact`` and
            ``within_one`` (the fraction whose answers all fall on one rung, or
            within one rung; None when ``queries`` is 0), ``mean_gap`` (mean
            distance in rungs between two annotators' answers to the same
            query), and ``annotators``: per name, ``answers``,
            ``unrecognisable``, ``skips`` and ``offset`` (mean signed distance,
            in rungs, from the median of the others on the shared queries; None
            without any).
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT r.query, r.annotator, r.choice, r.sigma, q.sigmas FROM responses r"
                " JOIN queries q ON q.id = r.query WHERE r.withdrawn IS NULL"
                " AND r.query NOT IN (SELECT query FROM unreadable) ORDER BY r.id"
            ).fetchall()
        per: dict[str, dict[str, Any]] = {}
        rungs: dict[int, dict[str, int]] = {}
        for qid, who, choice, sigma, sigmas in rows:
            stats = per.setdefault(who, {"answers": 0, "unrecognisable": 0, "skips": 0})
            if choice == "skip":
                stats["skips"] += 1
                continue
            stats["answers"] += 1
            if choice == "unrecognisable":
                stats["unrecognisable"] += 1
                rung = -1
            else:
                try:
                    rung = int(np.argmin(np.abs(np.asarray(json.loads(sigmas)) - sigma)))
                except (ValueError, TypeError):
                    continue
            rungs.setdefault(int(qid), {})[who] = rung
        shared = [r for r in rungs.values() if len(r) >= 2]
        gaps = [
            abs(a - b)
            for r in shared
            for i, a in enumerate(r.values())
            for b in list(r.values())[i + 1 :]
        ]
        offsets: dict[str, list[float]] = {}
        for r in shared:
            for who, rung in r.items():
                others = [v for k, v in r.items() if k != who]
                offsets.setdefault(who, []).append(rung - float(np.median(others)))
        for who, stats in per.items():
            stats["offset"] = float(np.mean(offsets[who])) if who in offsets else None
        n = len(shared)
        return {
            "queries": n,
            "exact": sum(max(r.values()) == min(r.values()) for r in shared) / n if n else None,
            "within_one": sum(max(r.values()) - min(r.values()) <= 1 for r in shared) / n
            if n
            else None,
            "mean_gap": float(np.mean(gaps)) if gaps else None,
            "annotators": per,
        }

    def close(self) -> None:
        """Close the database."""
        self._db.close()


#: The rules :class:`QueryStore` offers for turning a settled query's answers into a level.
AGGREGATES = ("median", "min")


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
    }
