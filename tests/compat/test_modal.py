"""robustsk strategies and estimators inside modAL's own ActiveLearner and Committee, with
``robustsk.compat.patch_modal`` for scikit-learn >= 1.8 (CI installs modAL with --no-deps)."""

import inspect
import sys
import types

import numpy as np
import pytest
from sklearn.utils import check_X_y

modal_models = pytest.importorskip("modAL.models")

from modAL.disagreement import vote_entropy_sampling  # noqa: E402
from modAL.models import learners as modal_learners  # noqa: E402

from robustsk.compat import (  # noqa: E402
    modal as compat,
    patch_modal,
    unpatch_modal,
)
from robustsk.estimators import NoiseTrainedClassifier  # noqa: E402
from robustsk.query import coreset, dre, max_entropy, noise_entropy  # noqa: E402

#: scikit-learn >= 1.8 removed force_all_finite: modAL's teach needs the patch there.
NEEDS_PATCH = "force_all_finite" not in inspect.signature(check_X_y).parameters


@pytest.fixture
def patched():
    """modAL patched for the test, the module left as it was found afterwards."""
    was = getattr(modal_learners.check_X_y, "_robustsk_modal_shim", False)
    patch_modal()
    yield
    if not was:
        unpatch_modal()


def tiny_net(seed=0):
    return NoiseTrainedClassifier(
        max_epochs=1, batch_size=32, train_split=None, verbose=0, random_state=seed
    )


@pytest.mark.parametrize(
    "strategy, kw", [(dre, {}), (coreset, {}), (noise_entropy, {"n_draws": 5})]
)
def test_modal_learner_queries_with_robustsk_strategies(digits, strategy, kw):
    X_train, _, y_train, _ = digits
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return strategy(*args, **kwargs)

    learner = modal_models.ActiveLearner(
        estimator=tiny_net(),
        query_strategy=counted,
        X_training=X_train[:100],
        y_training=y_train[:100],
    )
    query_idx, query_inst = learner.query(X_train[100:], n_instances=5, **kw)
    assert len(calls) == 1  # unpacking (indices, scores) worked: no silent second call
    assert query_idx.shape == (5,) and len(set(query_idx.tolist())) == 5
    np.testing.assert_array_equal(query_inst, X_train[100:][query_idx])


@pytest.mark.skipif(not NEEDS_PATCH, reason="scikit-learn < 1.8 still takes force_all_finite")
def test_teach_fails_without_the_patch_and_works_with_it(digits):
    X_train, _, y_train, _ = digits
    original = check_X_y
    unpatch_modal()
    assert modal_learners.check_X_y is original
    learner = modal_models.ActiveLearner(
        tiny_net(), X_training=X_train[:50], y_training=y_train[:50]
    )
    with pytest.raises(TypeError, match="force_all_finite"):
        learner.teach(X_train[50:55], y_train[50:55])
    try:
        assert patch_modal() is True
        shim = modal_learners.check_X_y
        assert shim is not original and shim.__wrapped__ is original
        assert patch_modal() is True and modal_learners.check_X_y is shim  # idempotent
        learner.teach(X_train[50:55], y_train[50:55])
        assert learner.X_training.shape[0] == 55
    finally:
        assert unpatch_modal() is True
    assert modal_learners.check_X_y is original and unpatch_modal() is False


def test_the_shim_keeps_the_meaning_of_force_all_finite(patched):
    X, y = np.zeros((4, 2)), np.arange(4) % 2
    X[0, 0] = np.nan
    check = modal_learners.check_X_y
    check(X, y, force_all_finite=False)  # NaN allowed, as modAL asks with False
    check(X, y, force_all_finite="allow-nan")
    with pytest.raises(ValueError, match="NaN"):
        check(X, y, force_all_finite=True)
    with pytest.raises(ValueError, match="NaN"):
        check(X, y)  # scikit-learn's default, untouched


def test_patch_leaves_checks_that_still_take_force_all_finite(monkeypatch):
    """Translation only where needed: a check that accepts the old name is not wrapped."""

    def old_check(X, y, force_all_finite=True, ensure_all_finite=None):
        return force_all_finite

    fake = types.ModuleType("modAL.fake_old_sklearn")
    fake.check_array = old_check
    monkeypatch.setitem(sys.modules, "modAL.fake_old_sklearn", fake)
    patch_modal()
    try:
        assert fake.check_array is old_check
    finally:
        unpatch_modal()


def test_patch_does_nothing_without_modal(monkeypatch):
    before = modal_learners.check_X_y
    real = compat.importlib.util.find_spec
    monkeypatch.setattr(
        compat.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "modAL" else real(name, *a),
    )
    assert patch_modal() is False
    assert modal_learners.check_X_y is before


@pytest.mark.parametrize(
    "strategy, kw", [(max_entropy, {}), (dre, {"n_bins": 5}), (noise_entropy, {"n_draws": 4})]
)
def test_modal_active_learner_query_teach_loop(digits, patched, strategy, kw):
    """modAL's own ActiveLearner, unmodified: three rounds of query and teach with a
    robustsk strategy and estimator."""
    X_train, X_test, y_train, y_test = digits
    learner = modal_models.ActiveLearner(
        estimator=tiny_net(),
        query_strategy=strategy,
        X_training=X_train[:60],
        y_training=y_train[:60],
    )
    X_pool, y_pool = X_train[60:400], y_train[60:400]
    taught = []
    for round_ in range(3):
        idx, inst = learner.query(X_pool, n_instances=8, random_state=round_, **kw)
        assert idx.shape == (8,) and len(np.unique(idx)) == 8
        np.testing.assert_array_equal(inst, X_pool[idx])
        learner.teach(X_pool[idx], y_pool[idx])
        taught.append(inst)
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    assert learner.X_training.shape == (60 + 24, 1, 8, 8)
    np.testing.assert_array_equal(learner.X_training[60:], np.concatenate(taught))
    # teach refits the estimator on everything taught so far: 84 examples, 3 batches of 32
    assert learner.estimator.history_[-1]["train_batch_count"] == 3
    assert learner.score(X_test, y_test) > 0.1  # a fitted model (chance is 0.1)


@pytest.mark.parametrize("strategy", [vote_entropy_sampling, max_entropy, dre])
def test_modal_committee_query_by_committee(digits, patched, strategy):
    """modAL's Committee of two robustsk nets: modAL's disagreement strategy, or robustsk's
    on the committee's consensus probabilities; teach reaches every member."""
    X_train, _, y_train, _ = digits
    members = [
        modal_models.ActiveLearner(tiny_net(seed), X_training=X_train[:60], y_training=y_train[:60])
        for seed in (0, 1)
    ]
    committee = modal_models.Committee(learner_list=members, query_strategy=strategy)
    X_pool, y_pool = X_train[60:300], y_train[60:300]
    for _ in range(2):
        idx, inst = committee.query(X_pool, n_instances=5)
        assert len(np.unique(idx)) == 5
        np.testing.assert_array_equal(inst, X_pool[idx])
        committee.teach(X_pool[idx], y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    assert all(m.X_training.shape[0] == 70 for m in members)
    np.testing.assert_array_equal(committee.classes_, np.arange(10))
    assert committee.predict_proba(X_train[:3]).shape == (3, 10)


def test_committee_strategies_match_modal_on_its_committee(digits, patched):
    """On modAL's own Committee, robustsk's vote entropy and max disagreement give modAL's
    scores (``vote_entropy``, ``KL_max_disagreement``) row for row; the selections agree
    up to ties, and they run as the committee's query strategy."""
    from modAL.disagreement import KL_max_disagreement, vote_entropy

    from robustsk.query import (
        committee_proba,
        ensemble_bald,
        max_disagreement,
        max_disagreement_scores,
        vote_entropy as rs_vote_entropy,
        vote_entropy_scores,
    )

    X_train, X_test, y_train, _ = digits
    X, pool = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    members = [
        modal_models.ActiveLearner(model, X_training=X[s], y_training=y_train[s])
        for model, s in [
            (LogisticRegression(max_iter=300), slice(0, 120)),
            (DecisionTreeClassifier(max_depth=5, random_state=0), slice(100, 220)),
            (DecisionTreeClassifier(max_depth=3, random_state=1), slice(200, 320)),
        ]
    ]
    committee = modal_models.Committee(learner_list=members, query_strategy=rs_vote_entropy)
    probs = committee_proba(committee, pool)
    np.testing.assert_allclose(
        vote_entropy_scores(probs), vote_entropy(committee, pool), atol=1e-12
    )
    np.testing.assert_allclose(
        max_disagreement_scores(probs), KL_max_disagreement(committee, pool), rtol=1e-5, atol=1e-6
    )  # scipy's entropy renormalises each row; the members' rows sum to 1 within 1e-7
    ours, scores = rs_vote_entropy(committee, pool, 20, random_state=0)
    theirs, _ = vote_entropy_sampling(committee, pool, n_instances=20)
    modal_scores = np.sort(vote_entropy(committee, pool)[theirs])
    np.testing.assert_allclose(np.sort(scores), modal_scores)  # the same scores picked
    for strategy in (rs_vote_entropy, max_disagreement, ensemble_bald):
        committee.query_strategy = strategy
        idx, inst = committee.query(pool, n_instances=4)
        assert len(np.unique(idx)) == 4 and np.array_equal(inst, pool[idx])


@pytest.mark.parametrize("name", ["uncertainty_sampling", "margin_sampling", "entropy_sampling"])
def test_robustsk_active_learner_runs_modals_own_strategies(name, digits, tmp_path):
    """modAL's strategies take **kwargs and pass them to predict_proba: they used to fail
    with "predict_proba() got an unexpected keyword argument 'random_state'"."""
    from modAL import uncertainty
    from sklearn.linear_model import LogisticRegression

    from robustsk.active import ActiveLearner

    X, _, y, _ = digits
    X = X.reshape(len(X), -1)
    learner = ActiveLearner(
        LogisticRegression(max_iter=200),
        query_strategy=getattr(uncertainty, name),
        X_training=X[:50],
        y_training=y[:50],
        random_state=0,
        journal=tmp_path / "answers.jsonl",
    )
    idx, rows = learner.query(X[50:], n_instances=5)
    assert len(set(idx.tolist())) == 5 and rows.shape == (5, 64)
    learner.teach(X[50:][idx], y[50:][idx])
    assert learner.estimator.score(X, y) > 0.5


def test_robustsk_active_learner_runs_a_plain_function_of_modals_signature(digits):
    from sklearn.linear_model import LogisticRegression

    from robustsk.active import ActiveLearner

    def least_confident(classifier, X, n_instances=1, **kwargs):
        assert "random_state" not in kwargs  # only strategies naming it get one
        conf = classifier.predict_proba(X).max(1)
        idx = np.argsort(conf)[:n_instances]
        return idx, conf[idx]

    X, _, y, _ = digits
    X = X.reshape(len(X), -1)
    learner = ActiveLearner(
        LogisticRegression(max_iter=200),
        query_strategy=least_confident,
        X_training=X[:50],
        y_training=y[:50],
    )
    idx, _ = learner.query(X[50:], n_instances=3)
    assert len(idx) == 3


def test_patch_returns_false_when_modal_cannot_be_imported():
    """`pip install --no-deps modAL-python` leaves out pandas, which modAL imports: the
    patch used to raise there; it returns False as documented (in a fresh interpreter,
    with pandas made unimportable)."""
    import subprocess

    code = (
        "import sys\n"
        "sys.modules['pandas'] = None  # import pandas -> ImportError\n"
        "from robustsk.compat import patch_modal\n"
        "print(patch_modal())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False"]
