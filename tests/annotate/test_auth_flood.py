"""The annotation server against a flood: bodies without the token are never read, the
requests worked on at once are capped with a 429 (never a 5xx), and the session cookie
is random per start and expires (issue 31, point 4)."""

import asyncio
import gc
import hashlib
import hmac
import json
import socket
import threading
import time
import tracemalloc
import urllib.error
import urllib.request

import numpy as np
import pytest

from robustsk.annotate import AnnotationServer, QueryStore, create_app
from robustsk.annotate._auth import SESSION_COOKIE
from robustsk.annotate._guards import MAX_BODY_BYTES, ConcurrencyLimit

fastapi_testclient = pytest.importorskip("fastapi.testclient")

TOKEN = "s3cret-Token_1"
GOOD = {
    "example": 0,
    "x": [0.5] * 4,
    "shape": [1, 2, 2],
    "label": 3,
    "sigmas": [0.0, 0.1, 0.2],
    "current_sigma": 0.1,
    "seed": 7,
}
HOST = (b"host", b"127.0.0.1")
JSON = (b"content-type", b"application/json")


def _scope(method, path, headers):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8765),
    }


async def _call(app, method, path, headers, chunks=(b"",), hold=None):
    """One request, its body in ``chunks`` (delivered after ``hold`` is set, if given).
    Returns (status, headers, body, bytes of the body the app read)."""
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    read, sent = [0], []

    async def receive():
        if hold is not None:
            await hold.wait()
        if not pending:
            await asyncio.sleep(3600)  # a client that sends nothing more
        message = pending.pop(0)
        read[0] += len(message["body"])
        return message

    async def send(message):
        sent.append(message)

    await app(_scope(method, path, headers), receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] < 500, body
    return start["status"], dict(start["headers"]), body, read[0]


# -- no body is read before the token is checked -----------------------------------------------

FULL = [b" " * (1 << 16)] * (MAX_BODY_BYTES >> 16)  # 8 MiB in 128 chunks: at the limit
OLD_COOKIE = hmac.new(TOKEN.encode(), b"robustsk annotate session", hashlib.sha256).hexdigest()
UNAUTHENTICATED = {
    "no-token-content-length": [(b"content-length", str(MAX_BODY_BYTES).encode())],
    "no-token-chunked": [(b"transfer-encoding", b"chunked")],
    "wrong-token": [(b"content-length", str(MAX_BODY_BYTES).encode()), (b"x-token", b"nope")],
    "old-fixed-cookie": [(b"cookie", f"{SESSION_COOKIE}={OLD_COOKIE}".encode())],
}


@pytest.mark.parametrize("case", list(UNAUTHENTICATED))
def test_a_request_without_the_token_is_refused_before_its_body_is_read(tmp_path, case):
    store = QueryStore(tmp_path / "flood.sqlite")
    app = create_app(store, token=TOKEN)
    headers = [HOST, JSON] + UNAUTHENTICATED[case]
    status, sent, body, read = asyncio.run(_call(app, "POST", "/api/queries", headers, FULL))
    assert status == 401 and read == 0  # not one byte of the 8 MiB read
    assert sent[b"connection"] == b"close" and TOKEN.encode() not in body
    # the same body with the token is read (and refused only once parsed)
    headers = [HOST, JSON, (b"x-token", TOKEN.encode())]
    status, _, _, read = asyncio.run(_call(app, "POST", "/api/queries", headers, FULL))
    assert status == 422 and read == MAX_BODY_BYTES
    assert store.progress()["total"] == 0


def test_a_refused_body_is_freed_at_once_not_at_the_next_garbage_collection(tmp_path):
    """Five 8 MiB bodies that are not JSON, each refused 422: with the cyclic garbage
    collector off, none of them is still held once its answer is sent."""
    app = create_app(QueryStore(tmp_path / "freed.sqlite"))
    asyncio.run(_call(app, "POST", "/api/queries", [HOST, JSON], [b"{oops"]))  # warm up
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        for _ in range(5):
            status, _, _, read = asyncio.run(_call(app, "POST", "/api/queries", [HOST, JSON], FULL))
            assert status == 422 and read == MAX_BODY_BYTES
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert held < 4 << 20, f"{held / 2**20:.1f} MiB still held"


def _connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def test_the_live_server_answers_401_before_the_body_is_sent_and_holds_no_memory(tmp_path):
    """Headers announcing 8 MiB and no body: the 401 comes at once (a server reading the
    body first would wait for it), and the connection is closed. Then 24 connections
    each send 8 MiB without the token: the server allocates under 16 MiB in all."""
    server = AnnotationServer(tmp_path / "live.sqlite", port=0, token=TOKEN).start()
    head = (
        b"POST /api/queries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {MAX_BODY_BYTES}\r\n\r\n".encode()
    )
    try:
        with _connect(server.port) as sock:
            sock.sendall(head)
            start = time.monotonic()
            reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
            assert time.monotonic() - start < 5
            while reply:  # closed by the server, the body never asked for
                reply = sock.recv(65536)
        body = b" " * MAX_BODY_BYTES
        statuses = []

        def flood():
            with _connect(server.port) as sock:
                try:
                    sock.sendall(head)
                    sock.sendall(body)
                except OSError:
                    pass  # refused and closed before it was all sent
                try:
                    statuses.append(sock.recv(100).split(b" ")[1])
                except (OSError, IndexError):
                    statuses.append(b"closed")

        tracemalloc.start()
        threads = [threading.Thread(target=flood) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert set(statuses) <= {b"401", b"closed"} and statuses.count(b"401") >= 1, statuses
        assert peak < 16 << 20, f"{peak / 2**20:.1f} MiB allocated"
        print(f"24 unauthenticated 8 MiB bodies: {peak / 2**20:.2f} MiB allocated at the peak")
        req = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/api/progress", headers={"X-Token": TOKEN}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:  # still serving
            assert resp.status == 200
    finally:
        server.stop()


# -- the requests worked on at once are capped -------------------------------------------------


def test_past_the_cap_requests_wait_for_a_slot_then_get_a_429_never_a_5xx(tmp_path):
    """2 slow uploads hold the 2 slots; 64 more requests wait; the next is answered 429
    with Retry-After at once, its body unread; once the uploads end every waiter is served."""
    store = QueryStore(tmp_path / "busy.sqlite")
    app = create_app(store, max_concurrency=2)

    async def scenario():
        hold = asyncio.Event()
        post = [HOST, JSON]
        holders = [
            asyncio.create_task(
                _call(app, "POST", "/api/queries", post, [json.dumps(GOOD).encode()], hold)
            )
            for _ in range(2)
        ]
        await asyncio.sleep(0.1)
        waiters = [
            asyncio.create_task(_call(app, "GET", "/api/progress", [HOST])) for _ in range(64)
        ]
        await asyncio.sleep(0.1)
        start = time.monotonic()
        refused = await _call(app, "POST", "/api/queries", post, [b"x" * 1000])
        seconds = time.monotonic() - start
        hold.set()
        return refused, seconds, await asyncio.gather(*holders), await asyncio.gather(*waiters)

    (status, headers, _, read), seconds, holders, waiters = asyncio.run(scenario())
    assert status == 429 and headers[b"retry-after"] == b"1" and read == 0
    assert seconds < 1.0
    assert [h[0] for h in holders] == [200, 200] and [w[0] for w in waiters] == [200] * 64
    assert store.progress()["total"] == 1


def test_the_cap_is_shared_by_every_event_loop_and_a_wait_ends_in_a_429():
    entered, release = threading.Event(), threading.Event()

    async def slow_app(scope, receive, send):
        entered.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limit = ConcurrencyLimit(slow_app, max_active=1, max_waiting=1, wait_s=0.3)
    first = threading.Thread(target=lambda: asyncio.run(_call(limit, "GET", "/", [HOST])))
    first.start()  # holds the one slot, in another thread's event loop
    assert entered.wait(10)
    start = time.monotonic()
    status, headers, _, _ = asyncio.run(_call(limit, "GET", "/", [HOST]))
    assert status == 429 and headers[b"retry-after"] == b"1"
    assert 0.25 <= time.monotonic() - start < 3  # it waited wait_s for a slot
    release.set()
    first.join(10)
    assert asyncio.run(_call(limit, "GET", "/", [HOST]))[0] == 204  # the slot came back
    assert limit.active == 0 and limit.waiting == 0


def test_the_server_caps_connections_and_requests(tmp_path):
    server = AnnotationServer(tmp_path / "cap.sqlite", max_concurrency=3, max_connections=40)
    try:
        assert server._make().config.limit_concurrency == 40
        with pytest.raises(ValueError, match="max_concurrency"):
            AnnotationServer(tmp_path / "cap.sqlite", max_concurrency=0)
        with pytest.raises(ValueError, match="max_concurrency"):
            create_app(server.store, max_concurrency=0)
    finally:
        server.store.close()


# -- the session cookie --------------------------------------------------------------------------


def _session(url):
    """The session cookie a page link sets."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    return cookie.split(";")[0].split("=", 1)[1], cookie


def _status(port, cookie):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/progress",
        headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_session_cookie_is_random_per_start_and_expires(tmp_path):
    path = tmp_path / "cookie.sqlite"
    server = AnnotationServer(path, port=0, token=TOKEN).start()
    try:
        first, header = _session(server.url)
        again, _ = _session(server.url)
        assert _status(server.port, first) == 200 and _status(server.port, again) == 200
        assert "Max-Age=43200" in header and "HttpOnly" in header and "SameSite=Strict" in header
        assert first != OLD_COOKIE and TOKEN not in first
        assert _status(server.port, OLD_COOKIE) == 401
    finally:
        server.stop()
    server = AnnotationServer(path, port=0, token=TOKEN).start()  # a new start, same token
    try:
        second, _ = _session(server.url)
        assert second != first
        assert _status(server.port, first) == 401  # a cookie of the earlier start is void
        assert _status(server.port, second) == 200
    finally:
        server.stop()
    # expiry, checked by the server (not only by the browser's Max-Age)
    client = fastapi_testclient.TestClient(
        create_app(QueryStore(tmp_path / "exp.sqlite"), token=TOKEN, session_max_age=0.5),
        base_url="http://127.0.0.1",
    )
    page = client.get(f"/?token={TOKEN}")
    value = page.cookies[SESSION_COOKIE]
    assert "Max-Age=1;" in page.headers["set-cookie"]
    cookie = {"Cookie": f"{SESSION_COOKIE}={value}"}
    client.cookies.clear()
    assert client.get("/api/progress", headers=cookie).status_code == 200
    time.sleep(0.6)
    assert client.get("/api/progress", headers=cookie).status_code == 401
    expires, _, mac = value.partition(".")
    forged = {"Cookie": f"{SESSION_COOKIE}={int(expires) + 10**6}.{mac}"}  # pushed later
    assert client.get("/api/progress", headers=forged).status_code == 401
    with pytest.raises(ValueError, match="session_max_age"):
        create_app(QueryStore(":memory:"), token=TOKEN, session_max_age=0)


def test_rows_of_the_store_are_untouched_by_a_flood(tmp_path):
    """A flood of refused requests (no token, 429s) stores nothing."""
    store = QueryStore(tmp_path / "rows.sqlite")
    q = store.add(1, np.full(4, 0.5), 0, [0.0, 0.1], 0.0, 1)
    app = create_app(store, token=TOKEN)
    answer = json.dumps({"sigma": 0.1}).encode()

    async def flood():
        return await asyncio.gather(
            *(
                _call(app, "POST", f"/api/queries/{q}/answer", [HOST, JSON], [answer])
                for _ in range(50)
            )
        )

    assert {r[0] for r in asyncio.run(flood())} == {401}
    assert store.responses(q, withdrawn=True) == [] and store.get(q)["answer"] is None
