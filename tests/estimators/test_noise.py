import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from robustsk.estimators import NoiseTrainedClassifier, RobustNetClassifier
from robustsk.nets import LeNet5
from robustsk.perturb import GaussianNoise

FAST = dict(max_epochs=2, lr=1e-2, batch_size=32, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def fitted(digits):
    X_train, _, y_train, _ = digits
    return NoiseTrainedClassifier(sigma=0.3, **FAST).fit(X_train, y_train)


class SpyMLP(torch.nn.Module):
    """Records every training input it sees."""

    def __init__(self, input_shape, n_classes):
        super().__init__()
        self.linear = torch.nn.Linear(int(np.prod(input_shape)), n_classes)
        self.seen = []

    def forward(self, x):
        if self.training:
            self.seen.append(x.detach().clone())
        return self.linear(x.flatten(1))


# ------------------------------------------------------------------ basics
def test_fit_returns_self_and_fitted_attributes(digits, fitted):
    X_train, X_test, y_train, y_test = digits
    assert fitted.sigma_.shape == (len(X_train),) and fitted.sigma_.dtype == np.float32
    np.testing.assert_array_equal(fitted.sigma_, np.float32(0.3))  # fixed mode: levels stay
    np.testing.assert_array_equal(fitted.classes_, np.arange(10))
    assert fitted.input_shape_ == (1, 8, 8) and fitted.n_features_in_ == 64
    assert fitted.predict_proba(X_test).shape == (len(X_test), 10)
    assert fitted.score(X_test, y_test) > 0.8


def test_flat_input_string_labels_and_auto_device(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    clf = NoiseTrainedClassifier(**FAST).fit(X_train.reshape(len(X_train), -1), names[y_train])
    pred = clf.predict(X_test.reshape(len(X_test), -1))
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    assert clf.score(X_test.reshape(len(X_test), -1), names[y_test]) > 0.8
    assert clf.get_params()["device"] == "auto"
    assert clf.device == ("cuda" if torch.cuda.is_available() else "cpu")
    # images and flat rows of the same size are both accepted after fitting on flat input
    np.testing.assert_array_equal(clf.predict(X_test), pred)


def test_module_class_gets_shapes_from_the_data(digits):
    X_train, X_test, y_train, y_test = digits
    clf = NoiseTrainedClassifier(LeNet5, **FAST).fit(X_train, y_train)
    assert isinstance(clf.module_, LeNet5) and clf.module_.input_shape == (1, 8, 8)
    assert clf.score(X_test, y_test) > 0.5


def test_random_state_reproducible_and_global_rng_untouched(digits):
    X_train, X_test, y_train, _ = digits
    before = torch.get_rng_state()
    a = NoiseTrainedClassifier(**FAST).fit(X_train, y_train).predict_proba(X_test)
    assert torch.equal(torch.get_rng_state(), before)
    b = NoiseTrainedClassifier(**FAST).fit(X_train, y_train).predict_proba(X_test)
    np.testing.assert_array_equal(a, b)
    c = NoiseTrainedClassifier(**{**FAST, "random_state": 1}).fit(X_train, y_train)
    assert not np.array_equal(a, c.predict_proba(X_test))


# ------------------------------------------------------- sklearn machinery
def test_seeded_fits_in_concurrent_threads_match_a_sequential_fit(digits):
    """Threads share torch's global generator: seeded fits must not mix their draws."""
    from concurrent.futures import ThreadPoolExecutor

    X_train, _, y_train, _ = digits
    est = NoiseTrainedClassifier(max_epochs=2, batch_size=32, verbose=0, random_state=0)
    reference = clone(est).fit(X_train, y_train).module_.state_dict()
    with ThreadPoolExecutor(6) as pool:
        fits = list(pool.map(lambda _: clone(est).fit(X_train, y_train), range(6)))
    for fit in fits:
        for name, value in fit.module_.state_dict().items():
            torch.testing.assert_close(value, reference[name], rtol=0, atol=0)


def test_clone_pickle_joblib(fitted, digits, tmp_path):
    _, X_test, _, _ = digits
    params = clone(fitted).get_params()
    assert params["sigma"] == 0.3 and params["device"] == "auto"
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(restored.predict_proba(X_test), fitted.predict_proba(X_test))
    np.testing.assert_array_equal(restored.sigma_, fitted.sigma_)
    joblib.dump(fitted, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict(X_test), fitted.predict(X_test))
    assert loaded.get_params()["device"] == "auto"


def test_grid_search_over_sigma(digits):
    X_train, _, y_train, _ = digits
    search = GridSearchCV(
        NoiseTrainedClassifier(**{**FAST, "max_epochs": 1}), {"sigma": [0.1, 0.4]}, cv=2
    ).fit(X_train[:400], y_train[:400])
    assert search.best_params_["sigma"] in (0.1, 0.4)
    assert search.best_estimator_.sigma_[0] == np.float32(search.best_params_["sigma"])
    assert len(search.cv_results_["mean_test_score"]) == 2


def test_pipeline_and_cross_val_score(digits):
    X_train, _, y_train, _ = digits
    flat = X_train.reshape(len(X_train), -1) * 16  # raw digit scale 0..16
    pipe = make_pipeline(FunctionTransformer(lambda X: X / 16.0), NoiseTrainedClassifier(**FAST))
    scores = cross_val_score(pipe, flat[:600], y_train[:600], cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.6


# ----------------------------------------------------- per-example levels
def test_sample_with_sigma_zero_is_never_perturbed():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.2, 0.8, size=(40, 6)).astype(np.float32)
    y = np.arange(40) % 2
    sample_sigma = np.where(np.arange(40) < 20, 0.0, 0.3)
    clf = NoiseTrainedClassifier(
        SpyMLP, clean_fraction=0.0, max_epochs=3, batch_size=8, verbose=0, random_state=0
    )
    clf.fit(X, y, sample_sigma=sample_sigma)
    seen = torch.cat(clf.module_.seen).numpy()  # every training input, 3 epochs
    exact = (seen[:, None, :] == X[None, :, :]).all(axis=2)  # (n_seen, 40)
    # each sigma-0 example is seen unchanged once per epoch; sigma-0.3 ones never are
    np.testing.assert_array_equal(exact[:, :20].sum(axis=0), 3)
    assert exact[:, 20:].sum() == 0
    np.testing.assert_array_equal(clf.sigma_, sample_sigma.astype(np.float32))


def test_clean_fraction_one_never_perturbs():
    X = np.random.default_rng(0).uniform(0.2, 0.8, size=(16, 4)).astype(np.float32)
    clf = NoiseTrainedClassifier(
        SpyMLP, sigma=0.5, clean_fraction=1.0, max_epochs=1, verbose=0, random_state=0
    ).fit(X, np.arange(16) % 2)
    seen = torch.cat(clf.module_.seen).numpy()
    assert (seen[:, None, :] == X[None]).all(axis=2).any(axis=1).all()


def test_adaptive_sigma_moves_in_the_documented_direction():
    # One input point, labels 0 (36 copies) and 1 (4 copies): the model predicts 0, so the
    # noisy copies of label-0 examples are classified correctly (their level rises) and
    # those of label-1 examples never are (their level falls to the lower bound).
    X = np.full((40, 8), 0.5, dtype=np.float32)
    y = np.r_[np.zeros(36, int), np.ones(4, int)]
    clf = NoiseTrainedClassifier(
        sigma=0.3,
        sigma_mode="adaptive",
        sigma_step=0.05,
        sigma_bounds=(0.1, 0.6),
        clean_fraction=0.0,
        lr=0.05,
        max_epochs=8,
        batch_size=8,
        verbose=0,
        random_state=0,
    )
    clf.fit(X, y)
    assert clf.sigma_[:36].mean() > 0.45
    np.testing.assert_allclose(clf.sigma_[36:], 0.1)
    assert clf.sigma_.min() >= 0.1 and clf.sigma_.max() <= 0.6


def test_partial_fit_carries_adaptive_levels_over(digits):
    X_train, _, y_train, _ = digits
    clf = NoiseTrainedClassifier(sigma_mode="adaptive", **FAST).fit(X_train, y_train)
    levels = clf.sigma_.copy()
    clf.partial_fit(X_train, y_train)
    assert not np.array_equal(levels, 0.3)
    assert np.abs(clf.sigma_ - levels).max() <= 2 * clf.sigma_step + 1e-6


def test_noise_training_beats_standard_under_gaussian_noise(digits):
    X_train, X_test, y_train, y_test = digits
    params = dict(max_epochs=8, lr=1e-2, batch_size=16, verbose=0, random_state=0)
    standard = RobustNetClassifier(**params).fit(X_train, y_train)
    noisy = NoiseTrainedClassifier(sigma=0.5, **params).fit(X_train, y_train)
    X_noise = GaussianNoise(0.5, random_state=0)(X_test)
    gap = noisy.score(X_noise, y_test) - standard.score(X_noise, y_test)
    assert gap > 0.15  # measured: 0.50 -> 0.73
    assert noisy.score(X_test, y_test) > standard.score(X_test, y_test) - 0.03


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, match",
    [
        (dict(sigma=-0.1), "sigma must be in"),
        (dict(clean_fraction=1.5), "clean_fraction must be in"),
        (dict(clean_fraction=-0.1), "clean_fraction must be in"),
        (dict(sigma_mode="cat"), "sigma_mode must be one of"),
        (dict(sigma_step=0), "sigma_step must be in"),
        (dict(sigma_bounds=(0.5, 0.1)), "sigma_bounds"),
        (dict(clip=(1, 0)), "clip"),
    ],
)
def test_bad_parameters_fail_before_training(params, match, digits):
    X_train, _, y_train, _ = digits
    clf = NoiseTrainedClassifier(**{**FAST, **params})
    with pytest.raises(ValueError, match=match):
        clf.fit(X_train, y_train)
    assert not clf.initialized_


def test_bad_data_fails_before_training(digits):
    X_train, _, y_train, _ = digits
    X = X_train[:50].copy()
    y = y_train[:50]
    for bad, match in [(np.nan, "NaN"), (np.inf, "infinity")]:
        Xb = X.copy()
        Xb[3, 0, 2, 2] = bad
        clf = NoiseTrainedClassifier(**FAST)
        with pytest.raises(ValueError, match=match):
            clf.fit(Xb, y)
        assert not clf.initialized_
    cases = [
        (dict(X=X, y=np.zeros(50, int)), "only one class"),
        (dict(X=X, y=y, sample_sigma=np.full(49, 0.1)), r"sample_sigma must .* shape \(50,\)"),
        (dict(X=X, y=y, sample_sigma=np.full(50, -0.1)), "sample_sigma must be >= 0"),
        (dict(X=X, y=y[:40]), "inconsistent numbers of samples"),
        (dict(X=X[:, 0, 0], y=y), None),  # (n, 8) rows are fine
        (dict(X=X[:, 0], y=y), "X must have shape"),
        (dict(X=X, y=y + 0.5), "Unknown label type"),
    ]
    for kwargs, match in cases:
        clf = NoiseTrainedClassifier(**FAST)
        if match is None:
            clf.fit(**kwargs)
            continue
        with pytest.raises(ValueError, match=match):
            clf.fit(**kwargs)
        assert not clf.initialized_


def test_wrong_feature_count_at_predict(fitted):
    with pytest.raises(
        ValueError, match="X has 10 features, but NoiseTrainedClassifier is expecting 64"
    ):
        fitted.predict(np.zeros((2, 10), dtype=np.float32))


def test_data_outside_clip_warns(digits):
    X_train, _, y_train, _ = digits
    with pytest.warns(UserWarning, match="outside clip"):
        NoiseTrainedClassifier(**{**FAST, "max_epochs": 1}).fit(X_train[:64] * 16, y_train[:64])
