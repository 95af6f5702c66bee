"""The strategy contract's checks (robustsk/query/_base.py): the pool, before any model call,
and a strategy's answer, for built-in and custom strategies alike."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from robustsk import query as Q
from robustsk.active import ActiveLearner
from robustsk.query import check_pool, check_strategy_output

GENERATED = settings(max_examples=60, derandomize=True, deadline=None)


# ------------------------------------------------------------------ a strategy's answer
@st.composite
def bad_answers(draw, n_pool):
    """``(n_instances, indices)`` where the indices break the contract: negative, past the
    pool, floats, repeated, too few or too many, a mask, 2-d, strings, None, a scalar."""
    n = draw(st.integers(2, n_pool - 1))
    good = np.array(draw(st.permutations(range(n_pool)))[:n], dtype=np.int64)
    kind = draw(
        st.sampled_from(
            [
                "negative",
                "too_large",
                "float",
                "duplicate",
                "too_few",
                "too_many",
                "mask",
                "2d",
                "strings",
                "none",
                "scalar",
            ]
        )
    )
    i = draw(st.integers(0, n - 1))
    bad: object
    if kind == "negative":
        bad = good.copy()
        bad[i] = draw(st.integers(-(10**9), -1))
    elif kind == "too_large":
        bad = good.copy()
        bad[i] = draw(st.integers(n_pool, 10**12))
    elif kind == "float":
        bad = good.astype(np.float64) + draw(st.sampled_from([0.0, 0.5]))
    elif kind == "duplicate":
        bad = good.copy()
        bad[(i + 1) % n] = bad[i]
    elif kind == "too_few":
        bad = good[: draw(st.integers(0, n - 1))]
    elif kind == "too_many":
        bad = np.array(draw(st.permutations(range(n_pool)))[: n + 1], dtype=np.int64)
    elif kind == "mask":
        bad = np.isin(np.arange(n_pool), good)
    elif kind == "2d":
        bad = good.reshape(1, -1)
    elif kind == "strings":
        bad = good.astype(str)
    elif kind == "none":
        bad = [None] * n
    else:
        bad = good[0]
    if draw(st.booleans()) and kind not in ("none",):
        bad = np.asarray(bad).tolist()  # a plain list
    return n, bad


def _custom(indices):
    def my_custom_strategy(classifier, X_pool, n_instances=1, *, random_state=None):
        return indices, np.zeros(np.size(indices))

    return my_custom_strategy


@GENERATED
@given(data=st.data())
def test_a_strategys_bad_indices_are_refused_naming_it(data):
    """Directly and through subsample (whose wrapped strategy may be a custom one)."""
    n_pool = 30
    n, bad = data.draw(bad_answers(n_pool))
    strategy = _custom(bad)
    with pytest.raises(ValueError, match="my_custom_strategy"):
        check_strategy_output((bad, np.zeros(3)), n_pool, n, strategy=strategy)
    X = np.random.default_rng(0).random((n_pool, 4))
    with pytest.raises(ValueError, match="my_custom_strategy"):
        Q.subsample(strategy, 1.0)(None, X, n, random_state=0)


@pytest.mark.parametrize("answer", [[1, 2], np.array([1, 2]), "12", None, (np.arange(2),)])
def test_an_answer_that_is_not_a_pair_is_a_type_error(answer):
    with pytest.raises(TypeError, match=r"query strategy 'f' must return \(indices, scores\)"):
        check_strategy_output(answer, 10, 2, strategy="f")


def test_a_good_answer_comes_back_as_int64():
    for indices in (
        [3, 1],
        np.array([3, 1], np.int32),
        np.array([3, 1], np.uint8),
        torch.tensor([3, 1]),
    ):
        idx, scores = check_strategy_output((indices, [0.5, 0.2]), 4, 2, strategy="f")
        assert idx.dtype == np.int64 and idx.tolist() == [3, 1] and scores.shape == (2,)
    idx, _ = check_strategy_output(
        (np.array([np.int64(2), 0], dtype=object), None), 3, 2, strategy="f"
    )
    assert idx.dtype == np.int64


def test_messages_say_what_is_wrong():
    s = "f"
    with pytest.raises(ValueError, match=r"outside \[0, 5\) .*\[7\]"):
        check_strategy_output(([0, 7], None), 5, 2, strategy=s)
    with pytest.raises(ValueError, match=r"repeated indices: \[2\]"):
        check_strategy_output(([2, 2], None), 5, 2, strategy=s)
    with pytest.raises(ValueError, match=r"asked for n_instances=3 but returned 2"):
        check_strategy_output(([0, 1], None), 5, 3, strategy=s)
    with pytest.raises(ValueError, match=r"1-d array of integer positions .*dtype float64"):
        check_strategy_output(([0.0, 1.0], None), 5, 2, strategy=s)


def test_every_built_in_strategy_checks_its_own_answer(trained, monkeypatch):
    """The declared strategies pass their answer through check_strategy_output."""
    net, pool, _ = trained
    import robustsk.query._base as base

    seen = []
    real = base.check_strategy_output

    def spy(result, n_pool, n_instances, *, strategy):
        seen.append(strategy)
        return real(result, n_pool, n_instances, strategy=strategy)

    monkeypatch.setattr(base, "check_strategy_output", spy)
    Q.margin(net, pool[:50], 4, random_state=0)
    Q.random(None, pool[:50], 4, random_state=0)
    assert seen == ["margin", "random_sampling"]


# -------------------------------------------------------------------------- the pool
def test_pool_messages_name_the_row_the_shape_and_the_model(trained):
    net, pool, _ = trained
    bad = pool[:20].copy()
    bad[13, 0, 2, 5] = np.nan
    with pytest.raises(ValueError, match=r"X_pool contains NaN or infinity \(first in row 13\)"):
        Q.max_entropy(net, bad, 2)
    with pytest.raises(
        ValueError,
        match=r"X_pool has examples of shape \(50,\) \(50 features\), "
        r"but max_entropy's classifier \(NoiseTrainedClassifier\) was fitted on "
        r"examples of shape \(1, 8, 8\) \(64 features\)",
    ):
        Q.max_entropy(net, pool[:20].reshape(20, -1)[:, :50], 2)
    with pytest.raises(ValueError, match=r"shape \(4, 4, 4\)"):  # 64 numbers, other images
        Q.bald(net, pool[:20].reshape(20, 4, 4, 4), 2)
    with pytest.raises(ValueError, match=r"X\[:, None\]"):
        Q.bald(net, pool[:20, 0], 2)
    with pytest.raises(TypeError, match="X_pool must hold real numbers .*dtype object"):
        Q.bald(net, pool[:20].astype(object), 2)
    with pytest.raises(ValueError, match="X_pool must be an array"):
        Q.random(None, [[1.0, 2.0], [3.0]], 1)
    # flat rows of the right size and tensors are fine
    assert Q.bald(net, torch.from_numpy(pool[:20].reshape(20, -1)), 2, random_state=0)[0].shape == (
        2,
    )


def test_pool_features_are_checked_against_every_kind_of_fitted_model(digits):
    X, _, y, _ = digits
    flat = X[:200].reshape(200, -1)
    logreg = LogisticRegression(max_iter=200).fit(flat, y[:200])
    with pytest.raises(ValueError, match=r"X_pool has 63 features .* fitted on 64 features"):
        Q.margin(logreg, flat[:10, :63], 2)
    committee = Q.CommitteeClassifier([LogisticRegression(max_iter=100)] * 2).fit(flat, y[:200])
    with pytest.raises(ValueError, match=r"vote_entropy's classifier \(LogisticRegression\)"):
        Q.vote_entropy(committee, flat[:10, :60], 2)
    with pytest.raises(ValueError, match="X_pool has 60 features"):
        Q.vote_entropy([logreg, logreg], flat[:10, :60], 2)
    # a pipeline that flattens images: scikit-learn counts X.shape[1], the net all numbers
    pipe = make_pipeline(
        FunctionTransformer(lambda Z: Z.reshape(len(Z), -1)), LogisticRegression(max_iter=100)
    ).fit(X[:200], y[:200])
    assert Q.margin(pipe, X[:10], 2, random_state=0)[0].shape == (2,)
    learner = ActiveLearner(logreg, Q.margin, random_state=0)
    with pytest.raises(ValueError, match="X_pool has 8 features"):
        learner.query(X[:10, 0, 0], 2)


def test_the_finite_check_reads_a_large_pool_in_blocks(monkeypatch):
    import robustsk.query._base as base

    monkeypatch.setattr(base, "_FINITE_BLOCK", 40)  # 4 rows of 10 per block
    X = np.zeros((23, 10), np.float32)
    X[21, 3] = np.inf
    with pytest.raises(ValueError, match=r"first in row 21"):
        check_pool(X)
    assert check_pool(X[:20]) is not None
    assert check_pool(np.zeros((3, 2), np.int8)).dtype == np.int8  # ints: not cast, no copy


def test_a_memory_mapped_pool_is_not_copied(tmp_path):
    path = tmp_path / "pool.npy"
    np.save(path, np.zeros((50, 6), np.float32))
    mapped = np.load(path, mmap_mode="r")
    out = check_pool(mapped)
    assert np.shares_memory(out, mapped)


@pytest.mark.parametrize(
    "strategy", [Q.coreset, Q.typiclust, Q.probcover], ids=lambda s: s.__name__
)
def test_the_labelled_set_is_checked_as_the_pool_is(trained, strategy):
    net, pool, _ = trained
    labeled = pool[:10].copy()
    labeled[4, 0, 0, 0] = np.inf
    calls = []
    handle = net.module_.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        with pytest.raises(ValueError, match="X_labeled contains NaN or infinity"):
            strategy(net, pool[10:60], 3, X_labeled=labeled)
        with pytest.raises(ValueError, match="X_labeled has examples of shape"):
            strategy(net, pool[10:60], 3, X_labeled=labeled.reshape(10, -1)[:, :32])
    finally:
        handle.remove()
    assert not calls
    # no rows is no labelled set
    assert strategy(net, pool[10:60], 3, X_labeled=pool[:0], random_state=0)[0].shape == (3,)
