"""Scale-out through joblib: grid search over noise levels, RPR scoring, parallel RPR
blocks and parallel pool scoring, on joblib's own workers and on a dask.distributed
LocalCluster."""

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from robustsk.estimators import NoiseTrainedClassifier
from robustsk.metrics import RPRScorer, rpr_steps
from robustsk.perturb import RandomPixels
from robustsk.query import bald, dre, map_pool, noise_entropy


@pytest.fixture(scope="module")
def flat(digits):
    X_train, X_test, y_train, y_test = digits
    return X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1), y_train, y_test


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


def test_parallel_rpr_blocks_give_the_same_steps_for_any_n_jobs(flat, cluster):
    X_train, X_test, y_train, y_test = flat
    model = LogisticRegression(max_iter=300).fit(X_train, y_train)
    kw = dict(perturbation=RandomPixels(4), max_steps=30, random_state=0, chunk_size=100)
    one = rpr_steps(model, X_test, y_test, n_jobs=1, **kw)
    two = rpr_steps(model, X_test, y_test, n_jobs=2, **kw)
    with joblib.parallel_backend("dask"):
        on_dask = rpr_steps(model, X_test, y_test, n_jobs=-1, **kw)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, on_dask)
    assert one.shape == (len(y_test),) and 0 < np.mean(one == 30) < 1
    # n_jobs=None: one job, at least the same law (the same draws once RPR always uses blocks)
    single = rpr_steps(model, X_test, y_test, **kw)
    assert abs(np.mean(single == 30) - np.mean(one == 30)) < 0.1
    with pytest.raises(TypeError, match="n_jobs"):
        rpr_steps(model, X_test, y_test, n_jobs=1.5, **kw)


def test_pool_scoring_on_dask_matches_joblib_processes(digits, cluster):
    """Seeded (noise entropy, BALD) and deterministic (DRE) pool scoring: blocks on the
    Dask cluster's workers give the same selection as joblib's processes."""
    X_train, X_test, y_train, _ = digits
    net = NoiseTrainedClassifier(
        max_epochs=2, lr=1e-2, batch_size=32, verbose=0, random_state=0
    ).fit(X_train[:300], y_train[:300])
    calls = {
        "noise_entropy": lambda **kw: noise_entropy(
            net, X_test, 20, sample_sigma=0.3, n_draws=10, random_state=0, **kw
        ),
        "bald": lambda **kw: bald(net, X_test, 20, random_state=0, **kw),
        "dre": lambda **kw: dre(net, X_test, 20, random_state=0, **kw),
    }
    for name, call in calls.items():
        local = call(n_jobs=2, block_size=64)
        with joblib.parallel_backend("dask"):
            on_dask = call(n_jobs=-1, block_size=64)
        np.testing.assert_array_equal(local[0], on_dask[0], err_msg=name)
        np.testing.assert_allclose(local[1], on_dask[1], rtol=1e-5, err_msg=name)
    # the deterministic strategy needs no blocks to give the same answer
    np.testing.assert_array_equal(calls["dre"]()[0], calls["dre"](n_jobs=2, block_size=64)[0])


def test_map_pool_blocks_rows_seeds_and_tuples():
    X = np.arange(20.0).reshape(10, 2)

    def score(x, sigma, random_state):
        noise = np.random.default_rng(random_state).normal(size=len(x))
        return x.sum(1) * sigma, noise

    sigma = np.linspace(0, 1, 10)
    kw = dict(random_state=7, seeded=True, per_row={"sigma": sigma})
    a = map_pool(score, X, n_jobs=1, block_size=3, **kw)
    b = map_pool(score, X, n_jobs=2, block_size=3, **kw)
    assert isinstance(a, tuple) and a[0].shape == a[1].shape == (10,)
    np.testing.assert_allclose(a[0], X.sum(1) * sigma)
    np.testing.assert_array_equal(a[1], b[1])  # one spawned seed per block, whoever runs it
    c = map_pool(score, X, n_jobs=1, block_size=5, **kw)
    assert not np.array_equal(a[1], c[1])  # the blocks, not n_jobs, fix the draws
    whole = map_pool(score, X, block_size=3, **kw)  # n_jobs=None: one job, the same blocks
    np.testing.assert_array_equal(whole[1], a[1])
    np.testing.assert_allclose(whole[0], a[0])
    empty = map_pool(lambda x: x.sum(1), X[:0], n_jobs=2)
    assert empty.shape == (0,)
    with pytest.raises(ValueError, match="n_jobs"):
        map_pool(lambda x: x, X, n_jobs=0)
    with pytest.raises(ValueError, match="block_size"):
        map_pool(lambda x: x, X, n_jobs=2, block_size=0)


def test_grid_search_over_noise_levels_with_rpr_scoring_on_dask(digits, cluster):
    X_train, _, y_train, _ = digits
    X, y = X_train[:400], y_train[:400]
    grid = dict(sigma=[0.0, 0.4])
    scoring = {"accuracy": "accuracy", "rpr": RPRScorer(max_steps=20, random_state=0)}
    est = NoiseTrainedClassifier(max_epochs=2, lr=1e-2, batch_size=32, verbose=0, random_state=0)

    def search(n_jobs):
        return GridSearchCV(est, grid, scoring=scoring, refit="rpr", cv=2, n_jobs=n_jobs).fit(X, y)

    sequential = search(1)
    from distributed import get_task_stream

    with joblib.parallel_backend("dask"), get_task_stream(cluster) as tasks:
        distributed = search(2)
    assert len(tasks.data) >= 4  # the 2 x 2 fits ran as tasks on the cluster
    # the same fits and scores; torch's float reductions may differ across worker threads,
    # so a borderline prediction can flip: equal up to a few test points
    for key in ("mean_test_accuracy", "mean_test_rpr"):
        np.testing.assert_allclose(
            distributed.cv_results_[key], sequential.cv_results_[key], atol=0.03
        )
    assert len(distributed.cv_results_["params"]) == 2


def test_accelerate_path_keeps_the_robust_training_step(digits):
    """skorch's AccelerateMixin (multi-GPU) with a robust estimator: the robust hook stays,
    the backward pass goes through the accelerator (here on the CPU)."""
    accelerate = pytest.importorskip("accelerate")
    from skorch.hf import AccelerateMixin

    from robustsk.estimators import AdversarialClassifier

    calls = []

    class AcceleratedAdversarialClassifier(AccelerateMixin, AdversarialClassifier):
        train_step_single = AdversarialClassifier.train_step_single

        def backward_loss(self, loss):
            calls.append(1)
            self.accelerator.backward(loss)

    X_train, X_test, y_train, y_test = digits
    params = dict(
        eps=0.1,
        alpha=0.05,
        steps=3,
        max_epochs=2,
        lr=1e-2,
        batch_size=64,
        verbose=0,
        random_state=0,
        device=None,
    )
    net = AcceleratedAdversarialClassifier(accelerator=accelerate.Accelerator(cpu=True), **params)
    net.fit(X_train, y_train)
    plain = AdversarialClassifier(**{**params, "device": "cpu"}).fit(X_train, y_train)
    assert len(calls) == 2 * int(np.ceil(len(y_train) / 64))
    assert net.score(X_test, y_test) > 0.8
    np.testing.assert_allclose(net.eps_, plain.eps_)
