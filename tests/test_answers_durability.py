"""Nothing a person answered is lost, applied twice, or applied to the wrong example.

Two fault-injection loops: learners (and the annotation server) are killed with
SIGKILL at random points, journals get torn tails between kills, everything
restarts and resumes, and at the end every acknowledged answer must have been
applied exactly once, to its example. (The HumanOracle's retries are tested in
tests/annotate/test_human_oracle.py.)

The learners and the server run in processes forked from one helper that has
imported (and warmed up) robustsk once, so a restart costs milliseconds, not the
seconds of importing torch.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from robustsk.active import AnswerJournal, row_keys

ROOT = Path(__file__).resolve().parents[1]

HELPER = r"""
import json, os, signal, sys, time, traceback

import numpy as np
import torch

torch.set_num_threads(1)  # no thread pool to break in the forked children

from sklearn.dummy import DummyClassifier

from robustsk.active import ActiveLearner, CallableOracle, PerturbationLevelLearner, row_keys
from robustsk.annotate import AnnotationServer, HumanOracle
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.query import random_sampling


def levels_data():
    rng = np.random.default_rng(0)
    return rng.random((400, 1, 4, 4)).astype(np.float32), rng.integers(0, 3, 400)


def labels_data():
    rng = np.random.default_rng(1)
    X = rng.random((306, 16)).astype(np.float32)
    y = rng.integers(0, 4, 306)
    return X[:6], y[:6], X[6:], y[6:]


def aqpl_learner(oracle, journal, seed, budget):
    return PerturbationLevelLearner(
        oracle,
        NoiseTrainedClassifier(max_epochs=1, batch_size=64, lr=1e-2, verbose=0, random_state=0),
        n_per_side=2,
        n_draws=4,
        max_queries=budget,
        max_rounds=budget,
        journal=journal,
        random_state=seed,
    )


def server(db, port):
    AnnotationServer(db, port=port).serve_forever()


def aqpl(url, journal, done, seed, budget):
    X, y = levels_data()
    perm = np.random.default_rng(seed).permutation(len(X))  # every life sees another order
    X, y = X[perm], y[perm]
    oracle = HumanOracle(
        url,
        poll_interval=0.01,
        retries=10,
        backoff=0.02,
        request_timeout=5,
        verbose=0,
        settle_time=0.0,
    )
    learner = aqpl_learner(oracle, journal, seed, budget).fit(X, y).run()
    keys = row_keys(X)
    result = {
        "answers": {str(keys[i]): s for i, s in learner.answers_.items()},
        "history": [[r["round"], r["queries"]] for r in learner.history_],
    }
    with open(done + ".part", "w") as f:
        json.dump(result, f)
    os.replace(done + ".part", done)


def active(journal, acks, done, seed, pause=0.02):
    X0, y0, pool, y_pool = labels_data()
    learner = ActiveLearner(
        DummyClassifier(), random_sampling, X0, y0, journal=journal, random_state=seed
    )
    with open(acks, "a") as log:
        while True:
            try:
                idx, rows = learner.query(pool, n_instances=3)
            except ValueError:
                try:
                    idx, rows = learner.query(pool, n_instances=1)
                except ValueError:
                    break  # every row answered
            learner.teach(rows, y_pool[idx])  # journaled (fsynced) before it returns
            log.write(" ".join(row_keys(rows)) + "\n")  # acknowledged
            log.flush()
            os.fsync(log.fileno())
            time.sleep(pause)
    keys = row_keys(learner.X_training)
    with open(done, "w") as f:
        json.dump({"n": len(keys), "unique": len(set(keys.tolist()))}, f)


ROLES = {"server": server, "aqpl": aqpl, "active": active}

# warm up (lazy imports, first-call costs) once, before any fork
X, y = levels_data()
aqpl_learner(CallableOracle(lambda q: 0.3), None, 0, 4).fit(X[:40], y[:40]).run()
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
print("ready", flush=True)
for line in sys.stdin:
    command = json.loads(line)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        fd = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 0
        try:
            ROLES[command["role"]](**command["args"])
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
"""


class Forker:
    """Starts learners and servers as processes forked from a warmed-up helper."""

    def __init__(self, folder):
        self.folder = folder
        script = folder / "helper.py"
        script.write_text(HELPER)
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(folder / "helper.log", "w"),
            text=True,
            cwd=folder,
            env=env,
        )
        assert self.proc.stdout.readline().strip() == "ready", (folder / "helper.log").read_text()
        self.children = set()

    def start(self, role, **args):
        command = {"role": role, "args": args, "log": str(self.folder / f"{role}.log")}
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        pid = int(self.proc.stdout.readline())
        self.children.add(pid)
        return pid

    def kill(self, pid):
        """SIGKILL ``pid``; return once it is gone (the helper ignores SIGCHLD: no zombies)."""
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while alive(pid):
            time.sleep(0.002)
        self.children.discard(pid)

    def close(self):
        for pid in list(self.children):
            self.kill(pid)
        self.proc.kill()  # the helper itself holds nothing
        self.proc.wait(10)
        self.proc.stdin.close()
        self.proc.stdout.close()


def alive(pid):
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def forker(tmp_path_factory):
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    f = Forker(tmp_path_factory.mktemp("forker"))
    yield f
    f.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(method, url, body=None, timeout=2.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as exc:
        return exc.code, None


class Person(threading.Thread):
    """Answers open queries in the app, and notes every answer the server acknowledged."""

    def __init__(self, url, seed):
        super().__init__(daemon=True)
        self.url, self.rng = url, np.random.default_rng(seed)
        self.acked = {}  # query id -> level, for every 200
        self.conflicts = 0  # 409s: an earlier, unacknowledged post had been stored
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                status, nxt = _http("GET", self.url + "/api/next")
                if status != 200:
                    time.sleep(0.01)
                    continue
                sigma = float(self.rng.choice(nxt["sigmas"]))
                time.sleep(self.rng.uniform(0.0, 0.03))  # a person takes a moment
                status, _ = _http(
                    "POST", f"{self.url}/api/queries/{nxt['id']}/answer", {"sigma": sigma}
                )
            except (OSError, ValueError):  # the server is down (or died mid-answer)
                time.sleep(0.01)
                continue
            if status == 200:
                self.acked[nxt["id"]] = sigma
            elif status == 409:
                self.conflicts += 1


def _server_queries(db):
    """``[(query id, content key, level or None)]`` of every query in the server's store: the
    level the learner took (collected), which must be the person's one live answer."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT q.id, q.x, c.sigma, r.sigma FROM queries q"
        " LEFT JOIN collected c ON c.query = q.id"
        " LEFT JOIN responses r ON r.query = q.id AND r.withdrawn IS NULL"
    ).fetchall()
    con.close()
    assert len({r[0] for r in rows}) == len(rows)  # one live answer per query at most
    assert all(taken is None or taken == given for _, _, taken, given in rows)
    return [(qid, row_keys(np.frombuffer(x, np.float32)[None])[0], s) for qid, x, s, _ in rows]


def _tear(path, rng, cut_answers):
    """A torn tail: the start of a record that was never finished, NUL bytes (a crash after
    the size grew), or (``cut_answers``) the last batch of answers cut mid-record."""
    data = path.read_bytes() if path.exists() else b""
    lines = data.splitlines(keepends=True)
    kind = str(rng.choice(["fragment", "zeros", "cut"] if cut_answers else ["fragment", "zeros"]))
    if kind == "cut" and data.endswith(b"\n") and b'"kind":"level"' in lines[-1]:
        start = len(lines) - 1
        tag = b'"round":' + lines[-1].split(b'"round":')[1].split(b",")[0] + b","
        while start > 0 and b'"kind":"level"' in lines[start - 1] and tag in lines[start - 1]:
            start -= 1
        head = sum(len(line) for line in lines[:start])
        path.write_bytes(data[: int(rng.integers(head + 1, len(data) - 1))])
        return "cut"
    if kind == "zeros" or not lines:
        tail = b"\0" * int(rng.integers(1, 300))
    else:
        line = lines[int(rng.integers(len(lines)))]
        tail = line[: int(rng.integers(1, len(line) - 1))]
    with open(path, "ab") as f:
        f.write(tail)
    return kind


# ------------------------------------------------------------------ fault injection


def test_journal_lock_is_released_by_kill_9(forker, tmp_path):
    """While a learner lives, a second one fails at once naming its pid; kill -9 frees it."""
    journal, acks, done = tmp_path / "j.jsonl", tmp_path / "acks.txt", tmp_path / "done.json"
    pid = forker.start(
        "active", journal=str(journal), acks=str(acks), done=str(done), seed=0, pause=0.2
    )
    deadline = time.monotonic() + 30
    while not (acks.exists() and acks.read_text()) and time.monotonic() < deadline:
        time.sleep(0.005)
    with pytest.raises(RuntimeError, match=rf"in use by another learner \(held by pid {pid}"):
        AnswerJournal(journal).open()
    forker.kill(pid)
    AnswerJournal(journal).open().close()


def test_a_learner_holding_a_link_locks_every_path_to_the_file(forker, tmp_path):
    """A learner in another process holds the journal through a symlink: the real path, a
    hard link and a relative path are refused at once, naming its pid; kill -9 frees it."""
    real = tmp_path / "data" / "j.jsonl"
    real.parent.mkdir()
    real.write_bytes(b"")
    (tmp_path / "sym.jsonl").symlink_to(real)
    os.link(real, tmp_path / "hard.jsonl")
    acks, done = tmp_path / "acks.txt", tmp_path / "done.json"
    pid = forker.start(
        "active",
        journal=str(tmp_path / "sym.jsonl"),
        acks=str(acks),
        done=str(done),
        seed=0,
        pause=0.2,
    )
    deadline = time.monotonic() + 30
    while not (acks.exists() and acks.read_text()) and time.monotonic() < deadline:
        time.sleep(0.005)
    relative = os.path.relpath(real, Path.cwd())
    for path in (real, tmp_path / "hard.jsonl", relative, tmp_path / "data" / ".." / "sym.jsonl"):
        start = time.monotonic()
        with pytest.raises(RuntimeError, match=rf"in use by another learner \(held by pid {pid};"):
            AnswerJournal(path).open()
        assert time.monotonic() - start < 1.0
    forker.kill(pid)
    with AnswerJournal(tmp_path / "hard.jsonl") as journal:  # free, through any path
        n = len(journal.records())
    acked = {k for line in acks.read_text().splitlines() for k in line.split()}
    assert n >= len(acked) >= 3


@pytest.mark.slow
def test_active_learner_survives_kill_9_and_torn_tails(forker, tmp_path):
    """kill -9 in the middle of a teach loop, 25 times, with torn tails; then count rows."""
    rng = np.random.default_rng(7)
    journal, acks, done = tmp_path / "j.jsonl", tmp_path / "acks.txt", tmp_path / "done.json"
    kills, tears = 0, Counter()
    pid = None
    for life in range(60):
        pid = forker.start(
            "active", journal=str(journal), acks=str(acks), done=str(done), seed=life
        )
        if kills >= 25:
            break
        time.sleep(rng.uniform(0.01, 0.1))
        if done.exists():
            break
        forker.kill(pid)
        kills += 1
        if rng.random() < 0.5:
            tears[_tear(journal, rng, cut_answers=False)] += 1
    deadline = time.monotonic() + 60
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert done.exists(), (forker.folder / "active.log").read_text()[-3000:]
    assert kills >= 20 and sum(tears.values()) >= 5

    X0, y0, pool, y_pool = _labels_data()
    truth = dict(zip(row_keys(np.concatenate([X0, pool])).tolist(), [*y0, *y_pool]))
    records = AnswerJournal(journal).records()
    keys = [r["key"] for r in records]
    acked = {k for line in acks.read_text().splitlines() for k in line.split()}
    # every example once, none twice (the initial set is journaled too)
    assert len(keys) == len(set(keys)) == len(X0) + len(pool)
    assert all(r["label"] == truth[r["key"]] for r in records)  # each with its own label
    assert acked <= set(keys)  # nothing acknowledged was lost
    final = json.loads(done.read_text())
    assert final["n"] == final["unique"] == len(X0) + len(pool)  # trained on each row once
    print(f"ActiveLearner: {kills} kills, tears {dict(tears)}, {len(acked)} acknowledged")


def _labels_data():  # the helper's labels_data, for the checks
    rng = np.random.default_rng(1)
    X = rng.random((306, 16)).astype(np.float32)
    y = rng.integers(0, 4, 306)
    return X[:6], y[:6], X[6:], y[6:]


@pytest.mark.slow
def test_aqpl_with_a_person_survives_kill_9_of_learner_and_server(forker, tmp_path):
    """kill -9 of the learner and/or the server at random points, 24 times, with torn
    journal tails in between, the learner restarted on reordered data each time."""
    rng = np.random.default_rng(11)
    port, budget = _free_port(), 300
    url = f"http://127.0.0.1:{port}"
    db, journal, done = tmp_path / "store.sqlite", tmp_path / "levels.jsonl", tmp_path / "done"
    person = Person(url, seed=3)
    person.start()
    server = learner = None
    kills, tears, lives = Counter(), Counter(), 0

    def ensure_running():
        nonlocal server, learner, lives
        if not alive(server):
            server = forker.start("server", db=str(db), port=port)
        if not alive(learner) and not done.exists():
            lives += 1
            learner = forker.start(
                "aqpl", url=url, journal=str(journal), done=str(done), seed=lives, budget=budget
            )

    try:
        while sum(kills.values()) < 24 and not done.exists():
            ensure_running()
            time.sleep(rng.uniform(0.1, 0.5))
            victim = rng.choice(["learner", "server", "both"], p=[0.5, 0.25, 0.25])
            if victim in ("server", "both") and alive(server):
                forker.kill(server)
                kills["server"] += 1
            if victim in ("learner", "both") and alive(learner):
                forker.kill(learner)
                kills["learner"] += 1
                if rng.random() < 0.5:
                    tears[_tear(journal, rng, cut_answers=True)] += 1
        deadline = time.monotonic() + 90
        while not done.exists() and time.monotonic() < deadline:
            ensure_running()  # a learner that gave up on a dead server is restarted
            time.sleep(0.05)
        assert done.exists(), (forker.folder / "aqpl.log").read_text()[-3000:]
    finally:
        person.halt.set()
        person.join(5)
        for pid in (learner, server):
            if alive(pid):
                forker.kill(pid)
    assert sum(kills.values()) >= 20 and kills["learner"] >= 8 and kills["server"] >= 4
    assert sum(tears.values()) >= 4

    result = json.loads(done.read_text())
    applied = result["answers"]
    queries = _server_queries(db)
    key_of = {qid: key for qid, key, _ in queries}
    stored = {key: s for _, key, s in queries}
    levels = AnswerJournal(journal).records("level")
    assert len(levels) == len({r["key"] for r in levels}) == budget  # none applied twice
    assert len(applied) == budget
    # each example was posted once (a resumed learner posts the same query, it does not ask
    # the person again), and every query the person saw was answered and applied
    assert len(queries) == len(stored) == budget and None not in stored.values()
    assert stored.keys() == applied.keys()
    assert all(abs(applied[k] - s) < 1e-9 for k, s in stored.items())
    # so every acknowledged answer is applied, to its example, with its level
    acked = [(key_of[qid], s) for qid, s in person.acked.items()]
    assert all(abs(applied[k] - s) < 1e-9 for k, s in acked)
    rounds = [r for r, _ in result["history"]]
    assert rounds == list(range(1, len(rounds) + 1))  # numbering continued across lives
    assert sum(q for _, q in result["history"]) == budget
    print(
        f"AQPL: {lives} learner lives, kills {dict(kills)}, tears {dict(tears)}, "
        f"{len(acked)} acknowledged, {len(stored) - len(acked)} stored unacknowledged, "
        f"{len(applied)} applied, {person.conflicts} re-posts answered 409"
    )
