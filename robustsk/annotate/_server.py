"""Running the annotation app (FastAPI on uvicorn) in the foreground or a background thread."""

from __future__ import annotations

import os
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from ..perturb import check_range
from ..utils import check_number
from ._app import create_app, is_loopback
from ._auth import check_token
from ._store import QueryStore

if TYPE_CHECKING:
    import uvicorn


class AnnotationServer:
    """The annotation web app (FastAPI on uvicorn) over a SQLite store.

    Bound to 127.0.0.1 by default, where requests must name a loopback
    ``Host``. On any other address a token is required: pass one, or one is
    generated (``server.token``). The page is opened once as ``?token=...``
    (:attr:`url`), which sets an ``HttpOnly`` session cookie; programs send
    the ``X-Token`` header. See :func:`create_app` for the limits and checks.

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
        Access token (required, and generated if None, on a non-loopback host):
        1 to 256 characters from ``A-Z a-z 0-9 . _ ~ -``; an empty one is refused.
    clip : tuple (low, high), default=(0.0, 1.0)
        Value range of the examples (``(0, 255)`` for bytes; per-pixel arrays
        allowed): the page maps it onto the image's gray levels.
    answers_per_query : int, default=1
        Annotators whose answers settle a query (see :class:`QueryStore`).
    aggregate : {"median", "min"}, default="median"
        How a settled query's answers become its level.
    max_concurrency : int, default=8
        Requests (past the token check) worked on at once; more wait up to 5 s
        for a slot, then get a 429 with ``Retry-After`` (see :func:`create_app`).
    max_connections : int, default=512
        Open connections past which uvicorn answers new requests 503 (its
        ``limit_concurrency``): a backstop far above a team's needs, behind the
        429 of ``max_concurrency``.

    Each start draws a new session key: the page's session cookies of an
    earlier start are void (open the link again).
    """

    def __init__(
        self,
        db: str | os.PathLike = "annotations.sqlite",
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
        clip: Any = (0.0, 1.0),
        answers_per_query: int = 1,
        aggregate: str = "median",
        max_concurrency: int = 8,
        max_connections: int = 512,
    ):
        token = check_token(token)
        check_number(max_concurrency, "max_concurrency", low=1, integer=True)
        check_number(max_connections, "max_connections", low=1, integer=True)
        if check_range(clip, "clip") is None:
            raise ValueError("clip must be a (low, high) range of the examples, got None.")
        self.db = db
        self.host = host
        self.port = port
        self.clip = clip
        self.answers_per_query = answers_per_query
        self.aggregate = aggregate
        self.max_concurrency = max_concurrency
        self.max_connections = max_connections
        self.token = token if token is not None or is_loopback(host) else secrets.token_urlsafe(24)
        self.store = QueryStore(db, answers_per_query=answers_per_query, aggregate=aggregate)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _make(self) -> uvicorn.Server:
        import uvicorn

        config = uvicorn.Config(
            create_app(
                self.store,
                token=self.token,
                host=self.host,
                clip=self.clip,
                max_concurrency=self.max_concurrency,
            ),
            host=self.host,
            port=self.port,
            log_level="warning",
            server_header=False,
            limit_concurrency=self.max_connections,
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
        host = f"[{self.host}]" if ":" in self.host else self.host
        base = f"http://{host}:{self.port}/"
        return base + (f"?token={self.token}" if self.token else "")

    def stop(self) -> None:
        """Stop the background server and close the store."""
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=10)
        self.store.close()
