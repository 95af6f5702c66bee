"""Every entry point validates the same way (issue 31, point 5).

Each public function of robustsk.query and robustsk.metrics with numeric parameters refuses
every bad value of each (the generator of tests/_bad_values.py: the declaration's own bad
values plus bools, None, NaN, infinities, negatives, zero, huge numbers and strings wherever
the declaration rejects them) with a TypeError or ValueError naming the parameter, before any
model call; hypothesis adds random numbers outside each declared interval. The strategies
themselves go through the template of tests/test_query_contract.py; here are the other
functions, the committee strategies (which need a committee) and ``max_epochs``.

A function of robustsk.query declares its parameters (``_parameter_constraints``, through
``query_strategy`` or ``declare_params``): a test fails when a numeric parameter is left
undeclared. The metrics other than ``verified_error`` (tests/metrics/test_verified.py) check
their parameters by hand; their constraints are written down here, from their documentation.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from sklearn.linear_model import LogisticRegression
from skorch.callbacks import Callback

from robustsk import metrics as M, query as Q
from robustsk.estimators import (
    AdversarialClassifier,
    CertifiedBudgetClassifier,
    NoiseTrainedClassifier,
    RobustNetClassifier,
    SmoothedClassifier,
)
from robustsk.utils import (
    Interval,
    NJobs,
    Options,
    PerSample,
    RandomState,
    check_param,
    declared_constraints,
    invalid_values,
)
from tests._bad_values import bad_values, outside, watched

GENERATED = settings(max_examples=25, derandomize=True, deadline=None)
INT1 = [Interval(1, integer=True)]


def _names(name: str) -> str:
    return rf"(^|\W){re.escape(name)}\W"


@pytest.fixture(scope="module")
def setting(digits):
    X_train, X_test, y_train, y_test = digits
    net = NoiseTrainedClassifier(
        max_epochs=1, lr=1e-2, batch_size=64, verbose=0, random_state=0
    ).fit(X_train[:200], y_train[:200])
    return dict(net=net, pool=X_test[:30], y=y_test[:30])


# ------------------------------------------------- the functions of robustsk.query
def _query_entries(s):
    """name -> (call(**overrides), constraints, watches the net): a valid call of each
    public non-strategy function of robustsk.query, and what its parameters accept."""
    net, pool = s["net"], s["pool"]
    rng = np.random.default_rng(0)
    probs = rng.random((20, 4, 3))
    probs /= probs.sum(axis=2, keepdims=True)
    rows = rng.random((20, 4))

    def entry(fn, *args, **kwargs):
        return lambda **over: fn(*args, **{**kwargs, **over})

    return {
        "kmeans_pp_factored": (
            lambda **o: Q.kmeans_pp_factored(
                **{"a": rows, "b": rows[:, :3], "n": 3, "rng": np.random.default_rng(0), **o}
            ),
            Q.kmeans_pp_factored._parameter_constraints,
            False,
        ),
        "batchbald_select": (
            lambda **o: Q.batchbald_select(
                **{"probs": probs, "n": 3, "rng": np.random.default_rng(0), **o}
            ),
            Q.batchbald_select._parameter_constraints,
            False,
        ),
        "greedy_k_center": (
            lambda **o: Q.greedy_k_center(
                **{
                    "pool": torch.from_numpy(rows),
                    "centers": None,
                    "n": 3,
                    "rng": np.random.default_rng(0),
                    **o,
                }
            ),
            Q.greedy_k_center._parameter_constraints,
            False,
        ),
        "dre_select": (
            lambda **o: Q.dre_select(
                **{"entropy": rows[:, 0], "n_instances": 3, "rng": np.random.default_rng(0), **o}
            ),
            Q.dre_select._parameter_constraints,
            False,
        ),
        "power_select": (
            lambda **o: Q.power_select(
                **{"scores": rows[:, 0], "n_instances": 3, "rng": np.random.default_rng(0), **o}
            ),
            Q.power_select._parameter_constraints,
            False,
        ),
        "purity_delta": (
            entry(Q.purity_delta, rows, n_clusters=3),
            Q.purity_delta._parameter_constraints,
            False,
        ),
        "typicality": (entry(Q.typicality, rows, k=3), Q.typicality._parameter_constraints, False),
        "label_entropy_scores": (
            lambda **o: Q.label_entropy_scores(
                **{"labels": rng.integers(0, 3, (5, 4)), "n_classes": 3, **o}
            ),
            Q.label_entropy_scores._parameter_constraints,
            False,
        ),
        "selection_bias": (
            entry(Q.selection_bias, net, pool, [0, 1, 2]),
            Q.selection_bias._parameter_constraints,
            True,
        ),
        "egl_scores": (entry(Q.egl_scores, net, pool), Q.egl_scores._parameter_constraints, True),
        "penultimate_embeddings": (
            entry(Q.penultimate_embeddings, net, pool),
            Q.penultimate_embeddings._parameter_constraints,
            True,
        ),
        "mc_dropout_probs": (
            entry(Q.mc_dropout_probs, net, pool, n_draws=2),
            Q.mc_dropout_probs._parameter_constraints,
            True,
        ),
        "with_mc_dropout": (
            lambda **o: Q.with_mc_dropout(**{"module": net.module_, **o}),
            Q.with_mc_dropout._parameter_constraints,
            False,
        ),
        "noisy_predictions": (
            entry(Q.noisy_predictions, net, pool, np.full(len(pool), 0.1), n_draws=2),
            Q.noisy_predictions._parameter_constraints,
            True,
        ),
        # not declared on the function (utils' and the wrapper's own checks): written here
        "map_pool": (
            entry(Q.map_pool, lambda X: X.sum(axis=1), rows),
            {"n_jobs": [NJobs()], "block_size": INT1},
            False,
        ),
        "subsample": (
            lambda **o: Q.subsample(**{"strategy": Q.margin, "n_candidates": 10, **o}),
            {"n_candidates": [Interval(1, integer=True), Interval(0.0, 1.0, closed="right")]},
            False,
        ),
    }


def _query_cases():
    # the declarations only; the calls are built from the fixture inside the test
    names = {
        "kmeans_pp_factored": Q.kmeans_pp_factored,
        "batchbald_select": Q.batchbald_select,
        "greedy_k_center": Q.greedy_k_center,
        "dre_select": Q.dre_select,
        "power_select": Q.power_select,
        "purity_delta": Q.purity_delta,
        "typicality": Q.typicality,
        "label_entropy_scores": Q.label_entropy_scores,
        "selection_bias": Q.selection_bias,
        "egl_scores": Q.egl_scores,
        "penultimate_embeddings": Q.penultimate_embeddings,
        "mc_dropout_probs": Q.mc_dropout_probs,
        "with_mc_dropout": Q.with_mc_dropout,
        "noisy_predictions": Q.noisy_predictions,
    }
    out = []
    for fname, fn in names.items():
        for pname, allowed in fn._parameter_constraints.items():
            for i, bad in enumerate(bad_values(allowed)):
                out.append(pytest.param(fname, pname, bad, id=f"{fname}-{pname}-{i}"))
    extra = {
        "map_pool": {"n_jobs": [NJobs()], "block_size": INT1},
        "subsample": {
            "n_candidates": [Interval(1, integer=True), Interval(0.0, 1.0, closed="right")]
        },
    }
    for fname, declared in extra.items():
        for pname, allowed in declared.items():
            for i, bad in enumerate(bad_values(allowed)):
                out.append(pytest.param(fname, pname, bad, id=f"{fname}-{pname}-{i}"))
    return out


QUERY_CASES = _query_cases()


@pytest.mark.parametrize("fname, pname, bad", QUERY_CASES)
def test_query_functions_refuse_bad_values_naming_them(setting, fname, pname, bad):
    call, _, watches = _query_entries(setting)[fname]
    with watched(setting["net"]) as seen:
        with pytest.raises((TypeError, ValueError), match=_names(pname)):
            call(**{pname: bad})
    assert seen["calls"] == 0


@GENERATED
@given(data=st.data())
def test_query_functions_refuse_random_numbers_outside_their_ranges(setting, data):
    entries = _query_entries(setting)
    fname = data.draw(st.sampled_from(sorted(entries)))
    call, declared, _ = entries[fname]
    numeric = [
        p for p, allowed in declared.items() if any(isinstance(c, Interval) for c in allowed)
    ]
    if not numeric:
        return
    pname = data.draw(st.sampled_from(numeric))
    bad = data.draw(outside(declared[pname]))
    with watched(setting["net"]) as seen:
        with pytest.raises((TypeError, ValueError), match=_names(pname)):
            call(**{pname: bad})
    assert seen["calls"] == 0


#: Parameters of robustsk.query's functions that are data (arrays, models, generators, the
#: strategy to wrap), checked with the data, not declared as numbers.
_DATA = {
    "classifier", "estimator", "X_pool", "X", "X_labeled", "module", "committee", "proba",
    "probs", "mc_proba", "member_proba", "scores", "entropy", "embeddings", "a", "b", "pool",
    "centers", "labels", "indices", "y_pool", "characteristics", "q", "rng", "strategy", "fn",
    "kwargs", "per_row", "desc",
}  # fmt: skip
#: Checked elsewhere: map_pool is utils' (check_parallel; its bad values are attacked above),
#: subsample and the classes check at construction (attacked above and in test_subsample.py).
_NOT_DECLARED = {"map_pool", "subsample", "CommitteeClassifier", "SubsampledStrategy"}


def _is_numeric(param: inspect.Parameter) -> bool:
    default = param.default
    if isinstance(default, (bool, int, float)) and default is not inspect.Parameter.empty:
        return True
    return bool(re.search(r"\b(int|float|bool)\b", str(param.annotation)))


@pytest.mark.parametrize("name", sorted(set(Q.__all__) - _NOT_DECLARED))
def test_every_numeric_parameter_of_robustsk_query_is_declared(name):
    fn = getattr(Q, name)
    if not callable(fn) or isinstance(fn, dict):
        return
    params = inspect.signature(fn).parameters
    numeric = {p for p, v in params.items() if _is_numeric(v)}
    declared = getattr(fn, "_parameter_constraints", {})
    missing = numeric - set(declared) - _DATA
    assert not missing, f"{name}: undeclared numeric parameters {sorted(missing)}"
    for pname, allowed in declared.items():
        default = params[pname].default
        if default is not inspect.Parameter.empty:
            check_param(default, pname, allowed)


# ------------------------------------------------------------ committee strategies
class CountingLogReg(LogisticRegression):
    """A logistic regression that counts the rows it is asked about (class-wide)."""

    asked = 0

    def predict_proba(self, X):
        type(self).asked += len(X)
        return super().predict_proba(X)


@pytest.fixture(scope="module")
def committee(digits):
    X_train, X_test, y_train, _ = digits
    flat = X_train[:200].reshape(200, -1)
    members = [CountingLogReg(max_iter=200, C=c) for c in (0.1, 1.0)]
    return Q.CommitteeClassifier(members).fit(flat, y_train[:200]), X_test[:30].reshape(30, -1)


COMMITTEE = [Q.vote_entropy, Q.max_disagreement, Q.ensemble_bald]


@pytest.mark.parametrize("strategy", COMMITTEE, ids=lambda s: s.__name__)
def test_committee_strategies_refuse_bad_values_and_pools(committee, strategy):
    model, pool = committee
    assert len(strategy(model, pool, 3, random_state=0)[0]) == 3
    CountingLogReg.asked = 0
    cases = 0
    for pname, allowed in strategy._parameter_constraints.items():
        for bad in bad_values(allowed):
            kw = {} if pname == "n_instances" else {pname: bad}
            n = bad if pname == "n_instances" else 3
            with pytest.raises((TypeError, ValueError), match=_names(pname)):
                strategy(model, pool, n, **kw)
            cases += 1
    nan_pool = pool.copy()
    nan_pool[7, 11] = np.nan
    for bad_pool in (nan_pool, pool[:, :50], pool.astype(complex), pool[:, :, None]):
        with pytest.raises((TypeError, ValueError), match="X_pool"):
            strategy(model, bad_pool, 3)
        cases += 1
    assert CountingLogReg.asked == 0 and cases > 10


# ------------------------------------------------------------ the other metrics
def _metric_entries(s):
    net, X, y = s["net"], s["pool"][:6], s["y"][:6]
    smoothed = SmoothedClassifier(NoiseTrainedClassifier(max_epochs=1, verbose=0))  # unfitted
    rpr = dict(max_steps=3, random_state=0)
    adversarial = {
        "eps": [PerSample(low=0.0)],
        "alpha": [Interval(0.0, closed="neither")],
        "steps": INT1,
        "batch_size": INT1,
        "random_state": [RandomState()],
    }
    rpr_declared = {
        "max_steps": INT1,
        "batch_size": [None, *INT1],
        "chunk_size": [None, *INT1],
        "n_jobs": [NJobs()],
        "random_state": [RandomState()],
        "backend": [Options(["auto", "torch", "predict"])],
    }
    return {
        "adversarial_accuracy": (
            lambda **o: M.adversarial_accuracy(net, X, y, **{"steps": 2, **o}),
            adversarial,
        ),
        "adversarial_examples": (
            lambda **o: M.adversarial_examples(net, X, y, **{"steps": 2, **o}),
            adversarial,
        ),
        "adversarial_report": (
            lambda **o: M.adversarial_report(net, X, y, **{"steps": 2, **o}),
            adversarial,
        ),
        "corruption_accuracy": (
            lambda **o: M.corruption_accuracy(net, X, y, **{"corruptions": ["fog"], **o}),
            {"severity": [Interval(1, 5, integer=True)], "random_state": [RandomState()]},
        ),
        "rpr_steps": (lambda **o: M.rpr_steps(net, X, y, **{**rpr, **o}), rpr_declared),
        "rpr_score": (lambda **o: M.rpr_score(net, X, y, **{**rpr, **o}), rpr_declared),
        "rpr_curve": (
            lambda **o: M.rpr_curve(np.array([1, 2, 3]), **o),
            {"max_steps": [None, *INT1]},
        ),
        "certified_accuracy": (
            lambda **o: M.certified_accuracy(smoothed, X, y, **o),
            {"radius": [Interval(0.0)]},
        ),
    }


def _metric_cases():
    # the constraints do not depend on the fixture: build them from a stand-in
    stand_in = {"net": None, "pool": np.zeros((6, 1)), "y": np.zeros(6)}
    out = []
    for fname, (_, declared) in _metric_entries(stand_in).items():
        for pname, allowed in declared.items():
            for i, bad in enumerate(bad_values(allowed)):
                out.append(pytest.param(fname, pname, bad, id=f"{fname}-{pname}-{i}"))
    return out


@pytest.mark.parametrize("fname, pname, bad", _metric_cases())
def test_metrics_refuse_bad_values_naming_them(setting, fname, pname, bad):
    call, _ = _metric_entries(setting)[fname]
    with watched(setting["net"]) as seen:
        with pytest.raises((TypeError, ValueError), match=_names(pname)):
            call(**{pname: bad})
    assert seen["calls"] == 0


# ---------------------------------------------------------------------- max_epochs
class EpochCounter(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_begin(self, net, **kwargs):
        self.epochs += 1


ESTIMATORS = [
    RobustNetClassifier,
    NoiseTrainedClassifier,
    AdversarialClassifier,
    CertifiedBudgetClassifier,
]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("max_epochs", [0, -1, -100])
def test_max_epochs_below_one_is_refused_before_any_work(setting, cls, max_epochs):
    """skorch runs ``range(max_epochs)`` epochs, so 0 or less returned an untrained model."""
    counter = EpochCounter()
    est = cls(max_epochs=max_epochs, verbose=0, callbacks=[("count", counter)])
    X, y = setting["pool"], setting["y"]
    with pytest.raises(
        ValueError, match=rf"^max_epochs must be in \[1, inf\], got {max_epochs}\.$"
    ):
        est.fit(X, y)
    assert counter.epochs == 0 and not est.initialized_
    with pytest.raises(ValueError, match="max_epochs"):
        est.partial_fit(X, y)
    with pytest.raises(ValueError, match="max_epochs"):
        est.initialize()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_max_epochs_is_declared_with_its_range(cls):
    allowed = declared_constraints(cls)["max_epochs"]
    assert [c.describe() for c in allowed] == ["an int in [1, inf]"]
    assert {0, 1.5, "1"} <= {v for v in invalid_values(allowed) if isinstance(v, (int, float, str))}
    for bad, err in [(True, TypeError), (2.0, TypeError), (None, TypeError)]:
        with pytest.raises(err, match="max_epochs"):
            cls(max_epochs=bad, verbose=0).initialize()
