import json

import numpy as np
import pytest
import torch

from robustsk.active import (
    CallableOracle,
    PerturbationLevelLearner,
    SimulatedOracle,
    make_queries,
)
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.query import noisy_predictions, random_sampling
from robustsk.query._scores import label_entropy_scores

FAST = dict(max_epochs=2, lr=1e-2, batch_size=32, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def reference(digits):
    X_train, _, y_train, _ = digits
    return NoiseTrainedClassifier(sigma=0.4, **{**FAST, "max_epochs": 10}).fit(X_train, y_train)


def test_queries_and_ladder_answers():
    X = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    queries = make_queries(X, np.array([1, 2, 3]), np.array([0.1, 0.2, 0.3]), [0, 2])
    q = queries[1]
    assert q.query_id == 2 and q.current_sigma == pytest.approx(0.3)
    assert len(q.sigmas) == 91 and q.images().shape == (91, 1, 8, 8)
    np.testing.assert_array_equal(q.images()[0], X[2])
    assert q.check_answer(0.35) == pytest.approx(0.35)
    for bad in (0.355, 1.5, -0.01, "abc", None):
        with pytest.raises(ValueError, match="ladder|number"):
            q.check_answer(bad)


def test_callable_oracle_rejects_off_ladder_answers():
    X = np.zeros((2, 4), dtype=np.float32)
    queries = make_queries(X, np.array([0, 1]), np.zeros(2), [0, 1])
    assert CallableOracle(lambda q: 0.42).answer(queries).tolist() == [0.42, 0.42]
    with pytest.raises(ValueError, match="not on the ladder"):
        CallableOracle(lambda q: 0.4242).answer(queries)
    with pytest.raises(TypeError, match="callable"):
        CallableOracle("0.3")


def test_simulated_oracle_threshold(reference, digits):
    _, X_test, _, y_test = digits
    oracle = SimulatedOracle(reference, tau=0.9, n_draws=20, random_state=0)
    queries = make_queries(X_test, y_test, np.zeros(len(X_test)), range(20))
    answers = oracle.answer(queries)
    assert answers.shape == (20,) and ((answers >= 0) & (answers <= 0.9)).all()
    assert answers.mean() > 0.1  # a noise-trained reference tolerates some noise
    stricter = SimulatedOracle(reference, tau=0.99, n_draws=20, random_state=0).answer(queries)
    assert (stricter <= answers + 1e-9).mean() > 0.9  # a higher tau gives lower thresholds
    with pytest.raises(ValueError, match="tau must be in"):
        SimulatedOracle(reference, tau=1.5).answer(queries)


def test_entropy_rises_with_sigma_on_a_linear_model():
    """Theorem 1: for a linear classifier, classification entropy grows with sigma."""
    torch.manual_seed(0)

    class Linear:
        module_ = torch.nn.Linear(16, 2)
        device = "cpu"
        input_shape_ = (16,)

    x = np.full((1, 16), 0.5, dtype=np.float32)
    entropies = []
    for sigma in (0.4, 0.6, 1.0, 2.0):  # from near-certain to near-chance decisions
        labels = noisy_predictions(
            Linear(), x, np.array([sigma], np.float32), n_noise=4000, random_state=0, clip=None
        )
        entropies.append(label_entropy_scores(labels, 2)[0])
    assert all(a < b for a, b in zip(entropies, entropies[1:]))


def test_a_round_changes_exactly_the_queried_levels(digits, reference):
    X_train, _, y_train, _ = digits
    X, y = X_train[:300], y_train[:300]
    learner = PerturbationLevelLearner(
        SimulatedOracle(reference, random_state=0),
        NoiseTrainedClassifier(**FAST),
        n_per_side=10,
        n_noise=10,
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
        n_noise=5,
        budget=25,
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
            n_noise=5,
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
    assert len(path.read_text().splitlines()) == 16
    assert json.loads(path.read_text().splitlines()[0])["sigma"] == pytest.approx(0.12)
    # a new learner on the same journal applies the answers instead of asking again
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


@pytest.mark.parametrize(
    "params, err, match",
    [
        (dict(n_per_side=0), ValueError, "n_per_side"),
        (dict(sigma_mode="cat"), ValueError, "sigma_mode"),
        (dict(budget=0), ValueError, "budget"),
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
