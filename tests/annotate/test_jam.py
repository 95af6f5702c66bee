"""The annotation team cannot be jammed or rushed (issue 31, point 4).

A hostile client, with generated inputs: random sequences of next / answer / skip /
undo / collect by several annotators against a model of the rules; a query skipped
hundreds of times; collections that name one large query thousands of times; answers
taken sooner than their settle time; ladders whose rungs are closer than the old
matching tolerance.
"""

import json
import sqlite3
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from robustsk.active import make_queries
from robustsk.annotate import AnnotationServer, HumanOracle, QueryStore, create_app
from robustsk.annotate._validation import (
    MAX_LIVE_SKIPS_PER_QUERY,
    MAX_RESPONSES_PER_QUERY,
    MAX_VALUES,
    MAX_WITHDRAWN_PER_QUERY,
)

fastapi_testclient = pytest.importorskip("fastapi.testclient")

LADDER = [0.0, 0.1, 0.2, 0.3, 0.4]


def _no_5xx(response):
    assert response.status_code < 500, (response.request.url, response.text)


def _client(store):
    client = fastapi_testclient.TestClient(create_app(store), base_url="http://127.0.0.1")
    client.event_hooks = {"response": [_no_5xx]}
    return client


def _add(store, example, ladder=LADDER):
    return store.add(example, np.full((1, 2, 2), 0.5), 1, ladder, ladder[0], example)


def _rows(store, qid):
    """(live, withdrawn) rows of ``qid`` straight from the file."""
    with store._lock:
        return store._db.execute(
            "SELECT COUNT(*) - COUNT(withdrawn), COUNT(withdrawn) FROM responses WHERE query = ?",
            (qid,),
        ).fetchone()


# -- the state machine ------------------------------------------------------------------------

ANNOTATORS = ("ann", "Bo b", "c@d.e")
#: Three queries: an ordinary ladder, one whose rungs are 1e-10 apart, a two-rung one.
LADDERS = ([0.0, 0.1, 0.2, 0.3], [0.0, 1e-10, 2e-10, 0.5], [0.25, 0.75])
UNKNOWN = 99


class FakeClock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


class Team(RuleBasedStateMachine):
    """The server over HTTP against a model of the team rules."""

    @initialize(
        apq=st.integers(1, 3),
        skips=st.integers(1, 3),
        history=st.integers(0, 4),
        aggregate=st.sampled_from(["median", "min"]),
    )
    def start(self, apq, skips, history, aggregate):
        self.clock = FakeClock()
        self.store = QueryStore(":memory:", answers_per_query=apq, aggregate=aggregate)
        self.store.clock = self.clock
        # small bounds, so that displacement and pruning happen within a few steps
        self.store._max_skips, self.store._max_withdrawn = skips, history
        self.apq, self.skips_cap, self.history_cap, self.aggregate = apq, skips, history, aggregate
        self.client = _client(self.store)
        self.qids = [_add(self.store, k, ladder) for k, ladder in enumerate(LADDERS)]
        self.ladder = dict(zip(self.qids, LADDERS))
        # model: per query the live responses {annotator: [choice, rung, time, order]}
        self.live = {q: {} for q in self.qids}
        self.withdrawn = {q: 0 for q in self.qids}
        self.taken = {}  # qid -> (level, frozen live answers)
        self.applied = {}  # what the learner applied, once each
        self.order = 0

    def teardown(self):
        if hasattr(self, "store"):
            self.store.close()

    # -- the model ---------------------------------------------------------------------------

    def answers(self, q):
        return {a: r for a, r in self.live[q].items() if r[0] != "skip"}

    def open_to(self, q, who):
        return (
            q not in self.taken and len(self.answers(q)) < self.apq and who not in self.answers(q)
        )

    def expected_next(self, who):
        candidates = [q for q in self.qids if self.open_to(q, who)]
        return min(candidates, key=lambda q: (who in self.live[q], q), default=None)

    def level(self, q):
        ladder = self.ladder[q]
        values = sorted(
            ladder[0] if r[0] == "unrecognisable" else ladder[r[1]]
            for r in self.answers(q).values()
        )
        return values[0] if self.aggregate == "min" else values[(len(values) - 1) // 2]

    def withdraw(self, q, n):
        self.withdrawn[q] = min(self.withdrawn[q] + n, self.history_cap)

    def post_answer(self, who, q, choice):
        """POST one response; check the status and echo against the model; update it."""
        ladder = self.ladder[q]
        if choice == "off":
            body = {"sigma": ladder[-1] + 0.01}
        elif isinstance(choice, int):
            body = {"sigma": ladder[choice]}
        else:
            body = {"choice": choice}
        r = self.client.post(f"/api/queries/{q}/answer", json={**body, "annotator": who})
        if choice == "off":
            assert r.status_code == 422 and r.json()["detail"].startswith("sigma"), r.text
            return r
        if not self.open_to(q, who):
            assert r.status_code == 409, r.text
            return r
        assert r.status_code == 200, r.text
        self.order += 1
        mine = self.live[q].get(who)
        if choice == "skip":
            assert r.json()["sigma"] is None
            if mine is None:
                skips = sorted((v[3], a) for a, v in self.live[q].items() if v[0] == "skip")
                gone = skips[: max(0, len(skips) - self.skips_cap + 1)]
                for _, a in gone:  # the oldest skips are displaced
                    del self.live[q][a]
                self.withdraw(q, len(gone))
            self.live[q][who] = ["skip", None, self.clock.now, self.order]
        else:
            rung = choice if isinstance(choice, int) else None
            # the rung chosen is the rung stored, however close its neighbours
            assert r.json()["sigma"] == (None if rung is None else ladder[rung])
            if mine is not None:  # their skip is superseded
                self.withdraw(q, 1)
            self.live[q][who] = [
                "level" if rung is not None else choice,
                rung,
                self.clock.now,
                self.order,
            ]
        return r

    # -- the rules ---------------------------------------------------------------------------

    @rule(who=st.sampled_from(ANNOTATORS))
    def next(self, who):
        r = self.client.get("/api/next", params={"annotator": who})
        expected = self.expected_next(who)
        if expected is None:
            assert r.status_code == 204, r.text
        else:
            assert r.status_code == 200 and r.json()["id"] == expected, (r.text, expected)
            assert self.open_to(expected, who)  # a query served can take this answer

    @rule(
        who=st.sampled_from(ANNOTATORS),
        k=st.integers(0, 3),
        kind=st.sampled_from(["level", "unrecognisable", "skip"]),
    )
    def next_then_answer(self, who, k, kind):
        r = self.client.get("/api/next", params={"annotator": who})
        if r.status_code == 204:
            assert self.expected_next(who) is None
            return
        q = r.json()["id"]
        assert q == self.expected_next(who) and r.json()["sigmas"] == self.ladder[q]
        choice = k % len(self.ladder[q]) if kind == "level" else kind
        assert self.post_answer(who, q, choice).status_code == 200  # never refused

    @rule(
        who=st.sampled_from(ANNOTATORS),
        i=st.integers(0, len(LADDERS) - 1),
        choice=st.one_of(st.integers(0, 3), st.sampled_from(["unrecognisable", "skip", "off"])),
    )
    def answer(self, who, i, choice):
        q = self.qids[i]
        if isinstance(choice, int):
            choice %= len(self.ladder[q])
        self.post_answer(who, q, choice)

    @rule(who=st.sampled_from(ANNOTATORS), times=st.integers(2, 5))
    def skip_again_and_again(self, who, times):
        q = self.expected_next(who)
        if q is None:
            return
        for _ in range(times):
            self.post_answer(who, q, "skip")

    @rule(who=st.sampled_from(ANNOTATORS))
    def undo(self, who):
        r = self.client.post("/api/undo", json={"annotator": who})
        mine = [(v[3], q) for q in self.qids for a, v in self.live[q].items() if a == who]
        if not mine:
            assert r.status_code == 404, r.text
            return
        _, q = max(mine)
        if q in self.taken:  # taken by the learner: never undone
            assert r.status_code == 409 and "already taken" in r.json()["detail"], r.text
            return
        assert r.status_code == 200 and r.json()["id"] == q, (r.text, q)
        del self.live[q][who]
        self.withdraw(q, 1)

    @rule(
        picks=st.lists(st.integers(0, len(LADDERS)), min_size=1, max_size=8),
        settle=st.sampled_from([0.0, 1.0, 2.5]),
    )
    def collect(self, picks, settle):
        ids = [self.qids[p] if p < len(self.qids) else UNKNOWN for p in picks]
        r = self.client.post("/api/collect", json={"ids": ids, "settle_time": settle})
        assert r.status_code == 200, r.text
        got = r.json()["answers"]
        assert [a["id"] for a in got] == list(dict.fromkeys(ids))  # each id once
        for item in got:
            q, level = item["id"], item["sigma"]
            if q == UNKNOWN:
                assert level is None
                continue
            if q in self.taken:
                assert level == self.taken[q][0]
            else:
                answers = self.answers(q)
                ready = len(answers) >= self.apq and (
                    settle == 0 or self.clock.now - max(v[2] for v in answers.values()) >= settle
                )
                if not ready:
                    assert level is None, (item, answers, self.clock.now)
                    if len(answers) >= self.apq:
                        event("collect refused a settled answer younger than settle_time")
                    continue
                # never younger than the settle time asked for
                assert self.clock.now - max(v[2] for v in answers.values()) >= settle
                assert level == self.level(q)
                assert item["responses"] == len(answers)
                assert item["unrecognisable"] == sum(
                    v[0] == "unrecognisable" for v in answers.values()
                )
                self.taken[q] = (level, {a: v[:3] for a, v in answers.items()})
            # the learner applies each answer once, and it never changes
            assert self.applied.setdefault(q, level) == level

    @rule(
        who=st.sampled_from(ANNOTATORS),
        k=st.integers(0, 3),
        settle=st.sampled_from([1.0, 0.5, 2.5]),
    )
    def answer_then_collect_at_once(self, who, k, settle):
        """The learner rushing: it asks for an answer the moment it is given."""
        q = self.expected_next(who)
        if q is None:
            return
        assert self.post_answer(who, q, k % len(self.ladder[q])).status_code == 200
        self.collect([self.qids.index(q)], settle)

    @rule(dt=st.sampled_from([0.0, 0.4, 1.0, 3.0]))
    def tick(self, dt):
        self.clock.now += dt

    # -- what always holds -------------------------------------------------------------------

    @invariant()
    def bounds_and_model_hold(self):
        if not hasattr(self, "store"):
            return
        with self.store._lock:
            rows = self.store._db.execute(
                "SELECT query, annotator, choice, sigma, withdrawn FROM responses"
            ).fetchall()
            taken = dict(self.store._db.execute("SELECT query, sigma FROM collected").fetchall())
        for q in self.qids:
            live = [r for r in rows if r[0] == q and r[4] is None]
            skips = [r for r in live if r[2] == "skip"]
            assert len(live) <= MAX_RESPONSES_PER_QUERY
            assert len(live) - len(skips) <= self.apq and len(skips) <= self.skips_cap
            assert len({r[1] for r in live}) == len(live)  # one live response per annotator
            assert sum(r[0] == q and r[4] is not None for r in rows) == self.withdrawn[q]
            assert {r[1]: r[2] for r in live} == {a: v[0] for a, v in self.live[q].items()}
            for r in live:
                if r[2] == "level":  # the stored level is the rung chosen, exactly
                    assert r[3] == self.ladder[q][self.live[q][r[1]][1]]
            if q in self.taken:  # what the learner took stays as it was taken
                level, frozen = self.taken[q]
                assert taken[q] == level
                assert {a: v[:3] for a, v in self.answers(q).items()} == frozen
        assert set(taken) == set(self.taken)


def test_a_hostile_team_can_neither_jam_nor_rush_the_server():
    """40 generated runs of up to 30 steps (next, next-then-answer, answer, repeated skips,
    undo, collect with repeats and unknown ids, clock ticks) by 3 annotators on 3 queries,
    with 1 to 3 answers per query and small skip and history bounds: every status is the
    model's, none a 5xx; live responses stay within the bounds; a query served by next
    always takes the answer; collect never returns an answer younger than its settle time,
    never one that is later undone, each id once, and what it returned never changes."""
    run_state_machine_as_test(
        Team,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            derandomize=True,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# -- one annotator skipping forever ------------------------------------------------------------


def test_300_skips_by_one_annotator_leave_the_query_open_to_the_others(tmp_path):
    store = QueryStore(tmp_path / "skip.sqlite")
    client = _client(store)
    q = _add(store, 1)
    for _ in range(300):
        r = client.post(f"/api/queries/{q}/answer", json={"choice": "skip", "annotator": "ann"})
        assert r.status_code == 200
    assert _rows(store, q) == (1, 0)  # one live skip, refreshed in place: no new rows
    assert client.get("/api/next", params={"annotator": "bob"}).json()["id"] == q
    r = client.post(f"/api/queries/{q}/answer", json={"sigma": 0.2, "annotator": "bob"})
    assert r.status_code == 200 and r.json()["sigma"] == 0.2
    assert client.post("/api/collect", json={"ids": [q]}).json()["answers"][0]["sigma"] == 0.2


def test_300_annotators_skipping_one_query_never_fill_it_up(tmp_path):
    """300 names skip the same query (a third of them skip again, then undo): the live
    skips stay at MAX_LIVE_SKIPS_PER_QUERY, the history at MAX_WITHDRAWN_PER_QUERY, and
    the query still goes to the next annotators and takes their answers."""
    store = QueryStore(tmp_path / "skips.sqlite", answers_per_query=2)
    client = _client(store)
    q = _add(store, 1)
    for k in range(300):
        who = f"a{k}"
        for _ in range(1 + (k % 3 == 0)):
            r = client.post(f"/api/queries/{q}/answer", json={"choice": "skip", "annotator": who})
            assert r.status_code == 200
        if k % 3 == 0:
            assert client.post("/api/undo", json={"annotator": who}).status_code == 200
    live, withdrawn = _rows(store, q)
    assert live == MAX_LIVE_SKIPS_PER_QUERY and withdrawn == MAX_WITHDRAWN_PER_QUERY
    for who in ("bob", "cy"):
        assert client.get("/api/next", params={"annotator": who}).json()["id"] == q
        r = client.post(f"/api/queries/{q}/answer", json={"sigma": 0.1, "annotator": who})
        assert r.status_code == 200
    assert store.get(q)["answer"] == 0.1
    assert sum(_rows(store, q)) <= MAX_RESPONSES_PER_QUERY + MAX_WITHDRAWN_PER_QUERY


def test_skipping_again_refreshes_the_skip_and_undo_takes_it_first(tmp_path):
    store = QueryStore(tmp_path / "again.sqlite")
    q1, q2 = _add(store, 1), _add(store, 2)
    store.answer(q1, choice="skip", annotator="ann")
    store.answer(q2, 0.1, annotator="ann")
    store.answer(q1, choice="skip", annotator="ann")  # the latest action, on the same row
    assert [r["choice"] for r in store.responses(q1, withdrawn=True)] == ["skip"]
    assert store.undo("ann") == q1  # the skip made last is undone first
    assert store.undo("ann") == q2


# -- settle time, enforced by the server -------------------------------------------------------


def test_collect_takes_only_answers_older_than_the_settle_time_by_the_servers_clock(tmp_path):
    clock = FakeClock()
    store = QueryStore(tmp_path / "settle.sqlite", clock=clock)
    client = _client(store)
    q = _add(store, 1)
    store.answer(q, 0.4, annotator="ann")  # a misclick...
    clock.now += 0.01
    body = {"ids": [q], "settle_time": 3.0}
    assert client.post("/api/collect", json=body).json()["answers"][0]["sigma"] is None
    assert client.get(f"/api/queries/{q}").json()["age"] == pytest.approx(0.01)
    assert store.undo("ann") == q  # ...can still be undone
    clock.now += 2.99
    store.answer(q, 0.2, annotator="ann")
    clock.now += 2.99
    assert store.collect([q], settle_time=3.0) == {q: None}  # 2.99 s old: not yet
    clock.now += 0.01
    assert client.post("/api/collect", json=body).json()["answers"][0]["sigma"] == 0.2
    with pytest.raises(RuntimeError, match="already taken"):
        store.undo("ann")
    for bad in (-1.0, 86401.0, "3", None, float("inf")):
        r = client.post(
            "/api/collect",
            content=json.dumps({"ids": [q], "settle_time": bad}),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 422 and r.json()["detail"].startswith("settle_time"), r.text
    with pytest.raises(ValueError, match="settle_time"):
        store.collect([q], settle_time=-1)


def test_the_human_oracle_cannot_take_an_answer_given_just_before_it_collects(tmp_path):
    """The oracle sees every answer settled and old enough; just before its collection
    reaches the server, the person undoes one and answers again. The server refuses the
    new answer (0.01 s old) and the oracle takes it only once it is settle_time old."""
    server = AnnotationServer(tmp_path / "rush.sqlite", port=0).start()
    store = server.store
    try:
        X = np.random.default_rng(0).random((2, 1, 4, 4)).astype(np.float32)
        queries = make_queries(X, np.array([0, 1]), np.full(2, 0.3), [0, 1])
        oracle = HumanOracle(
            f"http://127.0.0.1:{server.port}", poll_interval=0.02, settle_time=0.6, verbose=0
        )
        collects, swapped = [], []
        request = oracle._request

        def rushed(method, path, body=None):
            if path == "/api/collect":
                if not swapped:  # the person changes their mind at the last moment
                    q = body["ids"][-1]
                    assert store.undo("default") == q
                    store.answer(q, store.get(q)["sigmas"][5])
                    swapped.append((q, time.time()))
                got = request(method, path, body)
                collects.append((time.time(), body, got["answers"]))
                return got
            return request(method, path, body)

        oracle._request = rushed
        result = {}
        waiting = threading.Thread(target=lambda: result.update(levels=oracle.answer(queries)))
        waiting.start()
        while store.progress()["total"] < 2:
            time.sleep(0.01)
        first = store.next_open()
        store.answer(first, store.get(first)["sigmas"][10])
        store.answer(first + 1, store.get(first + 1)["sigmas"][20])
        waiting.join(30)
        q, changed_at = swapped[0]
        ladder = store.get(q)["sigmas"]
        assert result["levels"][-1] == ladder[5]  # the new answer, never the undone one
        _, body, answers = collects[0]
        assert body["settle_time"] == 0.6
        assert [a["sigma"] is None for a in answers if a["id"] == q] == [True]  # refused
        when = next(t for t, _, got in collects if any(a["id"] == q and a["sigma"] for a in got))
        assert when - changed_at >= 0.6
        with sqlite3.connect(store.path) as db:
            taken = db.execute("SELECT collected FROM collected WHERE query = ?", (q,)).fetchone()
        assert taken[0] - store.get(q)["settled_at"] >= 0.6  # by the server's own clock
    finally:
        server.stop()


# -- collect: each id once, never the example --------------------------------------------------


def test_collect_naming_one_large_query_2000_times_looks_at_it_once(tmp_path, monkeypatch):
    store = QueryStore(tmp_path / "dup.sqlite")
    client = _client(store)
    big = np.random.default_rng(0).random(MAX_VALUES)
    q = store.add(1, big, 0, LADDER, 0.2, 1)
    store.answer(q, 0.3)

    def no_decoding(row):
        raise AssertionError("collect decoded an example")

    monkeypatch.setattr("robustsk.annotate._store._decode", no_decoding)
    once = client.post("/api/collect", json={"ids": [q]}).json()["answers"]  # takes it
    statements = []
    store._db.set_trace_callback(statements.append)
    start = time.perf_counter()
    r = client.post("/api/collect", json={"ids": [q] * 2000 + [q + 1] * 2000})
    seconds = time.perf_counter() - start
    store._db.set_trace_callback(None)
    assert r.status_code == 200
    assert r.json()["answers"] == once + [
        {"id": q + 1, "sigma": None, "responses": None, "unrecognisable": None}
    ]
    # the distinct ids processed: one look-up each, for the 2 distinct ids of 4,000
    assert sum("FROM collected WHERE query" in s for s in statements) == 2, statements
    assert len(statements) <= 10, statements
    print(f"collect of 4,000 ids (2 distinct, one of {MAX_VALUES} values): {seconds:.3f} s")


# -- ladders whose rungs are very close ------------------------------------------------------


def test_rungs_closer_than_the_tolerance_store_the_rung_chosen(tmp_path):
    store = QueryStore(tmp_path / "close.sqlite", answers_per_query=4)
    client = _client(store)
    body = {
        "example": 1,
        "x": [0.5] * 4,
        "shape": [4],
        "sigmas": [0.0, 1e-10, 2e-10, 3e-10],
        "current_sigma": 0.0,
    }
    q = client.post("/api/queries", json=body).json()["id"]
    for k, who in enumerate("abcd"):
        r = client.post(f"/api/queries/{q}/answer", json={"sigma": k * 1e-10, "annotator": who})
        assert r.status_code == 200 and r.json()["sigma"] == k * 1e-10
    assert [r["sigma"] for r in store.responses(q)] == [0.0, 1e-10, 2e-10, 3e-10]
    assert store.agreement()["mean_gap"] == pytest.approx(10 / 6)  # rungs 0..3, all apart
    tight = {**body, "sigmas": [0.1, 0.1 + 1e-12, 0.1 + 2e-12]}  # equal once rounded
    r = client.post("/api/queries", json=tight)
    assert r.status_code == 422 and r.json()["detail"].startswith("sigmas"), r.text


@settings(max_examples=40, derandomize=True, deadline=None)
@given(
    start=st.floats(0.0, 2.0, allow_nan=False),
    gaps=st.lists(
        st.sampled_from([1e-12, 3e-11, 1e-10, 1.5e-10, 4e-10, 1e-9, 0.05]), min_size=1, max_size=6
    ),
    chosen=st.lists(st.integers(0, 6), min_size=1, max_size=4),
)
def test_a_generated_ladder_stores_the_rung_chosen_or_is_refused(start, gaps, chosen):
    """40 generated ladders with rungs 1e-12 to 0.05 apart: refused with a 422 naming
    ``sigmas`` when its rungs are not distinct at 10 decimals, else each rung chosen (by
    the value the page sends, the stored one) is the rung stored."""
    store = QueryStore(":memory:", answers_per_query=10)
    client = _client(store)
    sigmas = [float(s) for s in np.cumsum([start] + gaps)]
    body = {"example": 1, "x": [0.5] * 4, "shape": [4], "sigmas": sigmas, "current_sigma": 0.0}
    r = client.post("/api/queries", json=body)
    rounded = [round(s, 10) for s in sigmas]
    if any(b <= a for a, b in zip(rounded, rounded[1:])):
        assert r.status_code == 422 and r.json()["detail"].startswith("sigmas"), r.text
        store.close()
        return
    assert r.status_code == 200, r.text
    q = r.json()["id"]
    stored = client.get("/api/next").json()["sigmas"]
    for n, k in enumerate(chosen):
        rung = stored[k % len(stored)]
        r = client.post(f"/api/queries/{q}/answer", json={"sigma": rung, "annotator": f"a{n}"})
        assert r.status_code == 200 and r.json()["sigma"] == rung, (r.text, stored, k)
        assert store.responses(q)[-1]["sigma"] == rung
    store.close()
