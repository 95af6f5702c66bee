"""RPR: the step counts, the batched engine against the sequential algorithm, the score and
scorer, curves, robust-subset selection and the reproduction."""

import csv
import gzip
import struct
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score

from robustsk.estimators import NoiseTrainedClassifier, RobustNetClassifier
from robustsk.metrics import RPRScorer, plot_rpr_curve, rpr_curve, rpr_score, rpr_steps
from robustsk.metrics._rpr_engine import block_size
from robustsk.nets import MLP
from robustsk.perturb import GaussianNoise, RandomPixels
from robustsk.reproduce import RPRConfig, run_rpr
from robustsk.selection import RobustSubsetSelector

# ----------------------------------------------------------------------- helpers


class ConstantModel(ClassifierMixin, BaseEstimator):
    """Predicts the first class for everything: no perturbation can change its answer."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.calls_ = 0
        return self

    def predict(self, X):
        self.calls_ += 1
        return np.full(len(X), self.classes_[0])


class ExactMatchModel(ClassifierMixin, BaseEstimator):
    """Right only on the exact training rows: any change to an input flips its answer."""

    def fit(self, X, y):
        self.X_ = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        self.y_ = np.asarray(y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        eq = (X[:, None, :] == self.X_[None]).all(axis=2)  # (rows, n_train)
        return np.where(eq.any(1), self.y_[eq.argmax(1)], -1)  # -1: no label is ever right


class FirstPixelModel(ClassifierMixin, BaseEstimator):
    """Class 0 while feature 0 keeps its value 0.5, else class 1.

    Under ``RandomPixels(k)`` on d features a draw changes feature 0 with
    probability ``p = 1 - (1 - 1/d)**k``, so the step count is exactly a
    geometric variable on 1, 2, ... capped at max_steps:
    ``P(steps >= m) = (1 - p)**(m - 1)``.
    """

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return np.where(np.asarray(X)[:, 0] == np.float32(0.5), 0, 1)


def sequential_rpr(estimator, X, y, perturbation, max_steps, seed):
    """The paper's algorithm, one point and one draw at a time (the reference)."""
    gen = torch.Generator().manual_seed(seed)
    steps = np.zeros(len(X), dtype=np.int64)
    for i in range(len(X)):
        x = X[i : i + 1]
        if estimator.predict(x)[0] != y[i]:
            continue
        while steps[i] < max_steps:
            steps[i] += 1  # draws taken, the misclassified one included
            if estimator.predict(perturbation(x, random_state=gen))[0] != y[i]:
                break
    return steps


@pytest.fixture(scope="module")
def flat_digits(digits):
    X_train, X_test, y_train, y_test = digits
    return (X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1), y_train, y_test)


@pytest.fixture(scope="module")
def logreg(flat_digits):
    X_train, _, y_train, _ = flat_digits
    return LogisticRegression(max_iter=300).fit(X_train, y_train)


@pytest.fixture(scope="module")
def tiny_net(digits):
    X_train, _, y_train, _ = digits
    return RobustNetClassifier(
        MLP,
        module__hidden_units=(32,),
        max_epochs=2,
        lr=1e-2,
        verbose=0,
        random_state=0,
        device="cpu",
    ).fit(X_train, y_train)


# --------------------------------------------------------------- the definition


def test_constant_model_is_fully_robust(flat_digits):
    X, _, _, _ = flat_digits
    y = np.zeros(len(X), dtype=int)
    model = ConstantModel().fit(X, np.r_[y[:-1], 1])
    steps = rpr_steps(model, X[:200], y[:200], max_steps=30, random_state=0)
    assert (steps == 30).all()
    assert rpr_score(model, X[:200], y[:200], max_steps=30, random_state=0) == 1.0


def test_misclassified_points_count_zero_and_are_not_robust(flat_digits):
    X, _, _, _ = flat_digits
    y = np.r_[np.zeros(50, dtype=int), np.ones(50, dtype=int)]
    model = ConstantModel().fit(X[:100], y)  # always predicts 0
    steps = rpr_steps(model, X[:100], y, max_steps=10, random_state=0)
    assert (steps[:50] == 10).all() and (steps[50:] == 0).all()
    assert rpr_score(model, X[:100], y, max_steps=10, random_state=0) == 0.5


def test_model_that_flips_on_any_change_scores_zero(flat_digits):
    X, _, y, _ = flat_digits
    X, y = X[:60], y[:60]
    model = ExactMatchModel().fit(X, y)
    assert (model.predict(X) == y).all()  # right on the clean points...
    steps = rpr_steps(model, X, y, max_steps=20, random_state=0)
    assert (steps == 1).all()  # ...wrong on the first draw
    assert rpr_score(model, X, y, max_steps=20, random_state=0) == 0.0


def test_steps_follow_the_exact_capped_geometric_law():
    d, k, max_steps, n = 64, 8, 30, 4000
    X = np.random.default_rng(0).random((n, d)).astype(np.float32)
    X[:, 0] = 0.5
    y = np.zeros(n, dtype=int)
    model = FirstPixelModel().fit(X, y)
    p = 1 - (1 - 1 / d) ** k
    steps = rpr_steps(
        model,
        X,
        y,
        perturbation=RandomPixels(k),
        max_steps=max_steps,
        random_state=0,
        batch_size=1000,
    )
    robust = (1 - p) ** (max_steps - 1)  # fooled by the last draw, or never
    assert abs(np.mean(steps == max_steps) - robust) < 4 * np.sqrt(robust * (1 - robust) / n)
    assert steps.min() >= 1  # every point is right on its clean input
    # chi-square over the step values against the capped geometric probabilities
    pmf = np.r_[p * (1 - p) ** np.arange(max_steps - 1), robust]  # P(steps = 1..max_steps)
    observed = np.bincount(steps, minlength=max_steps + 1)[1:]
    assert stats.chisquare(observed, pmf * n).pvalue > 1e-3


# ------------------------------------------------------ engine vs sequential


def test_batched_engine_agrees_with_the_sequential_algorithm(logreg, flat_digits):
    _, X_test, _, y_test = flat_digits
    X = np.repeat(X_test[:120], 3, axis=0)  # three runs of every point
    y = np.repeat(y_test[:120], 3)
    scheme = RandomPixels(4)
    max_steps = 40
    batched = rpr_steps(logreg, X, y, perturbation=scheme, max_steps=max_steps, random_state=0)
    sequential = sequential_rpr(logreg, X, y, scheme, max_steps, seed=1)
    assert abs(np.mean(batched == max_steps) - np.mean(sequential == max_steps)) < 0.06
    assert abs(batched.mean() - sequential.mean()) < 0.1 * max_steps
    assert stats.ks_2samp(batched, sequential).pvalue > 0.01
    # misclassified points get 0 in both
    wrong = logreg.predict(X) != y
    assert (batched[wrong] == 0).all() and (sequential[wrong] == 0).all()


@pytest.mark.parametrize("batch_size, chunk_size", [(7, 5), (64, None), (5000, 30)])
def test_engine_sizes_change_the_draws_not_the_law(logreg, flat_digits, batch_size, chunk_size):
    _, X_test, _, y_test = flat_digits
    X, y = np.repeat(X_test[:100], 3, axis=0), np.repeat(y_test[:100], 3)
    reference = rpr_steps(logreg, X, y, perturbation=RandomPixels(4), max_steps=40, random_state=0)
    steps = rpr_steps(
        logreg,
        X,
        y,
        perturbation=RandomPixels(4),
        max_steps=40,
        random_state=1,
        batch_size=batch_size,
        chunk_size=chunk_size,
    )
    assert abs(np.mean(steps == 40) - np.mean(reference == 40)) < 0.07
    assert stats.ks_2samp(steps, reference).pvalue > 0.01


def test_block_sizes_ramp_up_and_respect_the_cap():
    assert block_size(1000, 0, 512, 250) == 1  # more points than rows: one draw each
    assert block_size(10, 0, 512, 250) == 1  # the first draws are one at a time
    assert block_size(10, 8, 512, 250) == 8  # then at most double
    assert block_size(10, 200, 512, 250) == 50  # never past max_steps
    assert block_size(100, 64, 512, 250) == 5  # and within one batch


def test_torch_path_equals_predict_path_and_is_reproducible(tiny_net, digits):
    _, X_test, _, y_test = digits
    X_test, y_test = X_test[:150], y_test[:150]
    kw = dict(perturbation=RandomPixels(4), max_steps=20, random_state=3, batch_size=256)
    tiny_net.module_.train()
    fast = rpr_steps(tiny_net, X_test, y_test, backend="torch", **kw)
    assert tiny_net.module_.training  # evaluated in eval mode, the mode restored after
    slow = rpr_steps(tiny_net, X_test, y_test, backend="predict", **kw)
    # same CPU generator, same draws, same argmax: identical step counts
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast, rpr_steps(tiny_net, X_test, y_test, **kw))
    # flat input to an image-trained net, and a tensor
    flat = rpr_steps(tiny_net, X_test.reshape(len(X_test), -1), y_test, **kw)
    np.testing.assert_array_equal(fast, flat)
    np.testing.assert_array_equal(fast, rpr_steps(tiny_net, torch.from_numpy(X_test), y_test, **kw))


def test_plain_skorch_net_takes_the_torch_path(flat_digits):
    from skorch import NeuralNetClassifier

    X, X_test, y, y_test = flat_digits
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    net = NeuralNetClassifier(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=2,
        lr=0.1,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    kw = dict(perturbation=RandomPixels(4), max_steps=10, random_state=0, batch_size=256)
    fast = rpr_steps(net, X_test[:100], y_test[:100], **kw)
    np.testing.assert_array_equal(
        fast, rpr_steps(net, X_test[:100], y_test[:100], backend="predict", **kw)
    )


def test_perturbation_stream_and_other_schemes(logreg, flat_digits):
    _, X_test, _, y_test = flat_digits
    X, y = X_test[:80], y_test[:80]
    a = rpr_steps(logreg, X, y, perturbation=RandomPixels(4, random_state=5), max_steps=20)
    b = rpr_steps(logreg, X, y, perturbation=RandomPixels(4, random_state=5), max_steps=20)
    np.testing.assert_array_equal(a, b)  # random_state=None: the perturbation's own seed
    gauss = rpr_steps(logreg, X, y, perturbation=GaussianNoise(0.3), max_steps=20, random_state=0)
    assert gauss.shape == (80,)

    def salt(X, random_state=None):  # any numpy callable
        rng = np.random.default_rng(random_state)
        return np.where(rng.random(X.shape) < 0.05, 1.0, X)

    s1 = rpr_steps(logreg, X, y, perturbation=salt, max_steps=20, random_state=0)
    s2 = rpr_steps(logreg, X, y, perturbation=salt, max_steps=20, random_state=0)
    np.testing.assert_array_equal(s1, s2)
    assert 0 < np.mean(s1 == 20) < 1


def test_progress_bar_only_when_verbose(logreg, flat_digits, capsys, monkeypatch):
    _, X_test, _, y_test = flat_digits
    monkeypatch.setattr("robustsk.utils._progress.is_interactive", lambda stream: True)
    rpr_steps(logreg, X_test[:20], y_test[:20], max_steps=5, random_state=0, verbose=0)
    assert "rpr" not in capsys.readouterr().err
    rpr_steps(logreg, X_test[:20], y_test[:20], max_steps=5, random_state=0, verbose=1)
    assert "20/20" in capsys.readouterr().err


# ----------------------------------------------------------------- bad input


class CountingModel(ConstantModel):
    pass


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(X="nan"), ValueError, "X contains NaN"),
        (dict(y="short"), ValueError, "same number of samples"),
        (dict(max_steps=0), ValueError, r"max_steps must be in \[1, inf\], got 0"),
        (dict(max_steps=2.5), TypeError, "max_steps must be an int"),
        (dict(perturbation=object()), TypeError, "perturbation must be .* no __call__"),
        (dict(perturbation=RandomPixels(k=0)), ValueError, "k must be in"),
        (dict(perturbation=RandomPixels(clip=None)), ValueError, "clip must be a pair"),
        (dict(perturbation=GaussianNoise(np.ones(3))), ValueError, "one sigma per sample"),
        (dict(batch_size=0), ValueError, "batch_size must be in"),
        (dict(chunk_size=-1), ValueError, "chunk_size must be in"),
        (dict(backend="gpu"), ValueError, "backend must be one of"),
        (dict(backend="torch"), TypeError, "needs a fitted torch network"),
        (dict(random_state="seed"), TypeError, "random_state must be"),
        (dict(y="unknown"), ValueError, "labels the estimator does not know"),
    ],
)
def test_bad_input_is_rejected_before_any_work(flat_digits, change, error, match):
    X, _, _, _ = flat_digits
    X, y = X[:10].copy(), np.zeros(10, dtype=int)
    model = CountingModel().fit(X, np.r_[y[:-1], 1])
    kw = dict(max_steps=5)
    for key, value in change.items():
        if key == "X":
            X[3, 5] = np.nan
        elif key == "y":
            y = y[:7] if value == "short" else np.full(10, 7)
        else:
            kw[key] = value
    with pytest.raises(error, match=match):
        rpr_steps(model, X, y, **kw)
    assert model.calls_ == 0


def test_estimator_without_predict_and_values_outside_clip(flat_digits):
    X, _, y, _ = flat_digits
    with pytest.raises(TypeError, match="estimator must be a fitted classifier with predict"):
        rpr_steps(object(), X[:5], y[:5])
    model = ConstantModel().fit(X, y)
    with pytest.warns(UserWarning, match=r"outside the valid range clip=\(0.0, 1.0\)"):
        rpr_steps(model, X[:5] * 16, y[:5], max_steps=2, random_state=0)


# ------------------------------------------------------------------- curves


def test_rpr_curve_is_one_steps_array_and_monotone(logreg, flat_digits):
    _, X_test, _, y_test = flat_digits
    steps = rpr_steps(
        logreg, X_test, y_test, perturbation=RandomPixels(4), max_steps=60, random_state=0
    )
    m, ratio = rpr_curve(steps, max_steps=60)
    assert m.tolist() == list(range(1, 61))
    assert (np.diff(ratio) <= 0).all()
    for i in (0, 9, 59):
        assert ratio[i] == np.mean(steps >= m[i])
    assert ratio[-1] == rpr_score(
        logreg, X_test, y_test, perturbation=RandomPixels(4), max_steps=60, random_state=0
    )
    assert 0 < ratio[-1] < ratio[0] <= 1
    m_short, ratio_short = rpr_curve(steps, max_steps=10)
    np.testing.assert_array_equal(ratio_short, ratio[:10])
    with pytest.raises(ValueError, match="non-negative integers"):
        rpr_curve([0.5, 1.0])
    with pytest.raises(ValueError, match="must be >= 0"):
        rpr_curve([-1, 2])


def test_plot_rpr_curve_draws_and_saves(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_rpr_curve([0, 3, 10, 10], max_steps=10, label="M")
    ax = plot_rpr_curve(
        [2, 10, 10, 10],
        max_steps=10,
        label="M_R",
        ax=ax,
        path=tmp_path / "curves.png",
        linestyle="--",
    )
    assert len(ax.get_lines()) == 2
    assert "robust ratio 0.750" in ax.get_legend().get_texts()[1].get_text()
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    plt.close(ax.figure)


# ------------------------------------------------------------------- scorer


def test_rpr_scorer_in_cross_val_score_and_grid_search_with_sklearn(flat_digits):
    X, _, y, _ = flat_digits
    X, y = X[:400], y[:400]
    scorer = RPRScorer(max_steps=15, perturbation=RandomPixels(4))
    scores = cross_val_score(
        RandomForestClassifier(n_estimators=10, random_state=0), X, y, cv=2, scoring=scorer
    )
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()
    search = GridSearchCV(
        RandomForestClassifier(random_state=0),
        {"n_estimators": [3, 10]},
        cv=2,
        scoring={"rpr": scorer, "accuracy": "accuracy"},
        refit="rpr",
    )
    search.fit(X, y)
    assert set(search.cv_results_) >= {"mean_test_rpr", "mean_test_accuracy"}
    assert (
        search.cv_results_["mean_test_rpr"] <= search.cv_results_["mean_test_accuracy"] + 1e-9
    ).all()
    assert "RPRScorer(max_steps=15" in repr(scorer)


def test_rpr_scorer_with_noise_trained_classifier(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:300], y_train[:300]
    net = NoiseTrainedClassifier(
        MLP,
        module__hidden_units=(32,),
        sigma=0.2,
        max_epochs=2,
        lr=1e-2,
        verbose=0,
        random_state=0,
        device="cpu",
    )
    scorer = RPRScorer(max_steps=10, perturbation=RandomPixels(4))
    scores = cross_val_score(net, X, y, cv=2, scoring=scorer)
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()
    search = GridSearchCV(net, {"sigma": [0.1, 0.3]}, cv=2, scoring=scorer).fit(X, y)
    assert search.best_params_["sigma"] in (0.1, 0.3)


# ---------------------------------------------------------------- selection


def test_robust_subset_selector_balances_classes(logreg, flat_digits):
    X, _, y, _ = flat_digits
    selector = RobustSubsetSelector(
        logreg, n_per_class=15, max_steps=20, perturbation=RandomPixels(4), random_state=0
    )
    X_r, y_r = selector.fit_resample(X, y)
    assert np.bincount(y_r).tolist() == [15] * 10
    assert selector.n_selected_per_class_ == {c: 15 for c in range(10)}
    mask = selector.get_support()
    idx = selector.get_support(indices=True)
    assert mask.shape == (len(X),) and mask.sum() == len(X_r) == 150
    np.testing.assert_array_equal(np.flatnonzero(mask), idx)
    np.testing.assert_array_equal(X_r, X[mask])
    np.testing.assert_array_equal(y_r, y[mask])
    assert selector.robust_[mask].all()  # only robust points are kept
    assert (selector.steps_[mask] == 20).all()
    assert selector.n_robust_per_class_ == {
        c: int(n) for c, n in enumerate(np.bincount(y[selector.robust_]))
    }
    # reproducible, and the same estimator judged the points
    again = RobustSubsetSelector(
        logreg, n_per_class=15, max_steps=20, perturbation=RandomPixels(4), random_state=0
    )
    np.testing.assert_array_equal(again.fit(X, y).get_support(), mask)
    assert selector.estimator_ is logreg


def test_robust_subset_selector_min_none_and_short_classes(logreg, flat_digits):
    X, _, y, _ = flat_digits
    kw = dict(max_steps=20, perturbation=RandomPixels(4), random_state=0)
    everything = RobustSubsetSelector(logreg, n_per_class=None, **kw).fit(X, y)
    np.testing.assert_array_equal(everything.support_, everything.robust_)
    smallest = min(everything.n_robust_per_class_.values())
    _, y_min = RobustSubsetSelector(logreg, n_per_class="min", **kw).fit_resample(X, y)
    assert np.bincount(y_min).tolist() == [smallest] * 10
    with pytest.warns(UserWarning, match="all of them are kept"):
        _, y_big = RobustSubsetSelector(logreg, n_per_class=10_000, **kw).fit_resample(X, y)
    assert len(y_big) == everything.support_.sum()
    # "min" over the classes that have robust points; the others are warned about
    with pytest.warns(UserWarning, match="have only"):
        only_zeros = RobustSubsetSelector(
            ConstantModel().fit(X, y), n_per_class="min", max_steps=3, random_state=0
        ).fit(X, y)
    assert only_zeros.n_selected_per_class_[0] == (y == 0).sum() == only_zeros.support_.sum()


def test_robust_subset_selector_clone_prefit_and_errors(logreg, flat_digits, tiny_net, digits):
    X, _, y, _ = flat_digits
    selector = RobustSubsetSelector(
        logreg, n_per_class=5, max_steps=10, random_state=0, perturbation=RandomPixels(4)
    )
    twin = clone(selector)
    assert twin.get_params()["n_per_class"] == 5 and twin.estimator is not logreg
    with pytest.raises(Exception, match="not fitted.*prefit=False"):
        twin.fit_resample(X, y)  # a clone's estimator is unfitted
    twin.set_params(prefit=False)
    X_r, y_r = twin.fit_resample(X, y)  # fits a clone of the estimator first
    assert np.bincount(y_r).tolist() == [5] * 10
    assert twin.estimator_ is not twin.estimator
    # a robustsk net takes the torch path
    X_img, _, y_img, _ = digits
    _, y_net = RobustSubsetSelector(
        tiny_net, n_per_class=3, max_steps=5, perturbation=RandomPixels(2), random_state=0
    ).fit_resample(X_img, y_img)
    assert len(y_net) <= 30
    for bad, error, match in [
        (0, ValueError, "n_per_class must be in"),
        ("max", TypeError, "n_per_class must be an int, 'min' or None"),
        (2.5, TypeError, "n_per_class must be an int"),
    ]:
        with pytest.raises(error, match=match):
            RobustSubsetSelector(logreg, n_per_class=bad).fit_resample(X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        X_nan = X.copy()
        X_nan[0, 0] = np.nan
        RobustSubsetSelector(ConstantModel(), prefit=False).fit_resample(X_nan, y)
    with pytest.raises(ValueError, match="nothing to select"):
        flip = ExactMatchModel().fit(X[:30], y[:30])
        RobustSubsetSelector(flip, max_steps=3).fit_resample(X[:30], y[:30])
    with pytest.raises(Exception, match="not fitted"):
        RobustSubsetSelector(logreg).get_support()


# ------------------------------------------------------------- reproduction


def test_run_rpr_writes_results_curves_and_figure(digits, tmp_path):
    X_train, X_test, y_train, y_test = digits
    cfg = RPRConfig(
        n_train=400,
        n_test=100,
        n_per_class=10,
        max_epochs=2,
        retrain_epochs=2,
        max_steps=15,
        k=4,
        lr=1e-2,
        module=MLP,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        results = run_rpr(X_train, y_train, X_test, y_test, tmp_path, cfg, verbose=0)
    assert [r["model"] for r in results] == ["M", "M_R"]
    assert all(0 <= r["test_robust_ratio"] <= r["test_accuracy"] <= 1 for r in results)
    with open(tmp_path / "curves.csv") as f:
        curve = list(csv.DictReader(f))
    assert len(curve) == 15
    assert float(curve[-1]["robust_ratio_M"]) == pytest.approx(results[0]["test_robust_ratio"])
    with open(tmp_path / "per_class.csv") as f:
        assert len(list(csv.DictReader(f))) == 10
    assert "0.2957" in (tmp_path / "summary.md").read_text()  # the paper's number beside ours
    assert (tmp_path / "rpr_curves.png").read_bytes()[:4] == b"\x89PNG"
    paper = RPRConfig.paper()
    assert (paper.n_train, paper.n_test, paper.n_per_class, paper.max_steps) == (
        60000,
        10000,
        1500,
        250,
    )


def _write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(str(path) + ".gz", "wb") as f:
        f.write(header + array.astype(">u1").tobytes())


def test_cli_reproduce_rpr_on_a_tiny_fake_mnist(tmp_path, capsys):
    from robustsk.cli import main

    rng = np.random.default_rng(0)
    labels = np.arange(80) % 10
    images = rng.integers(0, 40, size=(80, 28, 28)).astype(np.uint8)
    for c in range(10):  # a bright bar whose position is the class: learnable
        images[labels == c, 2 * c + 3 : 2 * c + 6, 4:24] = 255
    data = tmp_path / "mnist"
    data.mkdir()
    for prefix, n in (("train", 80), ("t10k", 40)):
        _write_idx(data / f"{prefix}-images-idx3-ubyte", images[:n])
        _write_idx(data / f"{prefix}-labels-idx1-ubyte", labels[:n].astype(np.uint8))
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert (
            main(
                [
                    "reproduce",
                    "rpr",
                    "--mnist",
                    str(data),
                    "--out",
                    str(out),
                    "--n-train",
                    "80",
                    "--n-test",
                    "40",
                    "--n-per-class",
                    "2",
                    "--epochs",
                    "2",
                    "--retrain-epochs",
                    "2",
                    "--max-steps",
                    "5",
                    "--k",
                    "10",
                    "--value",
                    "invert",
                    "--distinct",
                    "--seeds",
                    "2",
                    "--quiet",
                ]
            )
            == 0
        )
    for seed in ("seed-0", "seed-1"):
        for name in ("results.csv", "per_class.csv", "curves.csv", "summary.md", "rpr_curves.png"):
            assert (out / seed / name).stat().st_size > 0
    with open(out / "seed-1" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["module"], r["k"], r["value"], r["replace"]) for r in rows] == [
        ("LeNet5", "10", "invert", "False")
    ] * 2
    with open(out / "summary_seeds.csv") as f:
        assert [r["model"] for r in csv.DictReader(f)] == ["M", "M_R", "M_R - M"]
    summary = (out / "summary.md").read_text()
    assert "over 2 seeds" in summary and "--value invert --distinct" in summary
    with pytest.raises(SystemExit):  # without --mnist: only what the embedded digits hold
        main(["reproduce", "rpr", "--n-train", "60000"])
    assert "--mnist" in capsys.readouterr().err
