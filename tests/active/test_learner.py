import errno
import json
import os
import pickle
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from robustsk.active import ActiveLearner, AnswerJournal, row_keys
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

    def counting(classifier, X_pool, n_instances=1, *, random_state=None, **kw):
        calls.append(random_state)
        return random_sampling(classifier, X_pool, n_instances, random_state=random_state)

    learner = ActiveLearner(FitSpy(), counting, X_train[:10], y_train[:10] % 2, random_state=0)
    learner.query(X_train[10:], n_instances=3)
    assert len(calls) == 1 and isinstance(calls[0], int)  # a strategy naming it gets a seed

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
    lines = path.read_text().splitlines()  # the initial 20, then the 15 answers
    assert len(lines) == 35 and json.loads(lines[20])["index"] == idx[0]

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
    assert len(AnswerJournal(path)) == 95


def test_a_resume_from_the_journal_alone_keeps_the_initial_labelled_set(digits, tmp_path):
    """The initial set used to be dropped when not passed again (100 labels instead of
    150); it is journaled once, so a resume with or without it trains on the same 150."""
    X_train, _, y_train, _ = digits
    path = tmp_path / "answers.jsonl"
    X0, y0, pool_X, pool_y = X_train[:50], y_train[:50], X_train[50:], y_train[50:]
    with ActiveLearner(FitSpy(), journal=path, X_training=X0, y_training=y0) as learner:
        idx, _ = learner.query(pool_X, n_instances=100)
        learner.teach(pool_X[idx], pool_y[idx])
        expected = learner.y_training.copy()
    assert len(AnswerJournal(path)) == 150
    with ActiveLearner(FitSpy(), journal=path) as alone:
        assert len(alone.X_training) == 150
        np.testing.assert_array_equal(alone.y_training, expected)
    with ActiveLearner(FitSpy(), journal=path, X_training=X0, y_training=y0) as again:
        assert len(again.X_training) == 150  # not 200: the set is in the journal already
    assert len(AnswerJournal(path)) == 150
    dup = np.concatenate([X0[:3], X0[:3]])
    with ActiveLearner(
        FitSpy(),
        journal=tmp_path / "d.jsonl",
        X_training=dup,
        y_training=np.concatenate([y0[:3], y0[:3]]),
    ) as twice:
        assert len(twice.X_training) == 3  # a repeated example is one label
    with pytest.raises(ValueError, match="X_training"):
        ActiveLearner(
            FitSpy(),
            journal=tmp_path / "bad.jsonl",
            X_training=np.full((2, 4), np.nan),
            y_training=[0, 1],
        )
    assert ActiveLearner(FitSpy(), journal=tmp_path / "bad.jsonl").X_training is None


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
        assert len(second.X_training) == 12  # the initial 10 are journaled too
    del first
    copy.teach(X_train[12:13], y_train[12:13] % 2)  # the lock is free again
    assert len(AnswerJournal(path)) == 13


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


# ---------------------------------------------------------------- teach checks its input


class ClassesSpy(FitSpy):
    """A classifier told its classes up front (as skorch's ``classes=``)."""

    def __init__(self, classes=(0, 1, 2)):
        super().__init__()
        self.classes = classes

    def get_params(self, deep=True):
        return {"classes": self.classes}


def _int_learner(path, estimator=None):
    rng = np.random.default_rng(0)
    X0, y0 = rng.random((6, 4)), np.array([0, 1, 2, 0, 1, 2])
    return ActiveLearner(estimator or FitSpy(), random_sampling, X0, y0, journal=path)


def _bad_teach(kind, n, at, value):
    """A bad input for a learner of 4 features and integer labels 0..2: ``(X, y, parameter)``."""
    rng = np.random.default_rng(n)
    X, y = rng.random((n, 4)), rng.integers(0, 3, n)
    row, col = at % n, at % 4
    if kind == "nan":
        X[row, col] = np.nan
    elif kind == "inf":
        X[row, col] = np.inf if at % 2 else -np.inf
    elif kind == "too big for float32":
        X[row, col] = (1 if at % 2 else -1) * value * 1e300
    elif kind == "feature count":
        X = rng.random((n, 4 + (at % 3) + 1 if at % 2 else 4 - (at % 3) - 1))
    elif kind == "row shape":
        X = rng.random((n, 2, 2) if at % 2 else (n, 4, 1))
    elif kind == "scalar X":
        X = np.float64(value)
    elif kind == "float labels":
        y = y + 0.1 + 0.8 * (abs(value) % 1)  # never integral
    elif kind == "nan labels":
        y = y.astype(float)
        y[row] = np.nan
    elif kind == "string labels":
        y = np.array(["cat", "dog", "0"] * n)[:n]
    elif kind == "object labels":
        y = np.array([1] + ["a"] * (n - 1) if n > 1 else ["a"], dtype=object)
    elif kind == "bool labels":
        y = y > 0
    elif kind == "2-D labels":
        y = y[:, None]
    elif kind == "unknown class":
        y[row] = 3 + at
    elif kind == "fewer labels":
        y = y[: n - 1]
    elif kind == "more labels":
        y = np.r_[y, y[:1]]
    elif kind == "no example":
        X, y = X[:0], y[:0]
    return X, y, "y" if "label" in kind or "class" in kind else "X"


BAD_KINDS = [
    "nan",
    "inf",
    "too big for float32",
    "feature count",
    "row shape",
    "scalar X",
    "float labels",
    "nan labels",
    "string labels",
    "object labels",
    "bool labels",
    "2-D labels",
    "unknown class",
    "fewer labels",
    "more labels",
    "no example",
]


@pytest.mark.parametrize("kind", BAD_KINDS)
@settings(max_examples=8, derandomize=True, deadline=None)
@given(n=st.integers(1, 5), at=st.integers(0, 50), value=st.floats(1e-3, 1e3))
def test_teach_refuses_bad_input_before_journaling_it(kind, n, at, value):
    """The old bug: NaN/inf features, wrong shapes, continuous or string labels were
    journaled, then refused by training, and every later resume failed (or string labels
    silently turned all predictions into strings). Now: a ValueError naming the parameter,
    the journal unchanged byte for byte, the learner unchanged, and a resume that works."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "j.jsonl"
        spy = ClassesSpy()
        learner = _int_learner(path, spy)
        good_X = np.random.default_rng(99).random((2, 4))
        learner.teach(good_X, np.array([2, 1]))
        before, calls = path.read_bytes(), list(spy.calls)
        X, y, parameter = _bad_teach(kind, n, at, value)
        match = "teach needs at least one example" if kind == "no example" else parameter
        with pytest.raises(ValueError, match=match):
            learner.teach(X, y)
        assert path.read_bytes() == before
        assert len(learner.X_training) == 8 and spy.calls == calls
        assert learner.y_training.dtype.kind == "i"
        learner.teach(good_X + 1, np.array([0, 0]))  # the learner goes on
        learner.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            resumed = _int_learner(path)
        assert resumed.y_training.tolist() == [0, 1, 2, 0, 1, 2, 2, 1, 0, 0]
        resumed.close()


def test_teach_errors_name_the_parameter_the_value_and_what_is_allowed(tmp_path):
    learner = _int_learner(tmp_path / "j.jsonl")
    X = np.zeros((2, 4))
    cases = [
        (
            np.array([[0, np.nan, 0, 0], [0, 0, 0, 0]]),
            [0, 1],
            r"X must hold finite numbers, "
            r"got nan in row 0 at \(1,\); NaN and infinities are refused",
        ),
        (
            np.zeros((2, 5)),
            [0, 1],
            r"X must have rows of shape \(4,\) \(the training data's\), "
            r"got rows of shape \(5,\)",
        ),
        (
            X,
            [0.5, 1],
            r"y must hold integer class labels like the training labels \(dtype "
            r"int64\), got the continuous value 0.5",
        ),
        (
            X,
            ["a", "b"],
            r"y must hold labels of the training labels' kind \(int, dtype int64, "
            r"e.g. 0\), got str labels \(dtype <U1, e.g. 'a'\)",
        ),
        (X, [0], r"X and y have 2 and 1 rows: one label per example"),
    ]
    before = tmp_path.joinpath("j.jsonl").read_bytes()  # the initial set only
    for bad_X, y, message in cases:
        with pytest.raises(ValueError, match=message):
            learner.teach(bad_X, np.array(y))
    assert tmp_path.joinpath("j.jsonl").read_bytes() == before
    learner.teach(X, np.array([1.0, 2.0]))  # integral floats are class labels: cast
    assert learner.y_training.dtype == np.int64 and learner.y_training[-2:].tolist() == [1, 2]


def test_labels_of_a_string_learner_and_of_a_classifier_with_no_labels_yet(tmp_path):
    X = np.random.default_rng(0).random((3, 2))
    words = ActiveLearner(FitSpy(), random_sampling, X, np.array(["a", "b", "a"]))
    with pytest.raises(
        ValueError,
        match=r"y must hold labels of the training labels' kind "
        r"\(str.*got int labels",
    ):
        words.teach(X[:1] + 1, np.array([1]))
    words.teach(X[:1] + 1, np.array(["c"]))  # a new class of the same kind is fine
    from sklearn.dummy import DummyClassifier

    empty = ActiveLearner(DummyClassifier(), random_sampling, journal=tmp_path / "j.jsonl")
    with pytest.raises(
        ValueError,
        match=r"y must hold class labels for the classifier "
        r"DummyClassifier, got the continuous value 0.3",
    ):
        empty.teach(X, np.array([0.3, 1, 2]))
    with pytest.raises(ValueError, match="y must be one label per example"):
        empty.teach(X, np.array([b"a", b"b", b"c"]))  # bytes: not JSON
    empty.teach(X, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"X must have rows of shape \(2,\)"):
        empty.teach(np.zeros((1, 3)), np.array([0]))  # the first teach set the shape


def test_a_journal_written_with_bad_input_is_refused_by_name(tmp_path):
    """Journals written before teach checked its input may hold mixed labels or NaN: a
    resume refuses them naming file:line, and leaves no lock behind."""
    path = tmp_path / "old.jsonl"
    with AnswerJournal(path) as journal:  # what the old teach journaled
        journal.append(np.zeros((2, 3)), np.array([0, 1]))
        journal.append(np.ones((1, 3)), np.array(["a"]))
    with pytest.raises(
        ValueError,
        match=r"old\.jsonl:3: a label of type str \('a'\), but "
        r"line 1 holds one of type int",
    ):
        ActiveLearner(FitSpy(), journal=path)
    nan = tmp_path / "nan.jsonl"
    AnswerJournal(nan).append(np.array([[0.0, np.nan, 1.0]]), np.array([0]))
    with pytest.raises(
        ValueError,
        match=r"the examples in the journal .*nan\.jsonl must "
        r"hold finite numbers, got nan",
    ):
        ActiveLearner(FitSpy(), journal=nan)
    shapes = tmp_path / "shapes.jsonl"
    AnswerJournal(shapes).append(np.zeros((1, 3)), np.array([0]))
    AnswerJournal(shapes).append(np.zeros((1, 4)), np.array([0]))
    with pytest.raises(ValueError, match=r"shapes\.jsonl:2: an example of shape \(4,\)"):
        ActiveLearner(FitSpy(), journal=shapes)
    with pytest.raises(
        ValueError,
        match=r"holds examples of shape \(3,\), but X_training "
        r"has rows of shape \(5,\)",
    ):
        ActiveLearner(
            FitSpy(), X_training=np.zeros((2, 5)), y_training=np.array([0, 1]), journal=nan
        )
    for p in (path, nan, shapes):  # no lock was left behind
        AnswerJournal(p).open().close()


# ---------------------------------------------------------------- a failed write in teach


@settings(max_examples=30, derandomize=True, deadline=None)
@given(
    faults=st.lists(
        st.tuples(st.integers(0, 400), st.sampled_from([errno.ENOSPC, errno.EFBIG, errno.EIO])),
        min_size=1,
        max_size=4,
    ),
    fsync_fails=st.booleans(),
)
def test_a_teach_whose_write_fails_leaves_no_fragment(faults, fsync_fails):
    """A teach whose journal write stops short (at a random byte) and fails, or whose sync
    fails: the error reaches the caller, the learner and the journal are as before, the
    same examples taught again are applied, and a resume gives every acknowledged answer
    exactly once."""
    rng = np.random.default_rng(len(faults))
    pool, labels = rng.random((40, 4)), rng.integers(0, 3, 40)
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        path = Path(d) / "j.jsonl"
        learner = _int_learner(path)
        real_write, real_fsync = os.write, os.fsync
        plan = {}

        def write(fd, data):
            if plan.get("fd") == fd and "k" in plan:
                k = min(plan.pop("k"), len(data) - 1)
                if k > 0:
                    return real_write(fd, bytes(data[:k]))
            if plan.get("fd") == fd and "code" in plan:
                code = plan.pop("code")
                raise OSError(code, os.strerror(code))
            return real_write(fd, data)

        def fsync(fd):
            if plan.get("fd") == fd and plan.pop("fsync", False):
                raise OSError(errno.EIO, "I/O error")
            return real_fsync(fd)

        mp.setattr(os, "write", write)
        mp.setattr(os, "fsync", fsync)
        acked, row = [], 0
        for k, code in faults:
            rows = slice(row, row + 3)
            row += 3
            before, n = path.read_bytes(), len(learner.X_training)
            plan.update(fd=learner._journal._fds[0])
            plan.update({"fsync": True} if fsync_fails and k % 2 else {"k": k, "code": code})
            with pytest.raises(OSError):
                learner.teach(pool[rows], labels[rows])
            plan.clear()
            assert path.read_bytes() == before and len(learner.X_training) == n
            learner.teach(pool[rows], labels[rows])  # asked again: applied now, once
            acked += labels[rows].tolist()
        learner.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no torn tail, no damage
            resumed = _int_learner(path)
        assert resumed.y_training[6:].tolist() == acked
        assert len(set(row_keys(resumed.X_training).tolist())) == len(resumed.X_training)
        resumed.close()


@pytest.mark.parametrize(
    "answer",
    [
        np.array([0, 0]),  # a repeat
        np.array([0, 10**6]),  # past the pool
        np.array([-1, 0]),  # counts from the end
        np.array([0.5, 1.0]),  # not integers
        np.array([0, 1, 2]),  # more than asked
    ],
    ids=["repeat", "past the pool", "negative", "float", "too many"],
)
def test_a_custom_strategys_bad_indices_are_refused_naming_it(answer, digits):
    """They used to end in a bare IndexError (or to be taken as they were)."""
    X_train, _, y_train, _ = digits

    def shady(classifier, X_pool, n_instances=1):
        return answer, np.zeros(len(answer))

    learner = ActiveLearner(FitSpy(), shady, X_train[:10], y_train[:10] % 2)
    with pytest.raises(ValueError, match="shady"):
        learner.query(X_train[10:40], n_instances=2)
    assert learner.history_ == []  # nothing recorded for a refused answer
