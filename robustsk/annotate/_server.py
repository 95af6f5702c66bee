"""Running the annotation app, and the oracle that asks a person through it."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ._app import create_app, is_loopback
from ._store import QueryStore

if TYPE_CHECKING:
    import uvicorn

    from ..active import LevelQuery


class AnnotationServer:
    """The annotation web app (FastAPI on uvicorn) over a SQLite store.

    Bound to 127.0.0.1 by default. On any other address a token is required:
    pass one, or one is generated (``server.token``) and must be given to the
    page as ``?token=...``.

    Parameters
    ----------
    db : str or path-like, default="annotations.sqlite"
        SQLite file of queries and answers; a restart on the same file resumes
        the open queries.
    host : str, default="127.0.0.1"
        Address to bind.
    port : int, default=8765
        Port; 0 picks a free one.
    token : str or None, default=None
        Access token (required, and generated if None, on a non-loopback host).
    """

    def __init__(
        self,
        db: str | os.PathLike = "annotations.sqlite",
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
    ):
        self.db = db
        self.host = host
        self.port = port
        self.token = token if token is not None or is_loopback(host) else secrets.token_urlsafe(16)
        self.store = QueryStore(db)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _make(self) -> uvicorn.Server:
        import uvicorn

        config = uvicorn.Config(
            create_app(self.store, token=self.token),
            host=self.host,
            port=self.port,
            log_level="warning",
        )
        return uvicorn.Server(config)

    def start(self, timeout: float = 10.0) -> AnnotationServer:
        """Serve in a background thread; returns once the server accepts connections."""
        self._server = self._make()
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(
                    f"the annotation server did not start on {self.host}:{self.port}"
                )
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground (the ``robustsk annotate`` command)."""
        self._server = self._make()
        self._server.run()

    @property
    def url(self) -> str:
        """The page's address (with the token when one is needed)."""
        base = f"http://{self.host}:{self.port}/"
        return base + (f"?token={self.token}" if self.token else "")

    def stop(self) -> None:
        """Stop the background server and close the store."""
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=10)
        self.store.close()


class HumanOracle:
    """An oracle that shows level queries to a person in the annotation app.

    ``answer(queries)`` posts each query to the server, then waits until the
    person has answered all of them, and returns the chosen levels. Answers are
    in the server's SQLite file before they are acknowledged, so nothing is
    lost if the learner or the server stops; posting the same queries again
    after a restart finds the stored answers.

    Parameters
    ----------
    url : str or None, default=None
        Base address of a running app, e.g. ``"http://127.0.0.1:8765"``. None
        starts a local :class:`AnnotationServer` (on ``db``, a free port) and
        prints its address.
    token : str or None, default=None
        Token of a server that requires one.
    db : str or path-like, default="annotations.sqlite"
        Store of the local server (when ``url`` is None).
    poll_interval : float, default=0.5
        Seconds between checks for answers.
    timeout : float or None, default=None
        Give up (``TimeoutError``) after this many seconds; None waits forever.
    verbose : int, default=1
        Print where to annotate.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        db: str | os.PathLike = "annotations.sqlite",
        poll_interval: float = 0.5,
        timeout: float | None = None,
        verbose: int = 1,
    ):
        self.url = url
        self.token = token
        self.db = db
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.verbose = verbose
        self.server_: AnnotationServer | None = None

    def _base(self) -> str:
        if self.url is not None:
            return self.url.rstrip("/")
        if self.server_ is None:
            self.server_ = AnnotationServer(self.db, port=0).start()
            if self.verbose:
                print(f"annotate at {self.server_.url}")
        return f"http://{self.server_.host}:{self.server_.port}"

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self._base() + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "X-Token": self.token or ""},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"annotation server: {exc.code} {exc.read().decode()}") from None

    def answer(self, queries: Iterable[LevelQuery]) -> np.ndarray:
        """Post the queries, wait for the person's answers, return them."""
        ids = []
        for q in queries:
            x = np.asarray(q.x, dtype=np.float32)
            label = q.y.item() if isinstance(q.y, np.generic) else q.y
            ids.append(
                self._request(
                    "POST",
                    "/api/queries",
                    {
                        "example": int(q.query_id),
                        "x": x.ravel().tolist(),
                        "shape": list(x.shape),
                        "label": label,
                        "sigmas": [float(s) for s in q.sigmas],
                        "current_sigma": float(q.current_sigma),
                        "seed": int(q.seed),
                    },
                )["id"]
            )
        answers: dict[int, float] = {}
        start = time.monotonic()
        while len(answers) < len(ids):
            for qid in ids:
                if qid not in answers:
                    got = self._request("GET", f"/api/queries/{qid}")["answer"]
                    if got is not None:
                        answers[qid] = got
            if len(answers) < len(ids):
                if self.timeout is not None and time.monotonic() - start > self.timeout:
                    raise TimeoutError(
                        f"{len(ids) - len(answers)} queries still open after {self.timeout} s"
                    )
                time.sleep(self.poll_interval)
        return np.array([answers[qid] for qid in ids], dtype=np.float64)

    def close(self) -> None:
        """Stop the local server, if one was started."""
        if self.server_ is not None:
            self.server_.stop()
            self.server_ = None
