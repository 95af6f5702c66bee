"""The annotation app as a team tool: answers per annotator, aggregation, agreement,
undo, "not recognisable" and "skip", collection by the learner, and the migration of a
store written before annotators existed."""

import shutil
import sqlite3
import threading
import time

import numpy as np
import pytest

from robustsk.active import make_queries
from robustsk.annotate import AnnotationServer, HumanOracle, QueryStore, create_app
from robustsk.annotate._store import SCHEMA_VERSION
from robustsk.annotate._validation import MAX_RESPONSES_PER_QUERY, MAX_WITHDRAWN_PER_QUERY

fastapi_testclient = pytest.importorskip("fastapi.testclient")

LADDER = [0.0, 0.1, 0.2, 0.3, 0.4]


def _add(store, example):
    return store.add(example, np.full((1, 2, 2), 0.5), 1, LADDER, 0.2, example)


def _client(store):
    return fastapi_testclient.TestClient(create_app(store), base_url="http://127.0.0.1")


def test_a_query_is_settled_by_enough_annotators_and_aggregated_by_the_lower_median(tmp_path):
    store = QueryStore(tmp_path / "t.sqlite", answers_per_query=3)
    q = _add(store, 1)
    assert store.answer(q, 0.4, annotator="ann") == 0.4
    assert store.get(q)["answer"] is None and store.progress()["answered"] == 0
    assert store.next_open("ann") is None  # ann has answered it: not shown to ann again
    assert store.next_open("bob") == q
    store.answer(q, 0.1, annotator="bob")
    assert store.get(q)["answer"] is None  # 2 of 3
    store.answer(q, 0.3, annotator="cy")
    got = store.get(q)
    assert got["answer"] == 0.3 and got["responses"] == 3  # median of 0.1, 0.3, 0.4
    assert store.progress() == {"answered": 1, "total": 1} and store.next_open("dee") is None
    with pytest.raises(RuntimeError, match="already answered"):
        store.answer(q, 0.2, annotator="dee")  # settled: a fourth answer is refused
    # an even count takes the lower median (a level on the ladder), "min" the lowest
    for rule, expected in (("median", 0.1), ("min", 0.0)):
        s = QueryStore(tmp_path / f"{rule}.sqlite", answers_per_query=4, aggregate=rule)
        q = _add(s, 2)
        for who, level in zip("abcd", (0.4, 0.1, 0.0, 0.3)):
            s.answer(q, level, annotator=who)
        assert s.get(q)["answer"] == expected


def test_one_answer_per_annotator_and_the_others_are_refused(tmp_path):
    store = QueryStore(tmp_path / "t.sqlite", answers_per_query=2)
    q = _add(store, 1)
    store.answer(q, 0.2, annotator="ann")
    with pytest.raises(RuntimeError, match="already answered by 'ann'"):
        store.answer(q, 0.3, annotator="ann")
    with pytest.raises(RuntimeError, match="already answered by 'ann'"):
        store.answer(q, choice="unrecognisable", annotator="ann")
    for bad, field in (
        (dict(annotator=""), "annotator"),
        (dict(annotator=" ann"), "annotator"),
        (dict(annotator="a" * 65), "annotator"),
        (dict(annotator="<b>"), "annotator"),
        (dict(annotator=7), "annotator"),
        (dict(choice="maybe"), "choice"),
        (dict(choice="skip", sigma=0.1), "sigma"),
        (dict(choice="level"), "sigma"),
    ):
        kwargs = {"sigma": None, "annotator": "bob", **bad}
        with pytest.raises(ValueError, match=f"^{field}"):
            store.answer(q, kwargs.pop("sigma"), **kwargs)
    assert store.responses(q) == [
        {
            "annotator": "ann",
            "choice": "level",
            "sigma": 0.2,
            "answered": pytest.approx(time.time(), abs=60),
        }
    ]


def test_unrecognisable_counts_as_the_lowest_level_and_is_reported(tmp_path):
    store = QueryStore(tmp_path / "t.sqlite", answers_per_query=3)
    q = _add(store, 1)
    assert store.answer(q, choice="unrecognisable", annotator="ann") is None
    store.answer(q, choice="unrecognisable", annotator="bob")
    store.answer(q, 0.3, annotator="cy")
    got = store.get(q)
    assert got["answer"] == LADDER[0] and got["unrecognisable"] == 2 and got["responses"] == 3


def test_a_skip_sends_the_query_to_the_back_of_that_annotators_queue(tmp_path):
    store = QueryStore(tmp_path / "t.sqlite", answers_per_query=1)
    q1, q2, q3 = (_add(store, e) for e in (1, 2, 3))
    assert store.answer(q1, choice="skip", annotator="ann") is None
    assert store.next_open("ann") == q2 and store.next_open("bob") == q1  # others unaffected
    store.answer(q2, 0.1, annotator="ann")
    store.answer(q3, choice="skip", annotator="ann")
    assert store.next_open("ann") == q1  # the skipped ones, oldest first, after the rest
    assert store.get(q1)["answer"] is None and store.progress()["answered"] == 1
    store.answer(q1, 0.2, annotator="ann")  # answering after a skip supersedes the skip...
    history = store.responses(q1, withdrawn=True)
    assert [(r["choice"], r["why"]) for r in history] == [("skip", "superseded"), ("level", None)]
    assert store.get(q1)["answer"] == 0.2  # ...which is kept, marked, never deleted
    assert store.next_open("ann") == q3


def test_undo_reopens_the_answer_until_the_learner_takes_it(tmp_path):
    store = QueryStore(tmp_path / "t.sqlite")
    q1, q2 = _add(store, 1), _add(store, 2)
    with pytest.raises(LookupError, match="no answer to undo"):
        store.undo("ann")
    store.answer(q1, 0.1, annotator="ann")
    store.answer(q2, 0.4, annotator="ann")  # a misclick
    assert store.get(q2)["answer"] == 0.4
    assert store.undo("ann") == q2  # the latest first
    assert store.get(q2)["answer"] is None and store.next_open("ann") == q2
    store.answer(q2, 0.2, annotator="ann")
    history = store.responses(q2, withdrawn=True)
    assert [(r["sigma"], r["why"]) for r in history] == [(0.4, "undone"), (0.2, None)]
    assert store.collect([q1, q2, 999]) == {q1: 0.1, q2: 0.2, 999: None}
    with pytest.raises(RuntimeError, match="already taken by the learner"):
        store.undo("ann")
    with pytest.raises(RuntimeError, match="already answered"):
        store.answer(q2, 0.0, annotator="bob")
    assert store.get(q2)["answer"] == 0.2 and store.get(q2)["collected"]
    assert store.collect([q2]) == {q2: 0.2}  # taking again gives the same level


def test_a_query_keeps_a_bounded_history(tmp_path):
    """Undone answers and undone skips are kept, the newest MAX_WITHDRAWN_PER_QUERY of
    them; they never count against the query's limit. (This test used to assert that
    200 undone answers made the query refuse every further answer: that was the jam of
    issue 31.)"""
    store = QueryStore(tmp_path / "t.sqlite")
    q = _add(store, 1)
    for k in range(MAX_RESPONSES_PER_QUERY + 50):  # each answer a row, kept when undone
        store.answer(q, LADDER[k % 5], annotator="ann")
        store.undo("ann")
        store.answer(q, choice="skip", annotator="bob")
        store.undo("bob")
    assert store.answer(q, 0.1, annotator="cy") == 0.1  # still open to anyone
    history = store.responses(q, withdrawn=True)
    assert len(history) == MAX_WITHDRAWN_PER_QUERY + 1  # the newest withdrawn, and cy's
    assert [r["why"] for r in history[:-1]] == ["undone"] * MAX_WITHDRAWN_PER_QUERY
    assert history[-3]["annotator"] == "ann" and history[-3]["sigma"] == LADDER[249 % 5]
    assert store.collect([q]) == {q: 0.1}


def test_agreement_known_answer(tmp_path):
    store = QueryStore(tmp_path / "t.sqlite", answers_per_query=3)
    q1, q2, q3, q4 = (_add(store, e) for e in (1, 2, 3, 4))
    for who, level in zip(("a", "b", "c"), (0.1, 0.1, 0.2)):  # rungs 1, 1, 2
        store.answer(q1, level, annotator=who)
    for who, level in zip(("a", "b", "c"), (0.0, 0.0, 0.0)):  # rungs 0, 0, 0
        store.answer(q2, level, annotator=who)
    store.answer(q3, 0.4, annotator="a")  # rung 4 ...
    store.answer(q3, choice="unrecognisable", annotator="c")  # ... and rung -1
    store.answer(q4, 0.3, annotator="a")  # answered by one only: not shared
    store.answer(q4, choice="skip", annotator="b")
    got = store.agreement()
    assert got["queries"] == 3
    assert got["exact"] == pytest.approx(1 / 3) and got["within_one"] == pytest.approx(2 / 3)
    # pairs: q1 0, 1, 1; q2 0, 0, 0; q3 5
    assert got["mean_gap"] == pytest.approx(7 / 7)
    a, b, c = (got["annotators"][k] for k in "abc")
    assert (a["answers"], a["unrecognisable"], a["skips"]) == (4, 0, 0)
    assert (b["answers"], b["skips"]) == (2, 1) and c["unrecognisable"] == 1
    # offsets from the median of the others: a: 1-1.5, 0-0, 4-(-1) -> 4.5 / 3
    assert a["offset"] == pytest.approx(4.5 / 3)
    assert c["offset"] == pytest.approx((1.0 + 0.0 - 5.0) / 3)
    assert QueryStore(":memory:").agreement()["within_one"] is None


def _version0_file(path):
    """A store as robustsk wrote it before annotators: one final answer per query."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE queries (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL,
          example INTEGER NOT NULL, label TEXT, shape TEXT NOT NULL, x BLOB NOT NULL,
          sigmas TEXT NOT NULL, current_sigma REAL NOT NULL, seed INTEGER NOT NULL,
          created REAL NOT NULL);
        CREATE TABLE answers (query INTEGER PRIMARY KEY REFERENCES queries(id),
          sigma REAL NOT NULL, answered REAL NOT NULL);
        CREATE TABLE unreadable (query INTEGER PRIMARY KEY REFERENCES queries(id),
          reason TEXT NOT NULL, found REAL NOT NULL);
        """
    )
    x = np.full(4, 0.5, np.float32).tobytes()
    for i in (1, 2, 3):
        db.execute(
            "INSERT INTO queries (key, example, label, shape, x, sigmas, current_sigma, seed,"
            " created) VALUES (?, ?, '1', '[1, 2, 2]', ?, '[0.0, 0.1, 0.2]', 0.1, 0, 0)",
            (f"k{i}", i, x),
        )
    db.execute("INSERT INTO answers VALUES (1, 0.2, 10.0), (2, 0.0, 11.0)")
    db.commit()
    db.close()


def test_a_store_of_the_one_answer_schema_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    _version0_file(path)
    store = QueryStore(path)
    assert store.get(1)["answer"] == 0.2 and store.get(2)["answer"] == 0.0
    assert store.get(1)["collected"]  # an old answer was final: its learner may have read it
    assert store.get(3)["answer"] is None and store.next_open() == 3
    assert store.progress() == {"answered": 2, "total": 3}
    with pytest.raises(RuntimeError, match="already taken"):
        store.undo()  # "default", the annotator of the old answers
    store.answer(3, 0.1)
    store.close()
    again = QueryStore(path)  # opening it again migrates nothing twice
    assert [len(again.responses(q)) for q in (1, 2, 3)] == [1, 1, 1]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT * FROM answers ORDER BY query").fetchall() == [
        (1, 0.2, 10.0),
        (2, 0.0, 11.0),
    ]  # the old table is kept as it was
    db.close()


HOSTILE = {
    "annotator-int": ({"sigma": 0.1, "annotator": 7}, 422, "annotator"),
    "annotator-list": ({"sigma": 0.1, "annotator": ["a"]}, 422, "annotator"),
    "annotator-empty": ({"sigma": 0.1, "annotator": ""}, 422, "annotator"),
    "annotator-long": ({"sigma": 0.1, "annotator": "a" * 65}, 422, "annotator"),
    "annotator-huge": ({"sigma": 0.1, "annotator": "a" * 100000}, 422, "annotator"),
    "annotator-markup": ({"sigma": 0.1, "annotator": "<img src=x>"}, 422, "annotator"),
    "annotator-newline": ({"sigma": 0.1, "annotator": "a\nb"}, 422, "annotator"),
    "annotator-nul": ({"sigma": 0.1, "annotator": "a\x00"}, 422, "annotator"),
    "annotator-null": ({"sigma": 0.1, "annotator": None}, 422, "annotator"),
    "choice-unknown": ({"choice": "maybe"}, 422, "choice"),
    "choice-int": ({"choice": 1}, 422, "choice"),
    "choice-long": ({"choice": "x" * 1000}, 422, "choice"),
    "skip-with-sigma": ({"choice": "skip", "sigma": 0.1}, 422, "sigma"),
    "unrecognisable-with-sigma": ({"choice": "unrecognisable", "sigma": 0.0}, 422, "sigma"),
    "level-without-sigma": ({"choice": "level"}, 422, "sigma"),
    "empty-body": ({}, 422, "sigma"),
    "sigma-off-the-ladder": ({"sigma": 0.5}, 422, "sigma"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_bad_team_requests_are_4xx_and_store_nothing(tmp_path, case):
    store = QueryStore(tmp_path / "h.sqlite")
    client = _client(store)
    q = _add(store, 1)
    body, code, field = HOSTILE[case]
    r = client.post(f"/api/queries/{q}/answer", json=body)
    assert r.status_code == code, r.text
    assert r.json()["detail"].startswith(field), r.json()
    assert store.responses(q, withdrawn=True) == [] and store.get(q)["answer"] is None


@pytest.mark.parametrize(
    "method, path, body, code, field",
    [
        ("GET", "/api/next?annotator=" + "a" * 65, None, 422, "annotator"),
        ("GET", "/api/next?annotator=%3Cb%3E", None, 422, "annotator"),
        ("GET", "/api/next?annotator=", None, 422, "annotator"),
        ("POST", "/api/undo", {"annotator": 3}, 422, "annotator"),
        ("POST", "/api/undo", {"annotator": "nobody"}, 404, "'nobody' has no answer"),
        ("POST", "/api/collect", {"ids": []}, 422, "ids"),
        ("POST", "/api/collect", {"ids": "1"}, 422, "ids"),
        ("POST", "/api/collect", {"ids": [1.5]}, 422, "ids[0]"),
        ("POST", "/api/collect", {"ids": [2**63]}, 422, "ids[0]"),
        ("POST", "/api/collect", {"ids": [True]}, 422, "ids[0]"),
        ("POST", "/api/collect", {"ids": list(range(10001))}, 422, "ids"),
        ("POST", "/api/collect", {}, 422, "ids"),
    ],
)
def test_bad_undo_collect_and_next_are_4xx(tmp_path, method, path, body, code, field):
    store = QueryStore(tmp_path / "h.sqlite")
    client = _client(store)
    q = _add(store, 1)
    r = client.request(method, path, json=body)
    assert r.status_code == code, r.text
    assert r.json()["detail"].startswith(field), r.json()
    assert store.responses(q, withdrawn=True) == [] and not store.get(q)["collected"]


def test_the_http_api_of_a_team(tmp_path):
    store = QueryStore(tmp_path / "api.sqlite", answers_per_query=2)
    client = _client(store)
    q1, q2 = _add(store, 1), _add(store, 2)
    ann = client.get("/api/next", params={"annotator": "Ann Smith"}).json()
    assert ann["id"] == q1 and ann["mine"] == 0
    r = client.post(f"/api/queries/{q1}/answer", json={"sigma": 0.3, "annotator": "Ann Smith"})
    assert r.status_code == 200 and r.json()["progress"] == {"answered": 0, "total": 2}
    assert client.get("/api/next", params={"annotator": "Ann Smith"}).json()["id"] == q2
    assert client.get("/api/next", params={"annotator": "bo"}).json()["id"] == q1
    r = client.post(
        f"/api/queries/{q1}/answer", json={"choice": "unrecognisable", "annotator": "bo"}
    )
    assert r.status_code == 200 and r.json()["sigma"] is None
    state = client.get(f"/api/queries/{q1}").json()
    assert state["answer"] == 0.0 and state["responses"] == 2 and state["unrecognisable"] == 1
    assert 0.0 <= state["age"] < 60 and state["collected"] is False
    again = client.post(f"/api/queries/{q1}/answer", json={"sigma": 0.1, "annotator": "cy"})
    assert again.status_code == 409
    undone = client.post("/api/undo", json={"annotator": "bo"}).json()
    assert undone["id"] == q1 and undone["query"]["sigmas"] == LADDER
    assert client.get(f"/api/queries/{q1}").json()["answer"] is None
    client.post(f"/api/queries/{q1}/answer", json={"sigma": 0.1, "annotator": "bo"})
    taken = client.post("/api/collect", json={"ids": [q1, q2]}).json()["answers"]
    assert taken == [
        {"id": q1, "sigma": 0.1, "responses": 2, "unrecognisable": 0},  # lower median
        {"id": q2, "sigma": None, "responses": None, "unrecognisable": None},
    ]
    late = client.post("/api/undo", json={"annotator": "bo"})
    assert late.status_code == 409 and "already taken" in late.json()["detail"]
    agreement = client.get("/api/agreement").json()
    assert agreement["queries"] == 1 and agreement["mean_gap"] == 2.0
    assert set(agreement["annotators"]) == {"Ann Smith", "bo"}
    # the default annotator (no name) is a member like any other
    assert client.post(f"/api/queries/{q2}/answer", json={"sigma": 0.2}).status_code == 200


def test_the_human_oracle_waits_for_the_team_and_takes_settled_answers(tmp_path):
    server = AnnotationServer(tmp_path / "o.sqlite", port=0, answers_per_query=2).start()
    try:
        X = np.random.default_rng(0).random((2, 1, 4, 4)).astype(np.float32)
        queries = make_queries(X, np.array([0, 1]), np.full(2, 0.3), [0, 1])
        oracle = HumanOracle(
            f"http://127.0.0.1:{server.port}", poll_interval=0.02, settle_time=2.0, verbose=0
        )
        result = {}
        waiting = threading.Thread(target=lambda: result.update(levels=oracle.answer(queries)))
        waiting.start()
        store = server.store
        while store.progress()["total"] < 2:
            time.sleep(0.01)
        q1, q2 = store.next_open("a"), store.next_open("a") + 1
        store.answer(q1, store.get(q1)["sigmas"][10], annotator="a")
        store.answer(q1, store.get(q1)["sigmas"][20], annotator="b")
        store.answer(q2, choice="unrecognisable", annotator="a")
        store.answer(q2, store.get(q2)["sigmas"][90], annotator="b")  # a misclick...
        time.sleep(0.2)
        assert "levels" not in result  # ... still inside the settle time
        assert store.undo("b") == q2 and not store.get(q2)["collected"]  # ...undone in time
        store.answer(q2, choice="unrecognisable", annotator="b")
        waiting.join(20)
        ladder = store.get(q1)["sigmas"]
        np.testing.assert_allclose(result["levels"], [ladder[10], ladder[0]])
        assert oracle.unrecognisable_ == [queries[1].key]
        with pytest.raises(RuntimeError):
            store.undo("b")  # taken by the learner
    finally:
        server.stop()


def test_settle_time_is_checked(tmp_path):
    oracle = HumanOracle(db=tmp_path / "s.sqlite", settle_time=-1.0, verbose=0)
    with pytest.raises(ValueError, match="settle_time"):
        oracle.answer([])


def test_cli_serves_a_team(monkeypatch, tmp_path):
    from robustsk import cli

    seen = {}

    class Fake:
        def __init__(self, db, **kwargs):
            seen.update(kwargs)
            self.url = "http://127.0.0.1:1/"

        def serve_forever(self):
            pass

    monkeypatch.setattr("robustsk.annotate.AnnotationServer", Fake)
    cli.main(
        [
            "annotate",
            "--db",
            str(tmp_path / "x.sqlite"),
            "--answers-per-query",
            "3",
            "--aggregate",
            "min",
        ]
    )
    assert seen["answers_per_query"] == 3 and seen["aggregate"] == "min"
    with pytest.raises(SystemExit):
        cli.main(["annotate", "--answers-per-query", "0"])


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (installed by .ci/run)")
def test_a_team_annotates_in_headless_chromium(tmp_path):
    """Two people in two browsers: names, answers, a skip, "not recognisable", an undo,
    the agreement line; the learner gets the aggregated levels."""
    sync_api = pytest.importorskip("playwright.sync_api")
    server = AnnotationServer(tmp_path / "team.sqlite", port=0, answers_per_query=2).start()
    store = server.store
    q1, q2 = _add(store, 1), _add(store, 2)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"]
            )
            ann, bob = browser.new_context().new_page(), browser.new_context().new_page()
            for page, name in ((ann, "Ann"), (bob, "Bob")):
                page.goto(server.url)
                page.wait_for_selector("#who")
                page.fill("#who", name)
                page.keyboard.press("Enter")
                page.wait_for_selector(".rung >> nth=4")
            bad = browser.new_context().new_page()
            bad.goto(server.url)
            bad.fill("#who", "<b>x</b>")
            bad.keyboard.press("Enter")  # refused by the page before any request
            bad.wait_for_selector("#status:has-text('A name is 1 to 64')")
            # Ann: q1 at 0.3, then a misclick on q2 (0.4), undone with U, then 0.2
            ann.click(".rung[data-sigma='0.3']")
            ann.wait_for_selector("#status:has-text('example 2')")
            ann.click(".rung[data-sigma='0.4']")
            ann.wait_for_selector("#status:has-text('No open queries')")
            ann.keyboard.press("u")
            ann.wait_for_selector(f"#status:has-text('Undone: answer query {q2} again')")
            ann.click(".rung[data-sigma='0.2']")
            ann.wait_for_selector("#status:has-text('No open queries')")
            # Bob: skips q1 (it comes back after q2), q2 not recognisable, then q1 at 0.1
            bob.click("#skip")
            bob.wait_for_selector("#status:has-text('example 2')")
            bob.keyboard.press("n")
            bob.wait_for_selector("#status:has-text('example 1')")
            bob.click(".rung[data-sigma='0.1']")
            bob.wait_for_selector("#status:has-text('No open queries (2 of 2 answered)')")
            bob.wait_for_selector("#team:has-text('2 annotators')")
            assert "of the 2 queries answered by two or more" in bob.text_content("#team")
            browser.close()
        assert store.collect([q1, q2]) == {q1: 0.1, q2: 0.0}
        assert [r["why"] for r in store.responses(q2, withdrawn=True)] == [
            "undone",
            None,
            None,
        ]
        assert {r["annotator"] for r in store.responses(q1)} == {"Ann", "Bob"}
    finally:
        server.stop()


def _race(person, learner, q):
    """An undo (``person``'s store) and a collection (``learner``'s) released at once."""
    result = {}
    start = threading.Barrier(2)

    def undo():
        start.wait()
        try:
            result["undone"] = person.undo("ann") == q
        except RuntimeError:
            result["undone"] = False

    def collect():
        start.wait()
        result["taken"] = learner.collect([q])[q]

    threads = [threading.Thread(target=undo), threading.Thread(target=collect)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return result


def test_undo_and_collect_racing_from_two_stores_never_both_win(tmp_path):
    """Two servers on one file: one undoes an answer while the other's learner takes it.
    Either the undo wins (the learner gets nothing yet) or the collection does (the undo is
    refused); never an undone answer in the learner's hands. 40 races."""
    path = tmp_path / "race.sqlite"
    person, learner = QueryStore(path), QueryStore(path)
    for k in range(40):
        q = _add(person, k)
        person.answer(q, 0.3, annotator="ann")
        result = _race(person, learner, q)
        assert result["undone"] != (result["taken"] is not None), result
        if result["undone"]:  # the answer is back in the queue, the undone one kept
            assert learner.get(q)["answer"] is None and learner.next_open("ann") == q
            assert [r["why"] for r in learner.responses(q, withdrawn=True)] == ["undone"]
            person.answer(q, 0.1, annotator="ann")
            assert learner.collect([q]) == {q: 0.1}
        else:
            assert learner.get(q)["collected"] and learner.get(q)["answer"] == 0.3
    person.close()
    learner.close()
