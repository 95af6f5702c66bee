"""Stopping criteria (label budget, low uncertainty, validation plateau) and the history."""

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from robustsk.active import (
    ActiveLearner,
    LabelBudget,
    LowUncertainty,
    StoppingCriterion,
    ValidationPlateau,
)
from robustsk.query import max_entropy, random_sampling


class Scripted:
    """A classifier whose score and probabilities follow a script (known answers)."""

    def __init__(self, scores=(), proba=None):
        self.scores = list(scores)
        self.proba = proba

    def fit(self, X, y):
        self.classes_ = np.arange(4)
        return self

    def score(self, X, y):
        return self.scores.pop(0)

    def predict_proba(self, X):
        return np.tile(self.proba, (len(X), 1))


def test_label_budget_stops_at_the_budget():
    X = np.zeros((10, 3))
    learner = ActiveLearner(
        Scripted(), random_sampling, X[:4], np.arange(4), stopping=LabelBudget(7)
    )
    assert not learner.should_stop()
    learner.teach(X[:2], np.array([0, 1]))
    assert not learner.should_stop()  # 6 < 7
    learner.teach(X[:1], np.array([2]))
    assert learner.should_stop()  # 7 labelled
    assert learner.stop_reason_ == "label budget spent: 7 labelled, budget 7"
    checks = [r for r in learner.history_ if r["event"] == "check"]
    assert [r["n_labeled"] for r in checks] == [4, 6, 7]
    assert [r["stop"] is not None for r in checks] == [False, False, True]
    assert [r["event"] for r in learner.history_] == ["check", "teach", "check", "teach", "check"]


def test_low_uncertainty_is_the_mean_normalised_entropy():
    uniform = Scripted(proba=np.full(4, 0.25))
    confident = Scripted(proba=np.array([0.97, 0.01, 0.01, 0.01]))
    pool = np.zeros((20, 3))
    criterion = LowUncertainty(0.2)
    reason, m = criterion(ActiveLearner(uniform, max_entropy), pool)
    assert reason is None and m["mean_uncertainty"] == pytest.approx(1.0)
    reason, m = criterion(ActiveLearner(confident, max_entropy), pool)
    h = -(0.97 * np.log(0.97) + 3 * 0.01 * np.log(0.01)) / np.log(4)
    assert m["mean_uncertainty"] == pytest.approx(h) and h < 0.2
    assert reason.startswith("low uncertainty: mean normalised entropy")
    with pytest.raises(ValueError, match="needs the pool"):
        criterion(ActiveLearner(confident, max_entropy), None)


def test_low_uncertainty_scores_a_seeded_sample_of_a_large_pool():
    calls = []

    class Counting(Scripted):
        def predict_proba(self, X):
            calls.append(len(X))
            return super().predict_proba(X)

    learner = ActiveLearner(Counting(proba=np.full(4, 0.25)), max_entropy)
    LowUncertainty(0.5, n_samples=30)(learner, np.zeros((1000, 2)))
    LowUncertainty(0.5, n_samples=None)(learner, np.zeros((1000, 2)))
    assert calls == [30, 1000]


def test_validation_plateau_waits_patience_checks_without_improvement():
    scores = [0.50, 0.60, 0.61, 0.605, 0.60, 0.59]
    learner = ActiveLearner(
        Scripted(scores=scores),
        random_sampling,
        stopping=ValidationPlateau(np.zeros((5, 2)), np.zeros(5), patience=2, min_delta=0.02),
    )
    stops = [learner.should_stop() for _ in scores]
    # best before the last two checks vs best of the last two, improvement needs > 0.02:
    # check 3: 0.61 vs 0.50 -> go on; check 4: max(0.61, 0.605) vs 0.60 -> 0.01, stop.
    assert stops == [False, False, False, True, True, True]
    recorded = [r["validation_score"] for r in learner.history_]
    assert recorded == scores
    assert "validation plateau" in learner.stop_reason_


def test_every_criterion_is_recorded_and_any_one_stops():
    learner = ActiveLearner(
        Scripted(scores=[0.9, 0.9], proba=np.full(4, 0.25)),
        random_sampling,
        np.zeros((3, 2)),
        np.arange(3),
        stopping=[LabelBudget(100), LowUncertainty(0.5), ValidationPlateau([[0, 0]], [0])],
    )
    assert not learner.should_stop(np.zeros((10, 2)))
    record = learner.history_[-1]
    assert record["n_labeled"] == 3 and record["mean_uncertainty"] == pytest.approx(1.0)
    assert record["validation_score"] == 0.9 and record["stop"] is None
    learner.stopping = None  # the criteria were read at construction


def test_a_real_loop_stops_on_its_budget_and_history_survives_pickle(digits):
    X_train, X_test, y_train, y_test = digits
    X_flat = X_train.reshape(len(X_train), -1)
    learner = ActiveLearner(
        LogisticRegression(max_iter=200),
        max_entropy,
        X_flat[:20],
        y_train[:20],
        random_state=0,
        stopping=[LabelBudget(80), ValidationPlateau(X_test.reshape(len(X_test), -1), y_test)],
    )
    pool, pool_y = X_flat[20:], y_train[20:]
    rounds = 0
    while not learner.should_stop(pool):
        idx, _ = learner.query(pool, 20)
        learner.teach(pool[idx], pool_y[idx])
        pool, pool_y = np.delete(pool, idx, axis=0), np.delete(pool_y, idx)
        rounds += 1
    assert rounds == 3 and len(learner.y_training) == 80
    events = [r["event"] for r in learner.history_]
    assert events == ["check"] + ["query", "teach", "check"] * 3
    scores = [r["validation_score"] for r in learner.history_ if r["event"] == "check"]
    assert scores[-1] > scores[0]  # 20 -> 80 labels: accuracy rises on digits
    again = pickle.loads(pickle.dumps(learner))
    assert again.history_ == learner.history_ and again.should_stop(pool)


@pytest.mark.parametrize(
    "make, err, match",
    [
        (lambda: LabelBudget(0), ValueError, "max_labels"),
        (lambda: LabelBudget(2.5), TypeError, "max_labels"),
        (lambda: LowUncertainty(1.0), ValueError, "threshold"),
        (lambda: LowUncertainty(0.1, n_samples=0), ValueError, "n_samples"),
        (lambda: ValidationPlateau([[0]], [0], patience=0), ValueError, "patience"),
        (lambda: ValidationPlateau([[0]], [0], min_delta=-1), ValueError, "min_delta"),
        (lambda: ValidationPlateau([[0]], [0, 1]), ValueError, "same number"),
        (lambda: ValidationPlateau([[0]], [0], scoring="accuracy"), TypeError, "scoring"),
        (lambda: ActiveLearner(Scripted(), stopping="budget"), TypeError, "stopping must be"),
        (lambda: ActiveLearner(Scripted(), stopping=[LabelBudget(3), 5]), TypeError, "stopping"),
    ],
)
def test_bad_parameters_are_refused(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_criteria_read_well():
    assert repr(LabelBudget(50)) == "LabelBudget(max_labels=50)"
    assert repr(LowUncertainty(0.1)) == "LowUncertainty(threshold=0.1, n_samples=10000)"
    assert isinstance(ValidationPlateau([[0]], [0]), StoppingCriterion)


def test_the_level_learner_stops_by_criteria_recorded_in_its_rounds(digits):
    """AQPL's learner takes the same criteria: LabelBudget counts answered levels, a
    validation plateau and low uncertainty read the model; each round records them."""
    from robustsk.active import CallableOracle, PerturbationLevelLearner
    from robustsk.estimators import NoiseTrainedClassifier

    X_train, X_test, y_train, y_test = digits
    X, y = X_train[:200], y_train[:200]

    def learner(**kw):
        return PerturbationLevelLearner(
            CallableOracle(lambda q: 0.5),
            NoiseTrainedClassifier(max_epochs=1, lr=1e-2, batch_size=32, verbose=0, random_state=0),
            n_per_side=5,
            n_draws=4,
            sigma_init=0.3,
            max_rounds=8,
            random_state=0,
            **kw,
        ).fit(X, y)

    budget = learner(stopping=LabelBudget(25)).run()
    # rounds of 10 answers: the check after round 3 sees 30 >= 25
    assert [r["n_labeled"] for r in budget.history_] == [10, 20, 30]
    assert [r["stop"] is None for r in budget.history_] == [True, True, False]
    assert budget.stop_reason_.startswith("label budget spent: 30 labelled")
    plateau = learner(
        stopping=[
            ValidationPlateau(X_test, y_test, patience=1, min_delta=1.0),
            LowUncertainty(0.01),
        ]
    ).run()
    rounds = plateau.history_
    assert len(rounds) == 2 and "validation plateau" in plateau.stop_reason_
    assert all(
        0.0 <= r["validation_score"] <= 1.0 and 0.0 < r["mean_uncertainty"] < 1.0 for r in rounds
    )
    # the score of the model each round ended with: the last one is the model now
    assert rounds[-1]["validation_score"] == pytest.approx(plateau.score(X_test, y_test))
    tol = learner(tol=0.5).run()  # every answer moves 0.2 < tol: levels conform at once
    assert len(tol.history_) == 1 and tol.stop_reason_.startswith("levels conform")
    full = learner().run(n_rounds=2)
    assert full.stop_reason_ is None and "stop" not in full.history_[-1]
    with pytest.raises(TypeError, match="stopping"):
        learner(stopping="budget")
