"""The access token: what a token may be, and the ASGI check that every request carries it.

A request is let in by the ``X-Token`` header or by the session cookie. The
page's link (``GET /?token=...``) is the one place the token may appear in a
URL: once checked there, the response sets the cookie (``HttpOnly``,
``SameSite=Strict``) and the page drops the token from its address, so it
never travels in image URLs, links or the history.
"""

from __future__ import annotations

import hashlib
import hmac
import re
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


def session_value(token: str) -> str:
    """The session cookie's value for ``token`` (a keyed hash, not the token itself)."""
    return hmac.new(token.encode(), b"robustsk annotate session", hashlib.sha256).hexdigest()


class TokenAuth:
    """Refuse (401) every request without the token, the API docs included.

    Parameters
    ----------
    app : ASGI app
    token : str or None
        None lets every request in.
    entry_path : str, default="/"
        The page, the one path where ``?token=`` is accepted (and exchanged for the cookie).
    """

    def __init__(self, app: ASGIApp, token: str | None, *, entry_path: str = "/"):
        self.app = app
        self.token = None if token is None else token.encode()
        self.session = None if token is None else session_value(token).encode()
        self.entry_path = entry_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or self.session is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if any(_equal(v, self.token) for v in header_values(scope, b"x-token")) or any(
            _equal(v, self.session) for v in _cookies(scope, SESSION_COOKIE.encode())
        ):
            await self.app(scope, receive, send)
            return
        if (
            scope["method"] in ("GET", "HEAD")
            and scope["path"] == self.entry_path
            and any(_equal(v, self.token) for v in _query_values(scope, b"token"))
        ):
            cookie = f"{SESSION_COOKIE}={self.session.decode()}; Path=/; HttpOnly; SameSite=Strict"

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
