"""The access token: what a token may be, and the ASGI check that every request carries it.

A request is let in by the ``X-Token`` header or by the session cookie, both
read from the headers before any byte of the body is read: a request without
them is answered 401 (and its connection closed) with its body unread. The
page's link (``GET /?token=...``) is the one place the token may appear in a
URL: once checked there, the response sets the session cookie (``HttpOnly``,
``SameSite=Strict``, ``Path=/``, ``Max-Age``) and the page drops the token
from its address, so it never travels in image URLs, links or the history.

**The session cookie and its scope.** Its value is not derived from the
token: it is an expiry time and a MAC under a key drawn at random each time
the app is created (each server start), so it says nothing about the token,
the server checks the expiry itself (not only the browser's ``Max-Age``), and
every cookie of an earlier start is void. Cookies are not isolated by port
(RFC 6265, section 8.5): a browser sends this cookie to *every* port of the
host -- another service on ``127.0.0.1:other`` receives it, and could replay
it here. What limits that: the cookie is worth nothing to any other server
(another robustsk server on another port has its own random key and refuses
it), nothing here after this server stops, and nothing here once it expires
(``session_max_age``, 12 hours by default). Two servers on one host also
share the cookie's name, so opening one's link replaces the other's cookie
in that browser (open its link again). To keep other local services away
from the cookie altogether, serve each app under its own host name.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._guards import header_values, reply

#: Name of the session cookie set after a valid ``?token=``.
SESSION_COOKIE = "robustsk_session"

_TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{1,256}")


def check_token(token: object) -> str | None:
    """Return ``token`` if it is None or a usable token, else raise.

    A token is 1 to 256 characters from ``A-Z a-z 0-9 . _ ~ -``, which travel
    unchanged in a header, a cookie and a URL.

    Parameters
    ----------
    token : str or None

    Returns
    -------
    token : str or None

    Raises
    ------
    TypeError
        ``token`` is neither None nor a str.
    ValueError
        ``token`` is empty, too long or has other characters.
    """
    if token is None:
        return None
    if not isinstance(token, str):
        raise TypeError(f"token must be a str or None, got {type(token).__name__}.")
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError(
            "token must be 1 to 256 characters from A-Z a-z 0-9 . _ ~ - "
            f"(got {len(token)} characters{'' if token else ': an empty token'})."
        )
    return token


#: Default lifetime of a session cookie in seconds (12 hours).
SESSION_MAX_AGE = 12 * 3600.0


class TokenAuth:
    """Refuse (401) every request without the token, the API docs included.

    The check reads headers only: a refused request's body is never read, and
    its connection is closed.

    Parameters
    ----------
    app : ASGI app
    token : str or None
        None lets every request in.
    entry_path : str, default="/"
        The page, the one path where ``?token=`` is accepted (and exchanged for the cookie).
    max_age : float, default=SESSION_MAX_AGE
        Seconds a session cookie is valid: sent as ``Max-Age`` and checked here.
    clock : callable, default=time.monotonic
        The clock of the expiry check (a session never outlives this object).
    """

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        *,
        entry_path: str = "/",
        max_age: float = SESSION_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not (math.isfinite(max_age) and max_age > 0):
            raise ValueError(f"the session's max_age must be a number > 0, got {max_age!r}.")
        self.app = app
        self.token = None if token is None else token.encode()
        self.entry_path = entry_path
        self.max_age = float(max_age)
        self.clock = clock
        self._key = secrets.token_bytes(32)  # new at every start: older cookies are void

    def new_session(self) -> str:
        """A session cookie's value: its expiry (milliseconds, this object's clock) and a
        MAC of it under this object's random key."""
        expires = str(int((self.clock() + self.max_age) * 1000))
        return f"{expires}.{self._mac(expires.encode()).decode()}"

    def _mac(self, expires: bytes) -> bytes:
        return hmac.new(self._key, b"robustsk session " + expires, "sha256").hexdigest().encode()

    def valid_session(self, value: bytes) -> bool:
        """Whether ``value`` is a session cookie of this object that has not expired."""
        expires, dot, mac = value.partition(b".")
        # hmac.compare_digest first: no early exit on the MAC's content
        if not dot or not _equal(mac, self._mac(expires)) or not expires.isdigit():
            return False
        return self.clock() * 1000 < int(expires)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = self.token
        if any(_equal(v, token) for v in header_values(scope, b"x-token")) or any(
            self.valid_session(v) for v in _cookies(scope, SESSION_COOKIE.encode())
        ):
            await self.app(scope, receive, send)
            return
        if (
            scope["method"] in ("GET", "HEAD")
            and scope["path"] == self.entry_path
            and any(_equal(v, token) for v in _query_values(scope, b"token"))
        ):
            cookie = (
                f"{SESSION_COOKIE}={self.new_session()}; Path=/; Max-Age="
                f"{max(1, math.floor(self.max_age))}; HttpOnly; SameSite=Strict"
            )

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", [])) + [(b"set-cookie", cookie.encode())]
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        await reply(
            send,
            401,
            "a valid token is required: the X-Token header, or open the page's link "
            "(/?token=...) once to get the session cookie",
            [(b"connection", b"close")],
        )


def _equal(given: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(given, expected)


def _cookies(scope: Scope, name: bytes) -> list[bytes]:
    found = []
    for header in header_values(scope, b"cookie"):
        for part in header.split(b";"):
            key, eq, value = part.strip().partition(b"=")
            if eq and key == name:
                found.append(value.strip().strip(b'"'))
    return found


def _query_values(scope: Scope, name: bytes) -> list[bytes]:
    found = []
    for part in scope.get("query_string", b"").split(b"&"):
        key, eq, value = part.partition(b"=")
        if eq and unquote_to_bytes(key.replace(b"+", b" ")) == name:
            found.append(unquote_to_bytes(value.replace(b"+", b" ")))
    return found
