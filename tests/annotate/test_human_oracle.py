"""The HumanOracle's retries: with backoff, through a server restart, never on a 4xx."""

import http.server
import json
import socket
import threading
import time

import numpy as np
import pytest

from robustsk.active import make_queries
from robustsk.annotate import AnnotationServer, HumanOracle


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_human_oracle_retries_then_raises_a_clear_error():
    port = _free_port()  # nothing listens there
    oracle = HumanOracle(f"http://127.0.0.1:{port}", retries=2, backoff=0.05, verbose=0)
    queries = make_queries(np.zeros((1, 4), np.float32), np.array([1]), np.zeros(1), [0])
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=rf"127\.0\.0\.1:{port} did not answer .*3 attempts"):
        oracle.answer(queries)
    assert time.monotonic() - start >= 0.15  # 0.05 + 0.1 s of backoff
    with pytest.raises(ValueError, match="retries must be in"):
        HumanOracle(f"http://127.0.0.1:{port}", retries=-1).answer(queries)


class _Flaky(http.server.BaseHTTPRequestHandler):
    """503 for the first two requests, then a minimal, always-answered API."""

    calls = []

    def _reply(self, code, body):
        _Flaky.calls.append((self.command, self.path, code))
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        if len(_Flaky.calls) < 2:
            return self._reply(503, {"detail": "starting"})
        if self.headers.get("X-Token") != "t":
            return self._reply(401, {"detail": "a valid token is required"})
        self._reply(200, {"id": 1})

    def do_GET(self):
        self._reply(200, {"id": 1, "answer": 0.25})

    def log_message(self, *args):
        pass


def test_human_oracle_retries_5xx_but_not_4xx():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    queries = make_queries(np.zeros((1, 4), np.float32), np.array([1]), np.zeros(1), [0])
    try:
        oracle = HumanOracle(url, token="t", retries=3, backoff=0.01, verbose=0)
        assert oracle.answer(queries).tolist() == [0.25]
        assert [c[2] for c in _Flaky.calls] == [503, 503, 200, 200]
        _Flaky.calls[:] = [("", "", 0)] * 2
        with pytest.raises(RuntimeError, match="401 .*token"):
            HumanOracle(url, token="wrong", retries=3, backoff=0.01, verbose=0).answer(queries)
        assert len(_Flaky.calls) == 3  # one request: a 4xx is not retried
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Busy(_Flaky):
    """429 with ``Retry-After: 1`` for the first request, then the minimal API."""

    calls = []

    def _reply(self, code, body, headers=()):
        _Busy.calls.append((self.command, self.path, code, time.monotonic()))
        raw = json.dumps(body).encode()
        self.send_response(code)
        for key, value in (("Content-Type", "application/json"), *headers):
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        if not _Busy.calls:
            return self._reply(429, {"detail": "busy"}, [("Retry-After", "1")])
        self._reply(200, {"id": 1})


def test_human_oracle_waits_out_a_429_for_its_retry_after():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    queries = make_queries(np.zeros((1, 4), np.float32), np.array([1]), np.zeros(1), [0])
    try:
        oracle = HumanOracle(url, retries=3, backoff=0.01, verbose=0)
        assert oracle.answer(queries).tolist() == [0.25]
        assert [c[2] for c in _Busy.calls] == [429, 200, 200]  # retried, not raised
        assert _Busy.calls[1][3] - _Busy.calls[0][3] >= 0.95  # after Retry-After, not backoff
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_human_oracle_survives_a_server_restart_and_a_learner_restart(tmp_path):
    db = tmp_path / "a.sqlite"
    server = AnnotationServer(db, port=0).start()
    port = server.port
    X = np.random.default_rng(0).random((3, 1, 4, 4)).astype(np.float32)
    queries = make_queries(X, np.array([0, 1, 2]), np.full(3, 0.3), [0, 2])
    oracle = HumanOracle(
        f"http://127.0.0.1:{port}", poll_interval=0.02, retries=12, backoff=0.02, verbose=0
    )
    result = {}
    waiting = threading.Thread(target=lambda: result.update(levels=oracle.answer(queries)))
    waiting.start()
    while server.store.progress()["total"] < 2:
        time.sleep(0.01)
    first, second = server.store.next_open(), server.store.next_open() + 1
    server.store.answer(first, 0.5)
    server.stop()  # the server goes away while the learner waits...
    time.sleep(0.3)
    server = AnnotationServer(db, port=port).start()  # ...and comes back on the same file
    server.store.answer(second, 0.1)
    waiting.join(20)
    assert result["levels"].tolist() == [0.5, 0.1]
    # a learner restarted after those answers posts the same queries: answered at once
    again = make_queries(X[::-1].copy(), np.array([2, 1, 0]), np.full(3, 0.3), [2, 0])
    assert oracle.answer(again).tolist() == [0.5, 0.1]
    assert server.store.progress() == {"answered": 2, "total": 2}
    server.stop()
