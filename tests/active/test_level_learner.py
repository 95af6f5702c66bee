import json
import warnings

import numpy as np
import pytest

from robustsk.active import (
    AnswerJournal,
    CallableOracle,
    PerturbationLevelLearner,
    SimulatedOracle,
    row_keys,
)
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.query import random_sampling

FAST = dict(max_epochs=2, lr=1e-2, batch_size=32, verbose=0, random_state=0)


def test_a_round_changes_exactly_the_queried_levels(digits, reference):
    X_train, _, y_train, _ = digits
    X, y = X_train[:300], y_train[:300]
    learner = PerturbationLevelLearner(
        SimulatedOracle(reference, random_state=0),
        NoiseTrainedClassifier(**FAST),
        n_per_side=10,
        n_draws=10,
        sigma_init=0.3,
        random_state=0,
    ).fit(X, y)
    before = learner.sigma_.copy()
    record = learner.step()
    queried = np.flatnonzero(learner.answered_)
    assert record["queries"] == len(queried) == 20
    changed = np.flatnonzero(learner.sigma_ != before)
    assert set(changed.tolist()) <= set(queried.tolist())
    for i in queried:
        assert learner.sigma_[i] == pytest.approx(learner.answers_[i])
    np.testing.assert_allclose(learner.estimator_.sigma_, learner.sigma_)  # Eq. 2 levels
    learner.step()
    assert learner.answered_.sum() == 40  # no example is asked twice


def test_budget_rounds_tol_and_history(digits):
    X_train, X_test, y_train, y_test = digits
    X, y = X_train[:200], y_train[:200]
    oracle = CallableOracle(lambda q: 0.3)  # agrees with the initial level
    learner = PerturbationLevelLearner(
        oracle,
        NoiseTrainedClassifier(**FAST),
        n_per_side=5,
        n_draws=5,
        max_queries=25,
        max_rounds=10,
        random_state=0,
    )
    learner.fit(X, y).run(eval_set=(X_test[:100], y_test[:100]))
    assert [r["queries"] for r in learner.history_] == [10, 10, 5]  # budget of 25
    assert {"clean_accuracy", "noise_accuracy"} <= set(learner.history_[0])
    stop = (
        PerturbationLevelLearner(
            oracle,
            NoiseTrainedClassifier(**FAST),
            n_per_side=5,
            n_draws=5,
            tol=0.01,
            random_state=0,
        )
        .fit(X, y)
        .run()
    )
    assert len(stop.history_) == 1  # the oracle agreed: levels conform, stop


def test_adaptive_mode_pins_answers_and_journal_resumes(digits, tmp_path):
    X_train, _, y_train, _ = digits
    X, y = X_train[:200], y_train[:200]
    path = tmp_path / "levels.jsonl"
    asked = []

    def oracle_fn(q):
        asked.append(q.query_id)
        return 0.12

    learner = PerturbationLevelLearner(
        CallableOracle(oracle_fn),
        NoiseTrainedClassifier(**FAST),
        query_strategy=random_sampling,
        n_per_side=4,
        sigma_mode="adaptive",
        journal=path,
        random_state=0,
    )
    learner.fit(X, y).run(n_rounds=2)
    answered = np.flatnonzero(learner.answered_)
    np.testing.assert_allclose(learner.sigma_[answered], 0.12)
    assert learner.sigma_[~learner.answered_].std() > 0  # the others adapted
    levels = AnswerJournal(path).records("level")
    assert len(levels) == 16 and levels[0]["sigma"] == pytest.approx(0.12)
    assert [r["round"] for r in AnswerJournal(path).records("ask")] == [1] * 8 + [2] * 8
    learner.close()  # a new learner on the same journal applies the answers instead of asking
    again = PerturbationLevelLearner(
        CallableOracle(oracle_fn),
        NoiseTrainedClassifier(**FAST),
        query_strategy=random_sampling,
        n_per_side=4,
        journal=path,
        random_state=1,
    ).fit(X, y)
    np.testing.assert_array_equal(np.flatnonzero(again.answered_), answered)
    n_asked = len(asked)
    again.step()
    assert set(asked[n_asked:]).isdisjoint(answered.tolist())


def _content_oracle(asked):
    """An oracle whose answer is a function of the example's pixels (not of its position)."""

    def answer(q):
        asked.append(q.key)
        return round(float(np.asarray(q.x).mean()) * 0.9, 2)

    return CallableOracle(answer)


def _aqpl(oracle, path, **kw):
    params = dict(query_strategy=random_sampling, n_per_side=3, journal=path, random_state=0)
    return PerturbationLevelLearner(oracle, NoiseTrainedClassifier(**FAST), **{**params, **kw})


def test_resume_maps_answers_by_content_and_continues_rounds(digits, tmp_path):
    X_train, _, y_train, _ = digits
    X, y = X_train[:120], y_train[:120]
    path = tmp_path / "levels.jsonl"
    asked = []
    first = _aqpl(_content_oracle(asked), path).fit(X, y).run(n_rounds=2)
    answers = {row_keys(X[i : i + 1])[0]: s for i, s in first.answers_.items()}
    first.close()
    perm = np.random.default_rng(1).permutation(len(X))
    resumed = _aqpl(_content_oracle(asked), path).fit(X[perm], y[perm])  # reordered data
    keys = row_keys(X[perm])
    assert {keys[i]: s for i, s in resumed.answers_.items()} == answers
    rows = list(resumed.answers_)
    np.testing.assert_allclose(resumed.sigma_[rows], [resumed.answers_[i] for i in rows], 1e-6)
    assert [r["round"] for r in resumed.history_] == [1, 2]
    assert resumed.history_[1]["total_queries"] == 12
    n_asked = len(asked)
    assert resumed.step()["round"] == 3
    assert len(asked) == n_asked + 6 and not set(asked[n_asked:]) & set(answers)
    assert sorted(r["round"] for r in AnswerJournal(path).records("level"))[-6:] == [3] * 6
    resumed.close()
    with pytest.raises(
        ValueError, match=r"18 of the 18 answers and 18 of .* journal .*levels\.jsonl"
    ):
        _aqpl(_content_oracle(asked), path).fit(X_train[200:320], y_train[200:320])
    with pytest.raises(ValueError, match="X does not contain"):  # a subset lacks some too
        _aqpl(_content_oracle(asked), path).fit(X[perm][:60], y[perm][:60])
    again = _aqpl(_content_oracle(asked), path).fit(X, y)  # the failures left no lock behind
    assert len(again.answers_) == 18


def test_a_round_cut_short_is_asked_again_identically(digits, tmp_path):
    """A crash after the queries were posted: the resumed learner posts the same queries
    (same content keys and seeds, so the server finds stored answers) in the same round."""
    X_train, _, y_train, _ = digits
    X, y = X_train[:100], y_train[:100]
    path = tmp_path / "levels.jsonl"
    posted, crash = [], [8]

    def crashing(q):
        posted.append((q.key, q.seed, q.current_sigma))
        if crash and len(posted) == crash[0]:  # round 2, second query: the process dies
            crash.clear()
            raise RuntimeError("the process dies")
        return 0.2

    learner = _aqpl(CallableOracle(crashing), path).fit(X, y)
    learner.step()
    with pytest.raises(RuntimeError, match="dies"):
        learner.step()
    learner.close()
    round2 = posted[6:]
    answered_before = set(k for k, _, _ in posted[:6])
    posted.clear()
    resumed = _aqpl(CallableOracle(crashing), path, random_state=5).fit(X, y)
    assert len(resumed.history_) == 1 and len(resumed.answers_) == 6
    record = resumed.step()
    assert record["round"] == 2 and record["queries"] == 6
    asked_again = [(k, s) for k, s, _ in posted]
    assert asked_again[:2] == [(k, s) for k, s, _ in round2]  # the very same queries
    assert not {k for k, _ in asked_again} & answered_before
    assert resumed.step()["round"] == 3
    rounds = [r["round"] for r in AnswerJournal(path).records("level")]
    assert rounds == [1] * 6 + [2] * 6 + [3] * 6
    keys = [r["key"] for r in AnswerJournal(path).records("level")]
    assert len(keys) == len(set(keys))  # nothing answered twice


def test_second_aqpl_learner_fails_at_once_and_torn_tail_is_cut(digits, tmp_path):
    X_train, _, y_train, _ = digits
    X, y = X_train[:60], y_train[:60]
    path = tmp_path / "levels.jsonl"
    first = _aqpl(CallableOracle(lambda q: 0.3), path).fit(X, y)
    first.step()
    with pytest.raises(RuntimeError, match=r"levels\.jsonl is in use by another learner"):
        _aqpl(CallableOracle(lambda q: 0.3), path).fit(X, y)
    first.close()
    with open(path, "ab") as f:
        f.write(b'{"kind":"level","key":"ab')
    with pytest.warns(RuntimeWarning, match="torn tail"):
        with _aqpl(CallableOracle(lambda q: 0.4), path).fit(X, y) as second:
            second.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sigmas = [r["sigma"] for r in AnswerJournal(path).records("level")]
    assert sigmas == [0.3] * 6 + [0.4] * 6
    with pytest.raises(ValueError, match="ActiveLearner's journal"):
        AnswerJournal(tmp_path / "al.jsonl").append(np.zeros((1, 2)), np.array([1]))
        _aqpl(CallableOracle(lambda q: 0.3), tmp_path / "al.jsonl").fit(X, y)


def test_first_format_aqpl_journal_is_mapped_by_position(digits, tmp_path):
    X_train, _, y_train, _ = digits
    X, y = X_train[:50], y_train[:50]
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"index": 3, "sigma": 0.2}) + "\n")
    with pytest.warns(RuntimeWarning, match="identified by position only"):
        learner = _aqpl(CallableOracle(lambda q: 0.3), path).fit(X, y)
    assert learner.answers_ == {3: 0.2} and learner.history_ == []
    assert learner.step()["round"] == 1 and learner.answered_.sum() == 7
    learner.close()
    with pytest.raises(ValueError, match="up to position 3, but X has 3 rows"):
        _aqpl(CallableOracle(lambda q: 0.3), path).fit(X[:3], y[:3])


@pytest.mark.parametrize(
    "params, err, match",
    [
        (dict(n_per_side=0), ValueError, "n_per_side"),
        (dict(sigma_mode="cat"), ValueError, "sigma_mode"),
        (dict(max_queries=0), ValueError, "max_queries"),
        (dict(ladder=(0, 0.9)), ValueError, "ladder"),
        (dict(query_strategy="dre"), TypeError, "query_strategy"),
    ],
)
def test_bad_parameters(digits, params, err, match):
    X_train, _, y_train, _ = digits
    learner = PerturbationLevelLearner(CallableOracle(lambda q: 0.3), **params)
    with pytest.raises(err, match=match):
        learner.fit(X_train[:50], y_train[:50])
    with pytest.raises(TypeError, match="answer"):
        PerturbationLevelLearner(object()).fit(X_train[:50], y_train[:50])


def test_initial_levels_per_example(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:100], y_train[:100]
    levels = np.linspace(0.0, 0.9, 100)
    learner = PerturbationLevelLearner(
        CallableOracle(lambda q: 0.3), NoiseTrainedClassifier(**FAST), n_per_side=2, random_state=0
    ).fit(X, y, sample_sigma=levels)
    np.testing.assert_allclose(learner.sigma_, levels, atol=1e-6)
    np.testing.assert_allclose(learner.estimator_.sigma_, levels, atol=1e-6)
    with pytest.raises(ValueError, match=r"sample_sigma must .* shape \(100,\)"):
        learner.fit(X, y, sample_sigma=levels[:50])


def test_renamed_learner_parameters_still_work_for_one_release(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:200], y_train[:200]
    oracle = CallableOracle(lambda q: 0.3)

    def run(**params):
        learner = PerturbationLevelLearner(
            oracle, NoiseTrainedClassifier(**FAST), n_per_side=5, random_state=0, **params
        )
        return learner.fit(X, y).run()

    with pytest.warns(FutureWarning, match="budget was renamed max_queries"):
        old = run(budget=15, n_draws=5)
    with pytest.warns(FutureWarning, match="n_noise was renamed n_draws"):
        run(n_noise=5, max_queries=15, max_rounds=1)
    new = run(max_queries=15, n_draws=5)
    assert [r["queries"] for r in old.history_] == [r["queries"] for r in new.history_] == [10, 5]
    with pytest.raises(ValueError, match="old name of max_queries"):
        run(budget=15, max_queries=20)


class RawOracle:
    """An oracle that returns whatever it is given, unchecked (a buggy annotation app)."""

    def __init__(self, answers):
        self.answers = answers

    def answer(self, queries):
        return self.answers(len(queries)) if callable(self.answers) else self.answers


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda n: [np.nan] * n, "answer nan is not on the ladder"),
        (lambda n: [np.inf] * n, "answer inf is not on the ladder"),
        (lambda n: [-0.5] * n, r"answer -0.5 is not on the ladder \(0 to 0.9"),
        (lambda n: [5.0] * n, "answer 5.0 is not on the ladder"),
        (lambda n: [0.305] * n, "answer 0.305 is not on the ladder"),
        (lambda n: ["high"] * n, "the oracle's answers must be numbers"),
        (lambda n: [0.3] * (n - 1), r"returned \(5,\) answers for 6 queries"),
        (lambda n: [[0.3, 0.3]] * n, r"returned \(6, 2\) answers"),
    ],
    ids=["nan", "inf", "negative", "above", "between-levels", "string", "too-few", "2-D"],
)
def test_a_bad_answer_is_refused_before_it_is_journaled(digits, tmp_path, bad, match):
    """NaN, infinite, off-ladder, non-numeric answers or the wrong number of them: a
    ValueError, no level journaled, and the same queries are asked again, then resumed."""
    X_train, _, y_train, _ = digits
    X, y = X_train[:40], y_train[:40]
    path = tmp_path / "levels.jsonl"
    learner = _aqpl(RawOracle(bad), path).fit(X, y)
    with pytest.raises(ValueError, match=match):
        learner.step()
    journaled = path.read_bytes()  # the queries, recorded before they were asked
    assert [r["kind"] for r in AnswerJournal(path).records()] == ["ask"] * 6
    with pytest.raises(ValueError, match=match):  # asked again: the same round, nothing new
        learner.step()
    assert path.read_bytes() == journaled and not learner.answered_.any()
    learner.oracle = RawOracle(lambda n: [0.3] * n)
    assert learner.step()["round"] == 1
    learner.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed = _aqpl(RawOracle(bad), path).fit(X, y)
    assert sorted(resumed.answers_.values()) == [0.3] * 6
    resumed.close()


def test_a_journal_level_that_is_not_a_level_is_refused_by_name(digits, tmp_path):
    X_train, _, y_train, _ = digits
    X, y = X_train[:30], y_train[:30]
    path = tmp_path / "levels.jsonl"
    with AnswerJournal(path) as journal:  # a file altered by hand, checksums made anew
        journal.append_records(
            [
                {"kind": "ask", "key": row_keys(X[:1])[0], "index": 0, "round": 1, "current": 0.3},
                {
                    "kind": "level",
                    "key": row_keys(X[:1])[0],
                    "index": 0,
                    "round": 1,
                    "sigma": -1,
                    "previous": 0.3,
                },
            ]
        )
    with pytest.raises(ValueError, match=r"levels\.jsonl:2: the 'level' record's sigma is -1"):
        _aqpl(CallableOracle(lambda q: 0.3), path).fit(X, y)
    AnswerJournal(path).open().close()  # no lock left behind
