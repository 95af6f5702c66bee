"""The oracle that asks a person through the annotation app."""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..utils import check_number
from ._server import AnnotationServer
from ._validation import MAX_SETTLE_TIME

_MAX_BACKOFF = 30.0
#: Query ids per ``POST /api/collect`` (the server takes at most 10,000).
_COLLECT_CHUNK = 1000

if TYPE_CHECKING:
    from ..active import LevelQuery


class HumanOracle:
    """An oracle that shows level queries to a person in the annotation app.

    ``answer(queries)`` posts each query to the server, then waits until the
    person (or the team: see the server's ``answers_per_query``) has answered
    all of them, and returns the chosen levels. It takes them (``POST
    /api/collect``) once every query is settled and the last answer has stood
    for ``settle_time`` seconds, so that until then a person can undo an answer
    in the page; once taken, an answer can no longer be undone. Answers are
    in the server's SQLite file before they are acknowledged, so nothing is
    lost if the learner or the server stops. A query is identified on the
    server by its example's content (its content-derived number, seed and
    pixels -- see :func:`~robustsk.active.make_queries`), so posting the same
    queries again -- after a restart of the learner, or of the server -- finds
    the stored answers instead of asking again.

    Every request is retried on connection errors, timeouts and 5xx answers,
    ``retries`` times with exponential backoff (``backoff``, ``2 * backoff``,
    ... seconds, at most 30 s apart, and no sooner than a ``Retry-After``), so a
    server restart while the learner waits costs nothing; after that a
    ``ConnectionError`` names the address and the attempts. A 429 (the server
    is busy) is retried the same way; any other 4xx answer (a bad request or
    token) is not retried: it raises ``RuntimeError`` with the server's message.

    Parameters
    ----------
    url : str or None, default=None
        Base address of a running app, e.g. ``"http://127.0.0.1:8765"``. None
        starts a local :class:`AnnotationServer` (on ``db``, a free port) and
        prints its address.
    token : str or None, default=None
        Token of a server that requires one (sent as the ``X-Token`` header).
    db : str or path-like, default="annotations.sqlite"
        Store of the local server (when ``url`` is None).
    poll_interval : float, default=0.5
        Seconds between checks for answers.
    timeout : float or None, default=None
        Give up (``TimeoutError``) after this many seconds; None waits forever.
    retries : int, default=8
        Further attempts of a request that failed for want of a server (with the
        default backoff, about 90 s in all).
    backoff : float, default=0.5
        Seconds before the first retry; doubled before each next one (at most 30 s).
    request_timeout : float, default=30.0
        Seconds one request may take before it counts as failed.
    verbose : int, default=1
        Print where to annotate.
    clip : tuple (low, high), default=(0.0, 1.0)
        Value range of the examples, for the local server's images.
    settle_time : float, default=3.0
        Seconds the last answer of a batch must stand (not undone) before the
        answers are taken. The server enforces it too: it hands out only
        answers at least this old by its own clock, read in the transaction
        that marks them taken (at most 86,400 s).

    Attributes
    ----------
    unrecognisable_ : list
        Keys (or query ids, for queries without a key) of the queries that most
        of their annotators found not recognisable at any level, over every
        call; their level is the ladder's lowest. Worth a look: such an
        example may be mislabelled or unreadable.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        db: str | os.PathLike = "annotations.sqlite",
        poll_interval: float = 0.5,
        timeout: float | None = None,
        retries: int = 8,
        backoff: float = 0.5,
        request_timeout: float = 30.0,
        verbose: int = 1,
        clip: Any = (0.0, 1.0),
        settle_time: float = 3.0,
    ):
        self.url = url
        self.token = token
        self.db = db
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.request_timeout = request_timeout
        self.verbose = verbose
        self.clip = clip
        self.settle_time = settle_time
        self.server_: AnnotationServer | None = None
        self.unrecognisable_: list[Any] = []

    def _base(self) -> str:
        if self.url is not None:
            return self.url.rstrip("/")
        if self.server_ is None:
            self.server_ = AnnotationServer(self.db, port=0, clip=self.clip).start()
            if self.verbose:
                print(f"annotate at {self.server_.url}")
        return f"http://{self.server_.host}:{self.server_.port}"

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        url = self._base() + path
        problem, wait = "", 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(max(self.backoff * 2 ** (attempt - 1), wait), _MAX_BACKOFF))
            wait = 0.0
            req = urllib.request.Request(
                url,
                data=data,
                method=method,
                headers={"Content-Type": "application/json", "X-Token": self.token or ""},
            )
            try:
                with urllib.request.urlopen(req, timeout=self.request_timeout) as resp:
                    return json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")
                if exc.code == 429:  # busy: wait at least what the server asks
                    wait = _retry_after(exc.headers.get("Retry-After"))
                elif exc.code < 500:
                    raise RuntimeError(
                        f"annotation server {method} {url}: {exc.code} {detail}"
                    ) from None
                problem = f"{exc.code} {detail}"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                # refused, reset, timed out, cut short: the server is (re)starting
                problem = f"{type(exc).__name__}: {exc}"
        raise ConnectionError(
            f"the annotation server at {self._base()} did not answer {method} {path} in "
            f"{self.retries + 1} attempts (retries={self.retries}, backoff={self.backoff} s); "
            f"last error: {problem}"
        )

    def answer(self, queries: Iterable[LevelQuery]) -> np.ndarray:
        """Post the queries, wait for the person's answers, return them.

        Parameters
        ----------
        queries : iterable of LevelQuery
            The queries, each posted with a content-derived example number when it
            has a ``key``.

        Returns
        -------
        levels : ndarray of shape (n_queries,)
        """
        check_number(self.retries, "retries", low=0, integer=True)
        check_number(self.backoff, "backoff", low=0.0)
        check_number(self.request_timeout, "request_timeout", low=0.0, include_low=False)
        check_number(self.settle_time, "settle_time", low=0.0, high=MAX_SETTLE_TIME)
        ids, keys = [], []
        for q in queries:
            x = np.asarray(q.x, dtype=np.float32)
            label = q.y.item() if isinstance(q.y, np.generic) else q.y
            ids.append(
                self._request(
                    "POST",
                    "/api/queries",
                    {
                        "example": int(q.key[:7], 16) if q.key else int(q.query_id),
                        "x": x.ravel().tolist(),
                        "shape": list(x.shape),
                        "label": label,
                        "sigmas": [float(s) for s in q.sigmas],
                        "current_sigma": float(q.current_sigma),
                        "seed": int(q.seed),
                    },
                )["id"]
            )
            keys.append(q.key or q.query_id)
        answers: dict[int, float] = {}
        flagged: set[int] = set()
        start = time.monotonic()
        while len(answers) < len(ids):
            waiting = [qid for qid in dict.fromkeys(ids) if qid not in answers]
            states = [self._request("GET", f"/api/queries/{qid}") for qid in waiting]
            if all("age" not in st and st["answer"] is not None for st in states):
                # a server of an earlier version: one final answer per query, nothing to collect
                answers.update((qid, float(st["answer"])) for qid, st in zip(waiting, states))
                continue
            if all(
                st["answer"] is not None
                and (st.get("collected") or (st.get("age") or 0.0) >= self.settle_time)
                for st in states
            ):
                for chunk in range(0, len(waiting), _COLLECT_CHUNK):
                    # the server takes only answers settle_time old by its clock
                    taken = self._request(
                        "POST",
                        "/api/collect",
                        {
                            "ids": waiting[chunk : chunk + _COLLECT_CHUNK],
                            "settle_time": float(self.settle_time),
                        },
                    )
                    for item in taken["answers"]:
                        if item["sigma"] is not None:
                            answers[item["id"]] = float(item["sigma"])
                            if 2 * (item["unrecognisable"] or 0) > (item["responses"] or 0):
                                flagged.add(item["id"])
                continue  # all taken, or one was undone meanwhile: look again
            if self.timeout is not None and time.monotonic() - start > self.timeout:
                raise TimeoutError(
                    f"{len(ids) - len(answers)} queries still open after {self.timeout} s"
                )
            time.sleep(self.poll_interval)
        self.unrecognisable_.extend(k for k, qid in zip(keys, ids) if qid in flagged)
        return np.array([answers[qid] for qid in ids], dtype=np.float64)

    def close(self) -> None:
        """Stop the local server, if one was started."""
        if self.server_ is not None:
            self.server_.stop()
            self.server_ = None


def _retry_after(value: str | None) -> float:
    """Seconds a ``Retry-After`` header asks for (0 when absent or not a number of seconds)."""
    try:
        seconds = float(value) if value is not None else 0.0
    except ValueError:
        return 0.0
    return seconds if 0.0 <= seconds <= _MAX_BACKOFF else 0.0
