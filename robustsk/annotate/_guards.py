"""ASGI guards that run before any route reads a request: size, Host, cross-site,
concurrency, headers.

Each guard is plain ASGI and answers before the body is parsed. Those that
look at headers only (Host, ``Content-Length``, cross-site) run before the
token is checked; those that read the body or hold a slot (:class:`BodyLimit`,
:class:`ConcurrencyLimit`) run after it, so a request without the token never
has a byte of its body read. The replies carry a JSON ``detail`` that never
repeats the request's own values.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Largest request body in bytes (8 MiB): room for ``MAX_VALUES`` values written as JSON.
MAX_BODY_BYTES = 8 << 20
#: Requests (past the token check) the app works on at once; more wait, then get a 429.
MAX_CONCURRENCY = 8

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_NAMES = frozenset({"localhost"})


async def reply(
    send: Send, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Send a whole JSON response ``{"detail": detail}``."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header_values(scope: Scope, name: bytes) -> list[bytes]:
    """All values of the request header ``name`` (lower case)."""
    return [value for key, value in scope.get("headers", []) if key.lower() == name]


def _hostname(value: bytes) -> str | None:
    """The host part of a ``Host`` header, lower case, IPv6 without brackets; None if malformed."""
    try:
        text = value.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return None
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return None
        port = port[1:]
    else:
        host, _, port = text.partition(":")
    if not host or (port and not port.isdigit()) or ":" in port:
        return None
    return host


def is_loopback_name(host: str) -> bool:
    """Whether a host name from a request names this machine (``localhost``, 127.x, ::1)."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HostCheck:
    """Refuse (400) a request whose ``Host`` does not name a loopback address.

    Used when the server is bound to loopback: a page on another site whose
    name was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name as
    ``Host`` and is refused. Servers bound elsewhere accept any ``Host`` and
    rely on the token.

    Parameters
    ----------
    app : ASGI app
    bound : str
        The bound address; accepted as a ``Host`` besides the loopback names.
    """

    def __init__(self, app: ASGIApp, bound: str):
        self.app = app
        self.bound = bound.strip("[]").lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            values = header_values(scope, b"host")
            host = _hostname(values[0]) if len(values) == 1 else None
            if host is None or not (host == self.bound or is_loopback_name(host)):
                if scope["type"] == "http":
                    await reply(send, 400, "the Host header must name the server's own address")
                return
        await self.app(scope, receive, send)


def _length_problem(scope: Scope, max_bytes: int) -> tuple[int, str] | None:
    """``(400, why)`` for a malformed ``Content-Length``, ``(413, why)`` for one over
    ``max_bytes``, else None (the header alone: no byte of the body is read)."""
    lengths = set(header_values(scope, b"content-length"))
    if len(lengths) > 1 or not all(v.strip().isdigit() for v in lengths):
        return 400, "invalid Content-Length header"
    if lengths and (len(v := lengths.pop().strip()) > 18 or int(v) > max_bytes):
        return 413, f"the request body is limited to {max_bytes} bytes"
    return None


class ContentLengthCheck:
    """Refuse a malformed (400) or oversized (413) ``Content-Length`` from the header alone.

    It reads nothing of the body, so it may run before the token is checked.

    Parameters
    ----------
    app : ASGI app
    max_bytes : int
        Largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = _length_problem(scope, self.max_bytes) if scope["type"] == "http" else None
        if problem is not None:  # the body, if any, is left unread: close the connection
            await reply(send, *problem, [(b"connection", b"close")])
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse (413) a body over ``max_bytes``, by its ``Content-Length`` or as it streams in.

    The body is read (and counted) here, before any route parses it; a
    chunked body is cut off as soon as it passes the limit. It runs after the
    token check, so only a request with the token has its body read.

    Parameters
    ----------
    app : ASGI app
    max_bytes : int
        Largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is limited to {self.max_bytes} bytes"
        problem = _length_problem(scope, self.max_bytes)
        if problem is not None:
            await reply(send, *problem)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await reply(send, 413, too_large, [(b"connection", b"close")])
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False
        chunks.clear()  # hold the body once, not twice

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class ConcurrencyLimit:
    """Work on at most ``max_active`` requests at once; answer 429 past that.

    A request over the limit waits (without a byte of its body read) up to
    ``wait_s`` seconds for a slot, at most ``max_waiting`` of them at a time;
    one that gets none is answered ``429 Too Many Requests`` with
    ``Retry-After: 1``, which the page and :class:`HumanOracle` wait out and
    retry. It never answers a 5xx. The count is shared by every event loop
    and thread that runs the app.

    Parameters
    ----------
    app : ASGI app
    max_active : int, default=MAX_CONCURRENCY
        Requests in progress at once (bodies read, parsed, answered).
    max_waiting : int, default=64
        Requests that may wait for a slot; more are answered 429 at once.
    wait_s : float, default=5.0
        Longest wait for a slot.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_active: int = MAX_CONCURRENCY,
        max_waiting: int = 64,
        wait_s: float = 5.0,
    ):
        if max_active < 1 or max_waiting < 0 or wait_s < 0:
            raise ValueError("max_active must be >= 1, max_waiting and wait_s >= 0")
        self.app = app
        self.max_active = max_active
        self.max_waiting = max_waiting
        self.wait_s = wait_s
        self.active = 0
        self.waiting = 0
        self._lock = threading.Lock()

    def _take(self) -> bool:
        with self._lock:
            if self.active < self.max_active:
                self.active += 1
                return True
            return False

    async def _acquire(self) -> bool:
        if self._take():
            return True
        with self._lock:
            if self.waiting >= self.max_waiting:
                return False
            self.waiting += 1
        try:
            deadline, pause = time.monotonic() + self.wait_s, 0.002
            while time.monotonic() < deadline:
                await asyncio.sleep(pause)
                if self._take():
                    return True
                pause = min(2 * pause, 0.05)
            return False
        finally:
            with self._lock:
                self.waiting -= 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not await self._acquire():
            await reply(
                send,
                429,
                "the server is busy; try again",
                [(b"retry-after", b"1"), (b"connection", b"close")],
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self.active -= 1


class CrossSiteCheck:
    """Refuse requests that change state unless they come from the page's own origin.

    A POST, PUT, PATCH or DELETE must be ``application/json`` (415 otherwise:
    a form or a ``no-cors`` fetch from another site cannot send that without a
    preflight, which the app never grants), and its ``Origin``, when the
    browser sends one, must match ``Host`` (403 otherwise).

    Parameters
    ----------
    app : ASGI app
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _SAFE_METHODS:
            origins = header_values(scope, b"origin")
            hosts = header_values(scope, b"host")
            if origins and not _same_origin(origins, hosts):
                await reply(send, 403, "cross-origin requests are refused")
                return
            types = header_values(scope, b"content-type")
            mime = types[0].split(b";")[0].strip().lower() if len(types) == 1 else b""
            if mime != b"application/json":
                await reply(send, 415, "the request body must be application/json")
                return
        await self.app(scope, receive, send)


def _same_origin(origins: list[bytes], hosts: list[bytes]) -> bool:
    if len(origins) != 1 or len(hosts) != 1:
        return False
    try:
        origin = urlsplit(origins[0].decode("ascii"))
        host = hosts[0].decode("ascii").strip().lower()
    except (UnicodeDecodeError, ValueError):
        return False
    return origin.scheme in ("http", "https") and origin.netloc.lower() == host


class SecurityHeaders:
    """Add headers that keep responses from being sniffed, framed, cached or leaked.

    ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
    ``Referrer-Policy: no-referrer``, ``Cache-Control: no-store``,
    ``Cross-Origin-Resource-Policy: same-origin`` and, unless a route set its
    own, ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'``
    (only ``frame-ancestors`` on ``loose_csp_paths``, e.g. the API docs).

    Parameters
    ----------
    app : ASGI app
    loose_csp_paths : iterable of str
        Paths whose pages load their own scripts.
    """

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
        (b"cross-origin-resource-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp, loose_csp_paths: Iterable[str] = ()):
        self.app = app
        self.loose_csp_paths = frozenset(loose_csp_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (
            b"frame-ancestors 'none'"
            if scope.get("path") in self.loose_csp_paths
            else b"default-src 'none'; frame-ancestors 'none'"
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [(k, v) for k, v in self.HEADERS if k not in names]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", csp))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
