import json

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

    # the process dies; a new learner on the same journal picks the answers up
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


def test_journal_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = AnswerJournal(path)
    journal.append(np.ones((2, 3)), np.array(["a", "b"]))
    with open(path, "a") as f:
        f.write('{"key": "abc", "lab')  # crash mid-write
    with pytest.warns(RuntimeWarning, match="incomplete last line"):
        X, y, keys, _ = journal.load()
    assert X.shape == (2, 3) and y.tolist() == ["a", "b"]


def test_bad_arguments(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(TypeError, match="query_strategy must be callable"):
        ActiveLearner(FitSpy(), "dre")
    with pytest.raises(ValueError, match="together"):
        ActiveLearner(FitSpy(), dre, X_train[:5])
    learner = ActiveLearner(FitSpy(), dre, X_train[:10], y_train[:10] % 2)
    with pytest.raises(ValueError, match="rows"):
        learner.teach(X_train[:3], y_train[:2])
