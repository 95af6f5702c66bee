"""Query by committee: CommitteeClassifier, vote entropy, max disagreement, ensemble BALD."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from robustsk import query as Q
from robustsk.active import ActiveLearner


def test_scores_known_answers():
    agree = np.array([[[0.9, 0.1]], [[0.9, 0.1]], [[0.9, 0.1]]])  # 3 members, 1 row
    split = np.array([[[0.9, 0.1]], [[0.2, 0.8]], [[0.6, 0.4]]])
    assert Q.vote_entropy_scores(agree)[0] == 0.0
    assert Q.vote_entropy_scores(split)[0] == pytest.approx(
        -(2 / 3) * np.log(2 / 3) - (1 / 3) * np.log(1 / 3)
    )
    assert Q.max_disagreement_scores(agree)[0] == pytest.approx(0.0)
    assert Q.ensemble_bald_scores(agree)[0] == pytest.approx(0.0)
    consensus = split.mean(axis=0)[0]
    kl = [float((m[0] * np.log(m[0] / consensus)).sum()) for m in split]
    assert Q.max_disagreement_scores(split)[0] == pytest.approx(max(kl))
    h = lambda p: float(-(p * np.log(p)).sum())  # noqa: E731
    bald = h(consensus) - np.mean([h(m[0]) for m in split])
    assert Q.ensemble_bald_scores(split)[0] == pytest.approx(bald) and bald > 0


@pytest.fixture(scope="module")
def flat(digits):
    X_train, X_test, y_train, y_test = digits
    return X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1), y_train, y_test


@pytest.fixture(scope="module")
def committee(flat):
    X, _, y, _ = flat
    members = [LogisticRegression(max_iter=300), DecisionTreeClassifier(max_depth=6)] * 2
    return Q.CommitteeClassifier(members, bootstrap=True, random_state=0).fit(X[:300], y[:300])


def test_committee_classifier_trains_distinct_members(committee, flat):
    _, X_test, _, y_test = flat
    probs = committee.member_proba(X_test)
    assert probs.shape == (4, len(X_test), 10) and np.allclose(probs.sum(axis=2), 1)
    assert not np.allclose(probs[1], probs[3])  # two trees, two resamples, two seeds
    np.testing.assert_allclose(committee.predict_proba(X_test), probs.mean(axis=0))
    assert committee.score(X_test, y_test) > 0.8
    assert len(committee) == 4
    again = clone(committee)
    assert again.get_params()["bootstrap"] is True and not hasattr(again, "estimators_")
    np.testing.assert_allclose(
        pickle.loads(pickle.dumps(committee)).predict_proba(X_test), committee.predict_proba(X_test)
    )


def test_members_seen_fewer_classes_are_aligned(flat):
    X, _, y, _ = flat
    keep = y[:200] < 5
    a = LogisticRegression(max_iter=300).fit(X[:200][keep], y[:200][keep])  # classes 0..4
    b = LogisticRegression(max_iter=300).fit(X[:200], y[:200])  # classes 0..9
    probs = Q.committee_proba([a, b], X[200:210])
    assert probs.shape == (2, 10, 10) and (probs[0][:, 5:] == 0).all()


@pytest.mark.parametrize("strategy", [Q.vote_entropy, Q.max_disagreement, Q.ensemble_bald])
def test_strategies_pick_the_highest_disagreement(committee, flat, strategy):
    _, X_test, _, _ = flat
    idx, scores = strategy(committee, X_test, 15, random_state=0)
    assert idx.dtype == np.int64 and len(np.unique(idx)) == 15
    name = strategy.__name__ + "_scores"
    all_scores = getattr(Q, name)(committee.member_proba(X_test))
    np.testing.assert_allclose(scores, all_scores[idx])
    assert scores.min() >= np.sort(all_scores)[-15] - 1e-12
    # the same answer from blocks in worker processes
    two = strategy(committee, X_test, 15, random_state=0, n_jobs=2, block_size=100)
    np.testing.assert_array_equal(two[0], idx)
    # inside robustsk's learner, and from a plain list of fitted members
    learner = ActiveLearner(committee, strategy, random_state=0)
    assert learner.query(X_test, 5)[0].shape == (5,)
    listed = strategy(list(committee.estimators_), X_test, 15, random_state=0)
    np.testing.assert_allclose(listed[1], scores)


def test_refusals(committee, flat):
    _, X_test, _, _ = flat
    with pytest.raises(TypeError, match="needs a committee"):
        Q.vote_entropy(committee.estimators_[0], X_test, 3)
    with pytest.raises(ValueError, match="n_instances"):
        Q.max_disagreement(committee, X_test, 0)
    with pytest.raises(ValueError, match="at least 2"):
        Q.CommitteeClassifier([LogisticRegression()]).fit(X_test[:20], np.arange(20) % 2)
    with pytest.raises(TypeError, match="predict_proba"):
        Q.CommitteeClassifier([LogisticRegression(), object()]).fit(X_test[:20], np.arange(20) % 2)
