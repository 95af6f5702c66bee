import json
import os
import pickle

import numpy as np
import pytest

from robustsk.active import ActiveLearner, AnswerJournal
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.query import dre, max_entropy, random_sampling

FAST = dict(max_epochs=1, lr=1e-2, batch_size=32, verbose=0, random_state=0, classes=np.arange(10))


class FitSpy:
    """A classifier that records how it was trained."""

    def __init__(self):
        self.calls = []

    def fit(self, X, y):
        self.calls.append(("fit", len(X)))
        self.classes_ = np.unique(y)
        return self

    def partial_fit(self, X, y):
        self.calls.append(("partial_fit", len(X)))
        return self

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


def test_modal_style_loop(digits):
    X_train, X_test, y_train, y_test = digits
    learner = ActiveLearner(
        NoiseTrainedClassifier(**FAST), dre, X_train[:50], y_train[:50], random_state=0
    )
    pool_X, pool_y = X_train[50:], y_train[50:]
    for _ in range(2):
        idx, inst = learner.query(pool_X, n_instances=40)
        np.testing.assert_array_equal(inst, pool_X[idx])
        learner.teach(pool_X[idx], pool_y[idx])
        pool_X, pool_y = np.delete(pool_X, idx, 0), np.delete(pool_y, idx)
    assert len(learner.X_training) == 130 and learner.last_query_scores_.shape == (40,)
    assert learner.predict_proba(X_test).shape == (len(X_test), 10)
    assert 0 <= learner.score(X_test, y_test) <= 1


def test_strategy_called_exactly_once_and_contract_enforced(digits):
    X_train, _, y_train, _ = digits
    calls = []

    def counting(classifier, X_pool, n_instances=1, **kw):
        calls.append(kw)
        return random_sampling(classifier, X_pool, n_instances, **kw)

    learner = ActiveLearner(FitSpy(), counting, X_train[:10], y_train[:10] % 2, random_state=0)
    learner.query(X_train[10:], n_instances=3)
    assert len(calls) == 1 and "random_state" in calls[0]

    def returns_indices_only(classifier, X_pool, n_instances=1):
        return np.arange(n_instances)

    bad = ActiveLearner(FitSpy(), returns_indices_only, X_train[:10], y_train[:10] % 2)
    with pytest.raises(TypeError, match=r"\(indices, scores\)"):
        bad.query(X_train[10:], n_instances=2)


def test_warm_start_uses_partial_fit(digits):
    X_train, _, y_train, _ = digits
    spy = FitSpy()
    learner = ActiveLearner(spy, max_entropy, X_train[:10], y_train[:10] % 2, warm_start=True)
    learner.teach(X_train[10:15], y_train[10:15] % 2)
    learner.teach(X_train[15:17], y_train[15:17] % 2, only_new=True)
    assert spy.calls == [("fit", 10), ("partial_fit", 15), ("partial_fit", 2)]
    cold = FitSpy()
    ActiveLearner(cold, max_entropy, X_train[:10], y_train[:10] % 2).teach(
        X_train[10:15], y_train[10:15] % 2
    )
    assert cold.calls == [("fit", 10), ("fit", 15)]


def test_warm_start_continues_training_a_net(digits):
    X_train, _, y_train, _ = digits
    net = NoiseTrainedClassifier(**FAST)
    learner = ActiveLearner(net, max_entropy, X_train[:60], y_train[:60], warm_start=True)
    learner.teach(X_train[60:100], y_train[60:100])
    assert len(net.history_) == 2  # one epoch at start, one more on teach: not refit


def test_journal_resumes_without_asking_again(digits, tmp_path):
    X_train, _, y_train, _ = digits
    path = tmp_path / "answers.jsonl"
    pool_X, pool_y = X_train[20:220], y_train[20:220]
    asked = []
    learner = ActiveLearner(
        NoiseTrainedClassifier(**FAST),
        max_entropy,
        X_train[:20],
        y_train[:20],
        journal=path,
        random_state=0,
    )
    idx, _ = learner.query(pool_X, n_instances=15)
    asked += idx.tolist()
    learner.teach(pool_X[idx], pool_y[idx])
    lines = path.read_text().splitlines()
    assert len(lines) == 15 and json.loads(lines[0])["index"] == idx[0]

    learner.close()  # the process dies; a new learner on the same journal picks the answers up
    resumed = ActiveLearner(
        NoiseTrainedClassifier(**FAST),
        max_entropy,
        X_train[:20],
        y_train[:20],
        journal=path,
        random_state=1,
    )
    assert len(resumed.X_training) == 35
    np.testing.assert_array_equal(resumed.y_training[20:], pool_y[idx])
    for _ in range(3):
        new, _ = resumed.query(pool_X, n_instances=20)  # the full, unchanged pool
        assert set(new.tolist()).isdisjoint(asked)
        asked += new.tolist()
        resumed.teach(pool_X[new], pool_y[new])
    assert len(AnswerJournal(path)) == 75


def test_damage_in_the_middle_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "j.jsonl"
    with AnswerJournal(path) as journal:
        journal.append(np.arange(9.0).reshape(3, 3), np.array([0, 1, 2]))
    good = path.read_bytes()
    path.write_bytes(good.replace(b'"label":1', b'"label":4'))  # still JSON: the checksum tells
    with pytest.raises(ValueError, match=r"j\.jsonl:2 is not a valid journal record"):
        AnswerJournal(path).records()
    with pytest.raises(ValueError, match=r"j\.jsonl:2"):
        ActiveLearner(FitSpy(), journal=path)
    path.write_bytes(good)  # repaired by hand: the failed learner left no lock behind
    assert len(ActiveLearner(FitSpy(), journal=path).X_training) == 3


def test_second_learner_on_the_same_journal_fails_at_once(digits, tmp_path):
    X_train, _, y_train, _ = digits
    path = tmp_path / "answers.jsonl"
    first = ActiveLearner(FitSpy(), random_sampling, X_train[:10], y_train[:10] % 2, journal=path)
    first.teach(X_train[10:12], y_train[10:12] % 2)
    with pytest.raises(RuntimeError, match=rf"answers\.jsonl is in use .*pid {os.getpid()}"):
        ActiveLearner(FitSpy(), random_sampling, journal=path)
    copy = pickle.loads(pickle.dumps(first))  # pickling (clone, joblib) does not carry the lock
    assert not copy._journal.is_open
    with pytest.raises(RuntimeError, match="in use"):
        copy.teach(X_train[12:13], y_train[12:13] % 2)
    first.close()
    with ActiveLearner(FitSpy(), random_sampling, journal=path) as second:
        assert len(second.X_training) == 2
    del first
    copy.teach(X_train[12:13], y_train[12:13] % 2)  # the lock is free again
    assert len(AnswerJournal(path)) == 3


def test_an_answered_example_is_not_applied_twice(digits, tmp_path):
    X_train, _, y_train, _ = digits
    spy = FitSpy()
    learner = ActiveLearner(spy, journal=tmp_path / "j.jsonl")
    learner.teach(X_train[:5], y_train[:5] % 2)
    with pytest.warns(RuntimeWarning, match="3 of the 4 examples taught are already in"):
        learner.teach(X_train[2:6], y_train[2:6] % 2)
    with pytest.warns(RuntimeWarning, match="already in"):
        learner.teach(X_train[:2], y_train[:2] % 2)
    assert len(learner.X_training) == 6 and spy.calls == [("fit", 5), ("fit", 6)]
    assert len(AnswerJournal(tmp_path / "j.jsonl")) == 6


def test_bad_arguments(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(TypeError, match="query_strategy must be callable"):
        ActiveLearner(FitSpy(), "dre")
    with pytest.raises(ValueError, match="together"):
        ActiveLearner(FitSpy(), dre, X_train[:5])
    learner = ActiveLearner(FitSpy(), dre, X_train[:10], y_train[:10] % 2)
    with pytest.raises(ValueError, match="rows"):
        learner.teach(X_train[:3], y_train[:2])
