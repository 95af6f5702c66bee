"""The annotation server against a hostile client and a hostile link.

Every case asserts three things: the server never answers 5xx (each response
passes through a check), a bad request gets the right 4xx naming the field,
and a rejected request stores nothing.
"""

import asyncio
import hashlib
import hmac
import json
import re
import shutil
import socket
import sqlite3
import threading
import time
import urllib.request

import numpy as np
import pytest

from robustsk.annotate import AnnotationServer, QueryStore, create_app
from robustsk.annotate._auth import SESSION_COOKIE
from robustsk.annotate._guards import MAX_BODY_BYTES
from robustsk.annotate._page import PAGE, PAGE_CSP, SCRIPT, STYLE
from robustsk.annotate._validation import MAX_LEVELS, MAX_VALUES, QueryFieldError

fastapi_testclient = pytest.importorskip("fastapi.testclient")

TOKEN = "s3cret-Token_1"
JSON = {"Content-Type": "application/json"}
GOOD = {
    "example": 0,
    "x": [0.5] * 4,
    "shape": [1, 2, 2],
    "label": 3,
    "sigmas": [0.0, 0.1, 0.2],
    "current_sigma": 0.1,
    "seed": 7,
}
NAN, INF = float("nan"), float("inf")


def _no_5xx(response):
    assert response.status_code < 500, (response.request.url, response.text)


def _client(app, base_url="http://127.0.0.1"):
    client = fastapi_testclient.TestClient(app, base_url=base_url)
    client.event_hooks = {"response": [_no_5xx]}  # every response of every test
    return client


def _rows(store):
    """Everything a request could have written."""
    db = sqlite3.connect(store.path)
    try:
        return tuple(
            db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("queries", "answers", "unreadable")
        )
    finally:
        db.close()


@pytest.fixture
def store(tmp_path):
    s = QueryStore(tmp_path / "hostile.sqlite")
    yield s
    s.close()


@pytest.fixture
def client(store):
    return _client(create_app(store))


@pytest.fixture
def guarded(store):
    return _client(create_app(store, token=TOKEN))


def _post(client, body, headers=JSON):
    # json.dumps writes NaN / Infinity literals, as a hostile client may
    return client.post("/api/queries", content=json.dumps(body).encode(), headers=headers)


def _asgi(app, method="GET", path="/", headers=(), chunks=(b"",), query=b""):
    """Call the app with a hand-made ASGI request (raw bytes, chunked bodies, odd headers)."""
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent = []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8765),
    }
    asyncio.run(app(scope, receive, send))
    _asgi.unread = len(pending)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] < 500, body
    return start["status"], body


# -- 1. malformed queries: 422 naming the field, nothing stored ------------------------------


def _with(**changes):
    body = dict(GOOD)
    for key, value in changes.items():
        if value is _MISSING:
            body.pop(key)
        else:
            body[key] = value
    return body


_MISSING = object()

BAD_QUERIES = {
    # example: an int in SQLite's 64-bit range
    "example-str": (_with(example="1"), "example"),
    "example-float": (_with(example=1.5), "example"),
    "example-bool": (_with(example=True), "example"),
    "example-null": (_with(example=None), "example"),
    "example-over-int64": (_with(example=2**63), "example"),
    "example-under-int64": (_with(example=-(2**63) - 1), "example"),
    "example-missing": (_with(example=_MISSING), "example"),
    # x: finite float32 numbers, at most MAX_VALUES
    "x-empty": (_with(x=[]), "x"),
    "x-not-list": (_with(x="abcd"), "x"),
    "x-nested": (_with(x=[[0.5] * 4]), "x"),
    "x-strings": (_with(x=["0.5"] * 4), "x"),
    "x-bools": (_with(x=[True] * 4), "x"),
    "x-nan": (_with(x=[0.5, NAN, 0.5, 0.5]), "x"),
    "x-inf": (_with(x=[0.5, 0.5, INF, 0.5]), "x"),
    "x-minus-inf": (_with(x=[-INF] * 4), "x"),
    "x-float32-overflow": (_with(x=[1e39] * 4), "x"),
    "x-too-many": (_with(x=[0] * (MAX_VALUES + 1), shape=[MAX_VALUES + 1]), "x"),
    # shape: 1 to 4 positive dims whose product is len(x)
    "shape-empty": (_with(shape=[]), "shape"),
    "shape-zero": (_with(shape=[0, 4]), "shape"),
    "shape-negative": (_with(shape=[-1, -4]), "shape"),
    "shape-mismatch": (_with(shape=[2, 3]), "shape"),
    "shape-over-int64": (_with(shape=[2**63]), "shape"),
    "shape-huge-product": (_with(shape=[2**20, 2**20, 4]), "shape"),
    "shape-str": (_with(shape=["4"]), "shape"),
    "shape-float": (_with(shape=[4.0]), "shape"),
    "shape-five-dims": (_with(shape=[1, 1, 1, 2, 2]), "shape"),
    # sigmas: 1 to MAX_LEVELS finite levels >= 0, strictly increasing
    "sigmas-empty": (_with(sigmas=[]), "sigmas"),
    "sigmas-negative": (_with(sigmas=[-0.1, 0.1]), "sigmas"),
    "sigmas-nan": (_with(sigmas=[0.0, NAN]), "sigmas"),
    "sigmas-inf": (_with(sigmas=[0.0, INF]), "sigmas"),
    "sigmas-decreasing": (_with(sigmas=[0.2, 0.1]), "sigmas"),
    "sigmas-repeated": (_with(sigmas=[0.1, 0.1]), "sigmas"),
    "sigmas-equal-after-rounding": (_with(sigmas=[0.1, 0.1 + 1e-12]), "sigmas"),
    "sigmas-strings": (_with(sigmas=["0.1"]), "sigmas"),
    "sigmas-too-many": (_with(sigmas=[i / 10 for i in range(MAX_LEVELS + 1)]), "sigmas"),
    "sigmas-float32-overflow": (_with(sigmas=[0.0, 1e39]), "sigmas"),
    # current_sigma: finite, >= 0
    "current-nan": (_with(current_sigma=NAN), "current_sigma"),
    "current-inf": (_with(current_sigma=INF), "current_sigma"),
    "current-negative": (_with(current_sigma=-1.0), "current_sigma"),
    "current-str": (_with(current_sigma="0.1"), "current_sigma"),
    "current-null": (_with(current_sigma=None), "current_sigma"),
    "current-bool": (_with(current_sigma=True), "current_sigma"),
    # seed: an int in [0, 2**63 - 1] (what the noise generator takes)
    "seed-negative": (_with(seed=-1), "seed"),
    "seed-over-int64": (_with(seed=2**63), "seed"),
    "seed-float": (_with(seed=1.5), "seed"),
    "seed-str": (_with(seed="7"), "seed"),
    "seed-bool": (_with(seed=True), "seed"),
    "seed-null": (_with(seed=None), "seed"),
    # label: a JSON scalar
    "label-long": (_with(label="x" * 1000), "label"),
    "label-list": (_with(label=[1]), "label"),
    "label-object": (_with(label={"a": 1}), "label"),
    "label-over-int64": (_with(label=2**63), "label"),
    "label-nan": (_with(label=NAN), "label"),
    # the body itself
    "body-array": ([], "body"),
    "body-string": ("query", "body"),
    "body-number": (5, "body"),
    "body-null": (None, "body"),
}


@pytest.mark.parametrize("case", list(BAD_QUERIES), ids=list(BAD_QUERIES))
def test_bad_query_is_422_naming_the_field_and_stores_nothing(client, store, case):
    body, field = BAD_QUERIES[case]
    before = _rows(store)
    r = _post(client, body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail.startswith(field), detail
    assert any(e["field"].startswith(field) for e in r.json()["errors"])
    assert _rows(store) == before
    assert client.get("/api/next").status_code == 204  # and the queue still works


RAW_BODIES = {
    "malformed": (b"{oops", 422),
    "empty": (b"", 422),
    "deeply-nested": (b"[" * 100_000 + b"]" * 100_000, 400),
    "huge-int-literal": (b'{"example": ' + b"9" * 5000 + b"}", 400),
    "trailing-garbage": (json.dumps(GOOD).encode() + b"}}", 422),
    "invalid-utf8": (b'{"example": "\xff\xfe"}', 400),
}


@pytest.mark.parametrize("case", list(RAW_BODIES), ids=list(RAW_BODIES))
def test_unparseable_body_is_4xx_and_stores_nothing(client, store, case):
    raw, status = RAW_BODIES[case]
    before = _rows(store)
    r = client.post("/api/queries", content=raw, headers=JSON)
    assert r.status_code == status, r.text
    assert _rows(store) == before


# -- 2. answers, ids and levels --------------------------------------------------------------


@pytest.fixture
def posted(client):
    r = _post(client, GOOD)
    assert r.status_code == 200
    return r.json()["id"]


BAD_ANSWERS = {
    "nan": (b'{"sigma": NaN}', 422, "sigma"),
    "inf": (b'{"sigma": Infinity}', 422, "sigma"),
    "str": (b'{"sigma": "0.1"}', 422, "sigma"),
    "bool": (b'{"sigma": true}', 422, "sigma"),
    "null": (b'{"sigma": null}', 422, "sigma"),
    "list": (b'{"sigma": [0.1]}', 422, "sigma"),
    "missing": (b"{}", 422, "sigma"),
    "off-ladder": (b'{"sigma": 0.15}', 422, "sigma"),
    "negative": (b'{"sigma": -0.1}', 422, "sigma"),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS), ids=list(BAD_ANSWERS))
def test_bad_answer_is_4xx_and_stores_nothing(client, store, posted, case):
    raw, status, field = BAD_ANSWERS[case]
    before = _rows(store)
    r = client.post(f"/api/queries/{posted}/answer", content=raw, headers=JSON)
    assert r.status_code == status and r.json()["detail"].startswith(field), r.text
    assert _rows(store) == before and store.get(posted)["answer"] is None


BAD_PATHS = {
    "qid-over-int64": ("GET", f"/api/queries/{2**63}", 422, "qid"),
    "qid-under-int64": ("GET", f"/api/queries/{-(2**63) - 1}", 422, "qid"),
    "qid-huge": ("GET", "/api/queries/" + "9" * 5000, 422, "qid"),
    "qid-text": ("GET", "/api/queries/abc", 422, "qid"),
    "qid-float": ("GET", "/api/queries/1.5", 422, "qid"),
    "qid-unknown": ("GET", "/api/queries/999", 404, "unknown"),
    "qid-negative-unknown": ("GET", "/api/queries/-5", 404, "unknown"),
    "image-k-over-int64": ("GET", f"/api/queries/1/image/{2**63}.png", 422, "k"),
    "image-k-negative": ("GET", "/api/queries/1/image/-1.png", 422, "k"),
    "image-k-text": ("GET", "/api/queries/1/image/x.png", 422, "k"),
    "image-k-off-ladder": ("GET", "/api/queries/1/image/3.png", 404, "query 1 has levels"),
    "image-qid-unknown": ("GET", "/api/queries/999/image/0.png", 404, "unknown"),
    "image-qid-over-int64": ("GET", f"/api/queries/{2**63}/image/0.png", 422, "qid"),
    "answer-qid-over-int64": ("POST", f"/api/queries/{2**63}/answer", 422, "qid"),
    "answer-qid-unknown": ("POST", "/api/queries/999/answer", 404, "unknown"),
    "unknown-route": ("GET", "/api/admin", 404, "Not Found"),
    "wrong-method": ("DELETE", "/api/queries/1", 405, "Method Not Allowed"),
}


@pytest.mark.parametrize("case", list(BAD_PATHS), ids=list(BAD_PATHS))
def test_bad_path_is_4xx_naming_it(client, store, posted, case):
    method, path, status, start = BAD_PATHS[case]
    before = _rows(store)
    r = client.request(method, path, content=b'{"sigma": 0.1}', headers=JSON)
    assert r.status_code == status and r.json()["detail"].startswith(start), r.text
    assert _rows(store) == before


def test_answer_twice_is_409_and_the_echo_is_the_stored_level(client, store, posted):
    r = client.post(f"/api/queries/{posted}/answer", json={"sigma": 0.1 + 4e-10})
    assert r.status_code == 200 and r.json()["sigma"] == 0.1  # the ladder's value, stored
    assert client.get(f"/api/queries/{posted}").json()["answer"] == 0.1
    again = client.post(f"/api/queries/{posted}/answer", json={"sigma": 0.2})
    assert again.status_code == 409 and store.get(posted)["answer"] == 0.1


def test_any_shape_within_bounds_renders(client):
    for shape in ([4], [2, 2], [1, 2, 2], [3, 1, 1], [2, 2, 1], [4, 1, 1], [1, 1, 2, 2]):
        n = int(np.prod(shape))
        body = _with(x=[0.25] * n, shape=shape, sigmas=[0.0, 1e30], example=n * 10 + len(shape))
        qid = _post(client, body).json()["id"]
        for k in (0, 1):
            r = client.get(f"/api/queries/{qid}/image/{k}.png")
            assert r.status_code == 200 and r.content[:4] == b"\x89PNG"


# -- 3. sizes: 413 before parsing, before the token ------------------------------------------


def test_body_over_the_limit_is_413_by_content_length(client, store):
    before = _rows(store)
    r = client.post("/api/queries", content=b" " * (MAX_BODY_BYTES + 1), headers=JSON)
    assert r.status_code == 413 and str(MAX_BODY_BYTES) in r.json()["detail"]
    assert _rows(store) == before


def test_413_comes_before_the_token_check(guarded, store):
    before = _rows(store)
    r = guarded.post("/api/queries", content=b" " * (MAX_BODY_BYTES + 1), headers=JSON)
    assert r.status_code == 413 and _rows(store) == before


def test_chunked_body_is_cut_off_at_the_limit(store):
    app = create_app(store, token=TOKEN, max_body_bytes=1000)
    chunks = [b"[" * 100] * 10_000
    # with the token: the body of a request without it is never read (see test_auth_flood)
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    headers.append((b"x-token", TOKEN.encode()))
    status, body = _asgi(app, "POST", "/api/queries", headers, chunks)
    assert status == 413 and b"1000 bytes" in body
    assert _asgi.unread == 10_000 - 11  # stopped reading just past the limit
    assert _rows(store) == (0, 0, 0)


def test_body_at_the_limit_is_parsed(store):
    app = create_app(store, max_body_bytes=1000)
    body = json.dumps(GOOD).encode()
    body += b" " * (1000 - len(body))
    assert _client(app).post("/api/queries", content=body, headers=JSON).status_code == 200


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1e3", b"99999999999999999999999"])
def test_bad_content_length_is_400_or_413(store, value):
    status, _ = _asgi(
        create_app(store),
        "POST",
        "/api/queries",
        [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", value),
        ],
        chunks=(json.dumps(GOOD).encode(),),
    )
    assert status in (400, 413) and _rows(store) == (0, 0, 0)


def test_the_largest_example_fits_in_the_body_limit():
    body = _with(x=[-1.2345678901234567e-30] * MAX_VALUES, shape=[MAX_VALUES])
    body["sigmas"] = [0.123456789 * i for i in range(MAX_LEVELS)]
    assert len(json.dumps(body)) < MAX_BODY_BYTES  # what the limit documents


# -- 4. the token --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/api/next", "/api/progress", "/docs", "/redoc", "/openapi.json", "/nope"]
)
def test_every_path_needs_the_token(guarded, path):
    r = guarded.get(path)
    assert r.status_code == 401 and TOKEN not in r.text
    assert guarded.get(path, headers={"X-Token": TOKEN}).status_code in (200, 204, 404)


BAD_TOKENS = {
    "wrong": [(b"x-token", b"wrong")],
    "prefix": [(b"x-token", TOKEN[:-1].encode())],
    "longer": [(b"x-token", TOKEN.encode() + b"x")],
    "empty": [(b"x-token", b"")],
    "non-ascii": [(b"x-token", "s3crét".encode())],
    "latin1-bytes": [(b"x-token", b"\xff\xfe\x00")],
    "raw-token-as-cookie": [(b"cookie", f"{SESSION_COOKIE}={TOKEN}".encode())],
    "forged-cookie": [(b"cookie", f"{SESSION_COOKIE}={'0' * 64}".encode())],
    # the cookie of earlier versions, a fixed HMAC of the token: valid no more
    "fixed-hmac-cookie": [
        (
            b"cookie",
            SESSION_COOKIE.encode()
            + b"="
            + hmac.new(TOKEN.encode(), b"robustsk annotate session", hashlib.sha256)
            .hexdigest()
            .encode(),
        )
    ],
    "far-future-expiry-forged-mac": [
        (b"cookie", f"{SESSION_COOKIE}=99999999999.000.{'a' * 64}".encode())
    ],
    "non-ascii-cookie": [(b"cookie", f"{SESSION_COOKIE}=é".encode())],
    "token-as-authorization": [(b"authorization", f"Bearer {TOKEN}".encode())],
}


@pytest.mark.parametrize("case", list(BAD_TOKENS), ids=list(BAD_TOKENS))
def test_bad_token_is_401(store, case):
    app = create_app(store, token=TOKEN)
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    status, body = _asgi(
        app, "POST", "/api/queries", headers + BAD_TOKENS[case], (json.dumps(GOOD).encode(),)
    )
    assert status == 401 and TOKEN.encode() not in body
    assert _rows(store) == (0, 0, 0)


@pytest.mark.parametrize(
    "query", [b"token=s3cr%C3%A9t", b"token=%FF%FE", b"token=", b"token", b"token=%00"]
)
def test_bad_token_in_the_page_link_is_401(store, query):
    status, body = _asgi(
        create_app(store, token=TOKEN), "GET", "/", [(b"host", b"127.0.0.1")], query=query
    )
    assert status == 401 and b"<" not in body  # no markup, nothing echoed


def test_the_token_is_accepted_in_the_link_only_and_becomes_a_cookie(guarded, store):
    qid = store.add(1, np.full((1, 2, 2), 0.5), 3, [0.0, 0.1], 0.0, 1)
    image = f"/api/queries/{qid}/image/0.png"
    assert guarded.get(f"{image}?token={TOKEN}").status_code == 401  # never in an image URL
    assert guarded.get(f"/api/next?token={TOKEN}").status_code == 401
    page = guarded.get(f"/?token={TOKEN}")
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    # a random session with an expiry, not a value derived from the token
    # (see test_auth_flood.py::test_the_session_cookie_is_random_per_start_and_expires)
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"):
        assert attribute in cookie
    assert TOKEN not in cookie
    assert guarded.get(image).status_code == 200  # the cookie carries the session
    assert guarded.get(f"/api/queries/{qid}").json()["answer"] is None


@pytest.mark.parametrize("token", ["", "a b", "s3crét", "x" * 257, "a;b", "a\nb", "<script>"])
def test_an_unusable_token_is_refused_at_start_up(tmp_path, token):
    with pytest.raises(ValueError, match="token"):
        AnnotationServer(tmp_path / "t.sqlite", token=token)
    with pytest.raises(ValueError, match="token"):
        create_app(QueryStore(":memory:"), token=token)
    assert not (tmp_path / "t.sqlite").exists()  # refused before anything is opened


def test_the_cli_refuses_an_empty_token(tmp_path, capsys):
    from robustsk.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["annotate", "--db", str(tmp_path / "cli.sqlite"), "--token", ""])
    assert exc.value.code == 2 and "token" in capsys.readouterr().err


def test_off_loopback_the_token_is_required(store):
    with pytest.raises(ValueError, match="token is required"):
        create_app(store, host="0.0.0.0")
    public = _client(create_app(store, token=TOKEN, host="0.0.0.0"), "http://annotate.example")
    assert public.get("/api/next").status_code == 401  # any Host, but the token
    assert public.get("/api/next", headers={"X-Token": TOKEN}).status_code == 204


# -- 5. Host (DNS rebinding) and cross-site requests ----------------------------------------

HOSTS = {
    "127.0.0.1": 204,
    "127.0.0.1:8765": 204,
    "localhost:8765": 204,
    "LOCALHOST": 204,
    "[::1]:8765": 204,
    "127.0.0.2": 204,
    "evil.example": 400,
    "evil.example:8765": 400,
    "127.0.0.1.evil.example": 400,
    "localhost.evil.example": 400,
    "127.0.0.1:80:80": 400,
    "127.0.0.1:abc": 400,
    "[::1": 400,
    "": 400,
}


@pytest.mark.parametrize("host", list(HOSTS), ids=[h or "empty" for h in HOSTS])
def test_host_header_is_checked_on_loopback(store, host):
    status, _ = _asgi(create_app(store), "GET", "/api/next", [(b"host", host.encode())])
    assert status == HOSTS[host]


def test_missing_or_repeated_host_is_400(store):
    app = create_app(store)
    assert _asgi(app, "GET", "/api/next", [])[0] == 400
    assert _asgi(app, "GET", "/api/next", [(b"host", b"127.0.0.1"), (b"host", b"evil")])[0] == 400


CROSS_SITE = {
    "origin-evil": ([(b"origin", b"http://evil.example")], JSON, 403),
    "origin-null": ([(b"origin", b"null")], JSON, 403),
    "origin-other-port": ([(b"origin", b"http://127.0.0.1:9999")], JSON, 403),
    "text-plain": ([], {"Content-Type": "text/plain"}, 415),
    "form": ([], {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    "multipart": ([], {"Content-Type": "multipart/form-data; boundary=x"}, 415),
    "no-content-type": ([], {}, 415),
}


@pytest.mark.parametrize("case", list(CROSS_SITE), ids=list(CROSS_SITE))
def test_cross_site_posts_are_refused(store, case):
    extra, content_type, status = CROSS_SITE[case]
    headers = [(b"host", b"127.0.0.1:8765")] + extra
    headers += [(k.lower().encode(), v.encode()) for k, v in content_type.items()]
    got, _ = _asgi(create_app(store), "POST", "/api/queries", headers, (json.dumps(GOOD).encode(),))
    assert got == status and _rows(store) == (0, 0, 0)


def test_a_same_origin_post_is_accepted(store):
    headers = [(b"host", b"127.0.0.1:8765"), (b"origin", b"http://127.0.0.1:8765")]
    headers.append((b"content-type", b"application/json; charset=utf-8"))
    status, _ = _asgi(
        create_app(store), "POST", "/api/queries", headers, (json.dumps(GOOD).encode(),)
    )
    assert status == 200 and _rows(store) == (1, 0, 0)


# -- 6. the page never renders data as markup ------------------------------------------------


def test_the_page_builds_nodes_not_markup():
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
        "srcdoc",
        "`",
        "location.search",
        '.get("token")',
    ):
        assert sink not in SCRIPT, sink
    assert not re.search(r"\son[a-z]+\s*=", PAGE)  # no inline event handlers
    assert 'setTimeout("' not in SCRIPT and "setTimeout('" not in SCRIPT
    # query values reach the DOM only through these
    assert "textContent" in SCRIPT and "setAttribute" in SCRIPT and "createElement" in SCRIPT
    assert "encodeURIComponent(String(query.id))" in SCRIPT


def test_the_page_is_served_with_a_strict_policy(client):
    r = client.get("/?token=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert r.status_code == 200 and r.text == PAGE  # nothing from the request in the page
    csp = r.headers["content-security-policy"]
    assert csp == PAGE_CSP and "unsafe" not in csp and "frame-ancestors 'none'" in csp
    import base64
    import hashlib

    for text in (SCRIPT, STYLE):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/api/next", "/api/queries/abc", "/nope"])
def test_api_answers_are_json_that_no_browser_renders(client, path):
    r = client.get(path)
    assert r.headers.get("content-type", "application/json").startswith("application/json")
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["x-content-type-options"] == "nosniff"


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


PAYLOADS = {
    "script-tag": "<script>fetch('/pwned');alert(1)</script>",
    "attribute-break": '"><img src=x onerror="fetch(\'/pwned\');alert(1)">',
    "quote-break": "'><svg onload=fetch('/pwned')>",
    "template": "${fetch('/pwned')}",
}


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (installed by .ci/run)")
@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "without-csp"])
@pytest.mark.parametrize("case", list(PAYLOADS), ids=list(PAYLOADS))
def test_a_crafted_link_runs_no_script_in_chromium(tmp_path, case, bypass_csp):
    from urllib.parse import quote, urlsplit

    sync_api = pytest.importorskip("playwright.sync_api")
    payload = quote(PAYLOADS[case], safe="")
    server = AnnotationServer(tmp_path / "xss.sqlite", port=0).start()
    try:
        server.store.add(1, np.full((1, 4, 4), 0.5), payload, [0.0, 0.1, 0.2], 0.1, 3)
        base = f"http://127.0.0.1:{server.port}/"
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_context(bypass_csp=bypass_csp).new_page()
            dialogs, requests = [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{base}?token={payload}&x={payload}#{payload}")
            page.fill("#who", "tester")
            page.keyboard.press("Enter")
            page.wait_for_selector(".rung >> nth=2")
            page.wait_for_selector("#status:has-text('Query 1 of 1')")
            time.sleep(0.3)
            assert dialogs == [] and all(urlsplit(u).path != "/pwned" for u in requests)
            assert page.query_selector("img[src='x'], svg, script:not(:first-of-type)") is None
            assert "token" not in page.url  # dropped from the address bar
            assert all("token" not in u for u in requests if "/image/" in u)
            browser.close()
    finally:
        server.stop()


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_the_token_link_works_through_the_cookie_in_chromium(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    server = AnnotationServer(tmp_path / "cookie.sqlite", port=0, token=TOKEN).start()
    try:
        qid = server.store.add(1, np.full((1, 4, 4), 0.5), 0, [0.0, 0.1, 0.2], 0.1, 3)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            images = []
            page.on(
                "response",
                lambda r: images.append((r.url, r.status)) if "/image/" in r.url else None,
            )
            page.goto(server.url)
            page.fill("#who", "tester")
            page.click("#who-go")
            page.wait_for_selector(".rung >> nth=2")
            assert TOKEN not in page.url
            page.click(".rung[data-sigma='0.2']")
            page.wait_for_selector("#status:has-text('No open queries')")
            assert images and all(s == 200 and TOKEN not in u for u, s in images)
            page.reload()  # the cookie, not the URL, carries the session now
            page.wait_for_selector("#status:has-text('No open queries')")  # name remembered
            assert page.text_content("#who-name") == "tester"
            browser.close()
        assert server.store.get(qid)["answer"] == 0.2
    finally:
        server.stop()


# -- 7. the store: no bad row in, no bad row stops the queue ---------------------------------

BAD_CALLS = {
    "x-nan": (dict(x=np.array([np.nan, 0.5])), "x"),
    "x-inf": (dict(x=np.array([np.inf, 0.5])), "x"),
    "x-five-dims": (dict(x=np.zeros((1, 1, 1, 1, 2))), "x"),
    "x-objects": (dict(x=np.array([object()])), "x"),
    "example-over-int64": (dict(example=2**64), "example"),
    "example-float": (dict(example=1.5), "example"),
    "seed-negative": (dict(seed=-1), "seed"),
    "seed-over-int64": (dict(seed=2**63), "seed"),
    "sigmas-decreasing": (dict(sigmas=[0.2, 0.1]), "sigmas"),
    "sigmas-empty": (dict(sigmas=[]), "sigmas"),
    "current-inf": (dict(current_sigma=np.inf), "current_sigma"),
    "label-object": (dict(label=object()), "label"),
    "label-nan": (dict(label=np.float64("nan")), "label"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS), ids=list(BAD_CALLS))
def test_the_store_refuses_what_the_server_refuses(store, case):
    changes, field = BAD_CALLS[case]
    args = dict(example=1, x=np.zeros(4), label=3, sigmas=[0.0, 0.1], current_sigma=0.0, seed=1)
    args.update(changes)
    with pytest.raises(QueryFieldError, match=f"^{field}") as exc:
        store.add(**args)
    assert exc.value.field == field and _rows(store) == (0, 0, 0)


POISON = {
    "sigmas-empty": {"sigmas": "[]"},
    "sigmas-nan": {"sigmas": "[0.0, NaN]"},
    "sigmas-not-json": {"sigmas": "not json"},
    "sigmas-object": {"sigmas": '{"a": 1}'},
    "shape-mismatch": {"shape": "[5]"},
    "shape-zero": {"shape": "[0]"},
    "x-torn": {"x": b"\x00\x00\x00"},
    "x-text": {"x": "abcd"},
    "seed-negative": {"seed": -5},
    "label-not-json": {"label": "{"},
    "current-text": {"current_sigma": "high"},
}


@pytest.mark.parametrize("case", list(POISON), ids=list(POISON))
def test_a_poisoned_row_never_stops_the_queue_even_after_a_restart(tmp_path, case):
    path = tmp_path / "poison.sqlite"
    QueryStore(path).close()
    row = {
        "key": "poison",
        "example": 9,
        "label": "3",
        "shape": "[4]",
        "x": np.zeros(4, np.float32).tobytes(),
        "sigmas": "[0.0, 0.1]",
        "current_sigma": 0.0,
        "seed": 1,
        "created": 0.0,
    }
    row.update(POISON[case])
    db = sqlite3.connect(path)
    db.execute(
        f"INSERT INTO queries ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        tuple(row.values()),
    )
    db.commit()
    db.close()
    for _ in range(2):  # before and after a restart
        store = QueryStore(path)
        client = _client(create_app(store))
        good = _post(client, GOOD).json()["id"]
        nxt = client.get("/api/next")
        assert nxt.status_code == 200 and nxt.json()["id"] == good
        assert client.get("/api/queries/1").status_code == 404  # the poisoned row
        assert client.get("/api/queries/1/image/0.png").status_code == 404
        assert client.post("/api/queries/1/answer", json={"sigma": 0.0}).status_code == 404
        assert client.get("/api/progress").json() == {"answered": 0, "total": 1}
        store.close()


# -- 8. two servers on one file ----------------------------------------------------------------


def test_two_stores_adding_the_same_query_at_once_get_one_id(tmp_path):
    path = tmp_path / "shared.sqlite"
    stores = [QueryStore(path), QueryStore(path)]
    ids, errors = [], []
    barrier = threading.Barrier(8)

    def post(store, round_):
        barrier.wait()
        try:
            for r in range(round_):
                ids.append((r, store.add(r, np.full(4, 0.5), 3, [0.0, 0.1], 0.0, 1)))
        except Exception as exc:  # any failure is the bug under test
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(stores[i % 2], 20)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    by_round = {}
    for r, qid in ids:
        by_round.setdefault(r, set()).add(qid)
    assert all(len(v) == 1 for v in by_round.values()) and len(by_round) == 20
    assert stores[0].progress() == {"answered": 0, "total": 20}
    for s in stores:
        s.close()


def test_two_servers_on_one_file_never_answer_5xx(tmp_path):
    path = tmp_path / "servers.sqlite"
    servers = [AnnotationServer(path, port=0).start() for _ in range(2)]
    statuses, barrier = [], threading.Barrier(6)

    def post(server):
        barrier.wait()
        for example in range(10):
            body = json.dumps(_with(example=example)).encode()
            req = urllib.request.Request(
                f"http://127.0.0.1:{server.port}/api/queries", data=body, headers=JSON
            )
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    statuses.append((example, resp.status, json.loads(resp.read())["id"]))
            except urllib.error.HTTPError as exc:
                statuses.append((example, exc.code, None))

    threads = [threading.Thread(target=post, args=(servers[i % 2],)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in servers:
            s.stop()
    assert len(statuses) == 60 and all(s == 200 for _, s, _ in statuses)
    assert all(len({q for e, _, q in statuses if e == ex}) == 1 for ex in range(10))
    assert QueryStore(path).progress()["total"] == 10


# -- 9. the real server, raw bytes on the socket ---------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    path = tmp_path_factory.mktemp("live") / "live.sqlite"
    server = AnnotationServer(path, port=0, token=TOKEN).start()
    yield server
    server.stop()


def _raw(server, data, read=65536):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all
        try:
            reply = sock.recv(read)
        except ConnectionResetError:
            reply = b""
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else None
    assert status is None or status < 500, reply[:300]
    return status, reply


RAW_REQUESTS = {
    # without the token: refused from the headers, the body never read (it used to be
    # read up to the limit first, then refused 413)
    "chunked-over-limit-no-token": (
        b"POST /api/queries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + (b"100000\r\n" + b"[" * 0x100000 + b"\r\n") * 9,
        401,
    ),
    "chunked-over-limit": (
        b"POST /api/queries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"X-Token: {TOKEN}\r\n".encode()
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + (b"100000\r\n" + b"[" * 0x100000 + b"\r\n") * 9,
        413,
    ),
    "content-length-over-limit": (
        b"POST /api/queries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode(),
        413,
    ),
    "non-ascii-token": (
        b"GET /api/next HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Token: s3cr\xc3\xa9t\r\n\r\n",
        401,
    ),
    "rebinding-host": (
        f"GET /api/next HTTP/1.1\r\nHost: evil.example\r\nX-Token: {TOKEN}\r\n\r\n".encode(),
        400,
    ),
    "no-host-http10": (f"GET /api/next HTTP/1.0\r\nX-Token: {TOKEN}\r\n\r\n".encode(), 400),
    "garbage-request-line": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    "bad-method": (b"G\x00T / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", list(RAW_REQUESTS), ids=list(RAW_REQUESTS))
def test_the_live_server_answers_raw_attacks_with_4xx(live, case):
    data, status = RAW_REQUESTS[case]
    before = live.store.progress()
    got, _ = _raw(live, data)
    assert got in (status, None)  # None: the server closed a garbage connection
    if case != "garbage-request-line":
        assert got == status
    assert live.store.progress() == before


def test_the_live_server_still_serves_after_the_attacks(live):
    req = urllib.request.Request(
        f"http://127.0.0.1:{live.port}/api/progress", headers={"X-Token": TOKEN}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
