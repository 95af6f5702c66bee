"""scikit-learn's ``n_jobs`` convention: None means one job, and ``n_jobs`` only decides
where blocks run, never what is drawn. Every strategy (and RPR, and the corrupted sets)
gives the same answer for ``n_jobs=None``, ``1`` and ``2`` under a fixed ``random_state``."""

import inspect
import threading

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from robustsk import query as Q
from robustsk.datasets import make_corrupted
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.metrics import rpr_steps
from robustsk.perturb import RandomPixels
from robustsk.query import map_pool

#: Small, fast settings for the strategies that take more than the defaults.
EXTRA = {
    "noise_entropy": {"sample_sigma": 0.3, "n_draws": 8},
    "noise_uncertainty": {"sample_sigma": 0.3, "n_draws": 8},
    "bald": {"n_draws": 4},
    "dropout_entropy": {"n_draws": 4},
    "dfal": {"max_iter": 5},
}

PARALLEL_STRATEGIES = sorted(
    name
    for name, fn in {**Q.ROBUST_AL_STRATEGIES, **Q.AQPL_STRATEGIES}.items()
    if "n_jobs" in inspect.signature(fn).parameters
)


def test_every_strategy_with_n_jobs_is_listed():
    # every strategy that scores the pool with a model takes n_jobs (random has no model);
    # a new one is tested below without being added by hand
    every = {**Q.ROBUST_AL_STRATEGIES, **Q.AQPL_STRATEGIES}
    assert set(PARALLEL_STRATEGIES) == set(every) - {"random"}
    assert set(EXTRA) <= set(PARALLEL_STRATEGIES)


@pytest.fixture(scope="module")
def setting(digits):
    X_train, X_test, y_train, _ = digits
    net = NoiseTrainedClassifier(max_epochs=1, lr=1e-2, batch_size=32, verbose=0, random_state=0)
    return net.fit(X_train[:300], y_train[:300]), X_test[:90]


#: The MC-dropout strategies' adaptive passes too (noise_entropy and noise_uncertainty draw
#: adaptively by default): each round seeds its blocks afresh from the same generator.
ADAPTIVE = [(name, {"n_draws": 12, "adaptive": True}) for name in ("bald", "dropout_entropy")]


@pytest.mark.parametrize(
    ("name", "extra"),
    [(name, EXTRA.get(name, {})) for name in PARALLEL_STRATEGIES] + ADAPTIVE,
    ids=PARALLEL_STRATEGIES + [f"{name}-adaptive" for name, _ in ADAPTIVE],
)
def test_strategy_gives_the_same_selection_for_none_one_and_two_jobs(setting, name, extra):
    net, pool = setting
    strategy = {**Q.ROBUST_AL_STRATEGIES, **Q.AQPL_STRATEGIES}[name]

    def call(n_jobs):
        # three blocks of 32 rows: the seeded strategies draw one seed per block
        rng = np.random.default_rng(5)  # a Generator: its later draws (ties) must line up too
        kw = dict(random_state=rng, n_jobs=n_jobs, block_size=32, **extra)
        return strategy(net, pool, 10, **kw)

    none, one, two = call(None), call(1), call(2)
    np.testing.assert_array_equal(none[0], one[0])  # the same process: bit for bit
    np.testing.assert_array_equal(none[1], one[1])
    np.testing.assert_array_equal(two[0], one[0])  # worker processes
    # worker processes run torch with other thread counts: float sums may round differently
    np.testing.assert_allclose(two[1], one[1], rtol=1e-5)


def test_rpr_gives_the_same_steps_for_none_one_and_two_jobs(digits):
    X_train, X_test, y_train, y_test = digits
    flat_train, flat_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    model = LogisticRegression(max_iter=300).fit(flat_train, y_train)
    kw = dict(perturbation=RandomPixels(4), max_steps=30, random_state=0, chunk_size=100)
    none = rpr_steps(model, flat_test, y_test, **kw)
    one = rpr_steps(model, flat_test, y_test, n_jobs=1, **kw)
    two = rpr_steps(model, flat_test, y_test, n_jobs=2, **kw)
    np.testing.assert_array_equal(none, one)
    np.testing.assert_array_equal(two, one)
    assert 0 < np.mean(one == 30) < 1
    # without random_state, the blocks' seeds come from the perturbation's own stream
    own = dict(kw, random_state=None)
    del own["perturbation"]
    a = rpr_steps(model, flat_test, y_test, perturbation=RandomPixels(4, random_state=1), **own)
    b = rpr_steps(
        model, flat_test, y_test, perturbation=RandomPixels(4, random_state=1), n_jobs=2, **own
    )
    np.testing.assert_array_equal(a, b)


def test_make_corrupted_gives_the_same_sets_for_none_one_and_two_jobs(digits):
    X = digits[1][:6]
    sets = {
        n_jobs: make_corrupted(X, ["snow", "fog"], severity=2, random_state=3, n_jobs=n_jobs)
        for n_jobs in (None, 1, 2)
    }
    for name in ("snow", "fog"):
        np.testing.assert_array_equal(sets[None][name], sets[1][name])
        np.testing.assert_array_equal(sets[2][name], sets[1][name])
    with pytest.raises(ValueError, match="n_jobs"):
        make_corrupted(X, ["fog"], n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs"):
        make_corrupted(X, ["fog"], n_jobs="2")


def _noise(x, random_state):
    return np.random.default_rng(random_state).normal(size=len(x))


def test_map_pool_none_is_one_job_with_the_same_block_seeds():
    X = np.zeros((10, 2))
    generator = np.random.default_rng(7)
    none = map_pool(_noise, X, block_size=3, random_state=generator, seeded=True)
    after_none = generator.random()
    generator = np.random.default_rng(7)
    two = map_pool(_noise, X, n_jobs=2, block_size=3, random_state=generator, seeded=True)
    np.testing.assert_array_equal(none, two)
    assert generator.random() == after_none  # one draw from the generator, whatever n_jobs
    other = map_pool(_noise, X, block_size=5, random_state=7, seeded=True)
    assert not np.array_equal(none, other)  # the blocks, not n_jobs, fix the draws


def test_map_pool_none_follows_the_active_joblib_config():
    """As in scikit-learn, ``n_jobs=None`` means 1 unless a joblib context says otherwise."""
    X = np.arange(8.0).reshape(8, 1)
    where = []

    def record(x):
        where.append(threading.get_ident())
        return x[:, 0]

    out = map_pool(record, X, block_size=2)
    assert set(where) == {threading.get_ident()}  # one job: this thread
    where.clear()
    with joblib.parallel_config(backend="threading", n_jobs=2):
        threaded = map_pool(record, X, block_size=2)
    assert threading.get_ident() not in where  # the context's workers ran the blocks
    np.testing.assert_array_equal(out, threaded)


def test_map_pool_progress_bar_is_advanced_by_the_blocks_or_by_fn(capsys, monkeypatch):
    monkeypatch.setattr("robustsk.utils._progress.is_interactive", lambda stream: True)
    X = np.arange(12.0).reshape(12, 1)
    seen = []

    def fine(x, progress):
        seen.append(progress)
        if progress is not None:
            progress.update(len(x))
        return x[:, 0]

    out = map_pool(fine, X, block_size=5, verbose=1, desc="unit", pass_progress=True)
    np.testing.assert_array_equal(out, X[:, 0])
    assert len(seen) == 3 and all(p is seen[0] and p is not None for p in seen)
    assert seen[0].n == 12
    map_pool(fine, X, block_size=5, pass_progress=True)  # verbose=0: no bar to advance
    assert seen[-1] is None
    err = capsys.readouterr().err
    assert "unit" in err and "12/12" in err
