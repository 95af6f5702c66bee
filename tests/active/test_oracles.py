"""The level queries (ladders, content keys, seeds) and the oracles that answer them."""

import numpy as np
import pytest
import torch

from robustsk.active import (
    CallableOracle,
    SimulatedOracle,
    make_queries,
    row_keys,
)


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


def test_queries_have_content_keys_and_stable_seeds():
    X = np.random.default_rng(0).random((5, 1, 4, 4)).astype(np.float32)
    perm = np.array([3, 0, 4, 1, 2])
    a = make_queries(X, np.arange(5), np.zeros(5), [1, 3])
    b = make_queries(X[perm], np.arange(5)[perm], np.zeros(5), [3, 0])  # same examples, moved
    assert [q.key for q in a] == [q.key for q in b] == row_keys(X[[1, 3]]).tolist()
    assert [q.seed for q in a] == [q.seed for q in b]
    assert all(0 <= q.seed < 2**62 for q in a) and a[0].seed != a[1].seed
    assert [q.query_id for q in b] == [3, 0]  # query_id stays the position


def _full_ladder_answers(reference, queries, tau, n_draws, base):
    """The rule on the whole ladder, level by level, with the oracle's draws."""
    from robustsk.active._oracles import ladder_noise

    module = reference.module_.eval()
    classes = np.asarray(reference.classes_)
    answers = []
    for q in queries:
        x = torch.as_tensor(np.asarray(q.x, np.float32))
        z = ladder_noise(n_draws, tuple(x.shape), base, q.seed)
        ok = []
        for sigma in q.sigmas:
            copies = (x + float(np.float32(sigma)) * z).clamp(0, 1)
            with torch.no_grad():
                pred = module(copies).argmax(1).numpy()
            ok.append((classes[pred] == q.y).mean() >= tau)
        fails = np.flatnonzero(~np.array(ok))
        top = fails[0] - 1 if fails.size else len(q.sigmas) - 1
        answers.append(q.sigmas[max(top, 0)])
    return np.array(answers)


@pytest.mark.parametrize("tau, n_draws", [(0.9, 10), (0.99, 7)])
def test_simulated_oracle_climbs_to_the_full_ladders_answer(reference, digits, tau, n_draws):
    """Stopping at the first failing level gives the answer of the whole ladder."""
    _, X_test, _, y_test = digits
    queries = make_queries(X_test, y_test, np.zeros(len(X_test)), range(25), seed=3)
    got = SimulatedOracle(reference, tau=tau, n_draws=n_draws, random_state=5).answer(queries)
    want = _full_ladder_answers(reference, queries, tau, n_draws, base=5)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) > 3  # the answers spread over the ladder


def test_simulated_oracle_answers_an_example_the_same_in_any_company(reference, digits):
    _, X_test, _, y_test = digits
    queries = make_queries(X_test, y_test, np.zeros(len(X_test)), range(30))
    oracle = SimulatedOracle(reference, tau=0.9, n_draws=10, random_state=0, batch_size=64)
    together = oracle.answer(queries)
    reversed_ = oracle.answer(queries[::-1])[::-1]
    alone = np.array([oracle.answer([q])[0] for q in queries[:5]])
    np.testing.assert_array_equal(together, reversed_)
    np.testing.assert_array_equal(together[:5], alone)
    other_seed = SimulatedOracle(reference, tau=0.9, n_draws=10, random_state=1).answer(queries)
    assert (other_seed != together).any()  # the oracle's seed does change the draws
