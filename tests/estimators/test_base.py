"""What a skorch user does with robustsk's estimators, done the way they would do it.

Validation splits with EarlyStopping and LRScheduler, save_params / load_params,
pickle, sample weights (also through cross_val_score) and logs written to a file.
"""

import contextlib
import io
import pickle

import joblib
import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score
from skorch.callbacks import Checkpoint, EarlyStopping, LRScheduler
from skorch.dataset import Dataset, ValidSplit

from robustsk.datasets import load_digits_images
from robustsk.estimators import (
    AdversarialClassifier,
    CertifiedBudgetClassifier,
    NoiseTrainedClassifier,
    RobustNetClassifier,
)
from robustsk.nets import LeNet5

SMALL = dict(
    module__hidden_units=(16,),
    max_epochs=2,
    batch_size=64,
    lr=1e-2,
    verbose=0,
    random_state=0,
)

ESTIMATORS = {
    "standard": lambda **kw: RobustNetClassifier(**{**SMALL, **kw}),
    "noise": lambda **kw: NoiseTrainedClassifier(sigma=0.1, **{**SMALL, **kw}),
    "noise-adaptive": lambda **kw: NoiseTrainedClassifier(
        sigma=0.1, sigma_mode="adaptive", **{**SMALL, **kw}
    ),
    "adversarial": lambda **kw: AdversarialClassifier(
        eps=0.05, alpha=0.02, steps=2, **{**SMALL, **kw}
    ),
    "certified": lambda **kw: CertifiedBudgetClassifier(
        eps0=0.05, ramp_start=0, ramp_length=1, **{**SMALL, **kw}
    ),
}
each_estimator = pytest.mark.parametrize("make", ESTIMATORS.values(), ids=ESTIMATORS.keys())


@pytest.fixture(scope="module")
def data():
    X, y = load_digits_images(return_X_y=True)
    return X[:300], y[:300]


def _params(net):
    return [p.detach().clone() for p in net.module_.parameters()]


def _same_params(a, b, atol=0.0):
    return all(torch.allclose(p, q, atol=atol, rtol=0) for p, q in zip(a, b, strict=True))


# ------------------------------------------------------------ validation split
@each_estimator
def test_a_validation_split_records_valid_loss_and_accuracy(make, data):
    X, y = data
    net = make(train_split=ValidSplit(5, stratified=True)).fit(X, y)
    valid_loss = net.history[:, "valid_loss"]
    valid_acc = net.history[:, "valid_acc"]
    assert len(valid_loss) == len(valid_acc) == 2
    assert np.isfinite(valid_loss).all() and all(0 <= a <= 1 for a in valid_acc)


def test_valid_acc_is_the_accuracy_on_the_held_out_labels_whatever_they_are(data):
    """Labels that are not 0..n-1 (strings): valid_acc still compares like with like."""
    X, y = data
    labels = np.array([f"digit-{k}" for k in y])
    split = ValidSplit(5, stratified=True)
    net = ESTIMATORS["noise"](train_split=split).fit(X, labels)
    codes = np.searchsorted(net.classes_, labels)
    _, valid = split(Dataset(X, codes), codes)
    held_out = np.asarray(valid.indices)
    expected = np.mean(net.predict(X[held_out]) == labels[held_out])
    assert net.history[-1, "valid_acc"] == pytest.approx(expected)
    assert 0.3 < expected  # it learned something in 2 epochs: not a vacuous comparison


@each_estimator
def test_early_stopping_stops_a_robust_fit_on_the_validation_loss(make, data):
    X, y = data
    # Asking for an improvement of 10 nats: every epoch after the first misses.
    stop = EarlyStopping(monitor="valid_loss", patience=1, threshold=10.0, threshold_mode="abs")
    net = make(train_split=ValidSplit(5, stratified=True), max_epochs=10, callbacks=[stop])
    net.fit(X, y)
    assert len(net.history) == 2


@each_estimator
def test_reduce_lr_on_plateau_reads_the_validation_loss(make, data):
    X, y = data
    scheduler = LRScheduler(
        policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
        monitor="valid_loss",
        patience=0,
        factor=0.5,
        threshold=10.0,
        threshold_mode="abs",
    )
    net = make(train_split=ValidSplit(5, stratified=True), max_epochs=3, callbacks=[scheduler])
    net.fit(X, y)
    # epoch 1 sets the best loss, epochs 2 and 3 miss it by far: two halvings
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-2 / 4)


# ------------------------------------------------------------- save and load
@each_estimator
def test_initialize_then_load_params_gives_back_the_fitted_estimator(make, data, tmp_path):
    X, y = data
    labels = np.array(["zero", "one", "two", "three", "four", "5", "6", "7", "8", "9"])[y]
    net = make(max_epochs=1).fit(X, labels)
    # learned budgets: the generator's file beside (f_params alone is refused)
    learned = getattr(net, "budget_generator_", None) is not None
    extra = {"f_budget_generator": tmp_path / "g.pt"} if learned else {}
    net.save_params(f_params=tmp_path / "params.pt", **extra)

    new = make(max_epochs=1).initialize()
    assert not new.initialized_  # sized from the data: built on load
    new.load_params(f_params=tmp_path / "params.pt", **extra)
    assert new.n_features_in_ == 64 and new.input_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(new.classes_, net.classes_)
    np.testing.assert_array_equal(new.predict(X), net.predict(X))
    np.testing.assert_allclose(new.predict_proba(X), net.predict_proba(X), atol=1e-6)
    # flat input is accepted as after fit
    np.testing.assert_array_equal(new.predict(X.reshape(len(X), -1)), net.predict(X))


def test_a_cnn_sized_from_the_data_is_rebuilt_on_load(data, tmp_path):
    """LeNet5's default input is 28x28: the saved 8x8 shape must win."""
    X, y = data
    net = RobustNetClassifier(LeNet5, max_epochs=1, verbose=0, random_state=0).fit(X, y)
    net.save_params(f_params=tmp_path / "p.pt", f_optimizer=tmp_path / "o.pt")
    new = RobustNetClassifier(LeNet5, max_epochs=1, verbose=0, random_state=0).initialize()
    new.load_params(f_params=tmp_path / "p.pt", f_optimizer=tmp_path / "o.pt")
    np.testing.assert_array_equal(new.predict(X), net.predict(X))
    assert (
        new.optimizer_.state_dict()["state"].keys() == net.optimizer_.state_dict()["state"].keys()
    )


def test_load_params_with_safetensors_and_a_learned_budget_generator(data, tmp_path):
    pytest.importorskip("safetensors")
    X, y = data
    net = ESTIMATORS["certified"](max_epochs=1).fit(X, y)
    files = dict(f_params=tmp_path / "p.st", f_budget_generator=tmp_path / "g.st")
    net.save_params(**files, use_safetensors=True)
    new = ESTIMATORS["certified"](max_epochs=1).initialize()
    new.load_params(**files, use_safetensors=True)
    np.testing.assert_array_equal(new.predict(X), net.predict(X))
    np.testing.assert_allclose(new.budgets(X[:5]), net.budgets(X[:5]), rtol=1e-6)


def test_load_params_from_a_checkpoint(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path), f_history="history.json")
    net = ESTIMATORS["adversarial"](callbacks=[checkpoint]).fit(X, y)
    new = ESTIMATORS["adversarial"]().initialize()
    new.load_params(checkpoint=checkpoint)
    np.testing.assert_array_equal(new.predict(X), net.predict(X))
    assert len(new.history) == 2


def test_a_bare_state_dict_needs_the_shape_and_classes(data, tmp_path):
    X, y = data
    net = ESTIMATORS["standard"](max_epochs=1).fit(X, y)
    torch.save(net.module_.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="module__input_shape"):
        ESTIMATORS["standard"]().initialize().load_params(f_params=tmp_path / "bare.pt")
    given = ESTIMATORS["standard"](module__input_shape=(1, 8, 8), classes=np.arange(10))
    given.initialize().load_params(f_params=tmp_path / "bare.pt")
    np.testing.assert_array_equal(
        given.module_(torch.as_tensor(X)).argmax(1).numpy(), net.predict(X)
    )
    # and the saved file loads into a bare module once the extra entry is dropped
    net.save_params(f_params=tmp_path / "params.pt")
    state = torch.load(tmp_path / "params.pt", weights_only=True)
    state.pop("robustsk.fitted_data")
    clone(net).fit(X[:50], y[:50]).module_.load_state_dict(state)


@each_estimator
def test_pickle_and_joblib_round_trip(make, data, tmp_path):
    X, y = data
    net = make(max_epochs=1).fit(X, y)
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict(X), net.predict(X))
    joblib.dump(net, tmp_path / "net.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "net.joblib").predict(X), net.predict(X))


# ------------------------------------------------------------- sample weights
@each_estimator
@pytest.mark.parametrize(
    "weight, match",
    [
        (np.ones(299), r"sample_weight must be a scalar or have shape \(300,\)"),
        (np.ones((300, 2)), r"sample_weight must be a scalar or have shape \(300,\)"),
        (np.r_[np.nan, np.ones(299)], "sample_weight contains NaN"),
        (np.r_[-1.0, np.ones(299)], "sample_weight must be >= 0"),
        (np.zeros(300), "sample_weight must contain at least one non-zero weight"),
    ],
    ids=["short", "2d", "nan", "negative", "zeros"],
)
def test_bad_sample_weight_is_refused_before_training(make, data, weight, match):
    X, y = data
    net = make()
    with pytest.raises(ValueError, match=match):
        net.fit(X, y, sample_weight=weight)
    assert not net.initialized_


def test_sample_weight_leaving_one_class_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="single class with non-zero weight"):
        ESTIMATORS["standard"]().fit(X, y, sample_weight=(y == 3).astype(float))


@each_estimator
def test_a_zero_weight_removes_the_example_from_training(make, data):
    """The labels of zero-weighted examples make no difference to the trained net."""
    X, y = data
    rng = np.random.default_rng(0)
    dropped = rng.random(len(y)) < 0.3
    weight = np.where(dropped, 0.0, 1.0)
    relabelled = np.where(dropped, rng.integers(0, 10, len(y)), y)
    weighted = make().fit(X, y, sample_weight=weight)
    weighted_relabelled = make().fit(X, relabelled, sample_weight=weight)
    unweighted_relabelled = make().fit(X, relabelled)
    assert _same_params(_params(weighted), _params(weighted_relabelled))
    assert not _same_params(_params(weighted), _params(unweighted_relabelled), atol=1e-3)


@each_estimator
def test_equal_weights_train_as_no_weights(make, data):
    X, y = data
    plain = make().fit(X, y)
    doubled = make().fit(X, y, sample_weight=np.full(len(y), 2.0))
    np.testing.assert_allclose(doubled.predict_proba(X), plain.predict_proba(X), atol=1e-4)


def test_integer_weights_match_repeated_rows_in_full_batch_training(data):
    X, y = data
    rng = np.random.default_rng(1)
    counts = rng.integers(1, 4, len(y))
    full_batch = dict(batch_size=int(2 * counts.sum()), max_epochs=5)
    repeated = ESTIMATORS["standard"](**full_batch).fit(
        np.repeat(X, counts, 0), np.repeat(y, counts)
    )
    weighted = ESTIMATORS["standard"](**full_batch).fit(X, y, sample_weight=counts)
    unweighted = ESTIMATORS["standard"](**full_batch).fit(X, y)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-5)
    assert np.abs(unweighted.predict_proba(X) - repeated.predict_proba(X)).max() > 1e-3


def test_sample_weight_weights_the_validation_loss(data):
    X, y = data
    split = ValidSplit(5, stratified=True)
    weight = np.where(y == 3, 5.0, 1.0)
    plain = ESTIMATORS["standard"](train_split=split, max_epochs=1).fit(X, y)
    weighted = ESTIMATORS["standard"](train_split=split, max_epochs=1).fit(
        X, y, sample_weight=weight
    )
    assert weighted.history[-1, "valid_loss"] != pytest.approx(plain.history[-1, "valid_loss"])


@pytest.mark.parametrize("routing", [False, True], ids=["plain", "metadata-routing"])
def test_sample_weight_through_cross_val_score(data, routing):
    X, y = data
    weight = np.random.default_rng(2).uniform(0.2, 2.0, len(y))
    net = ESTIMATORS["noise"](max_epochs=1)
    cv = StratifiedKFold(3)
    expected = [
        clone(net).fit(X[tr], y[tr], sample_weight=weight[tr]).score(X[te], y[te])
        for tr, te in cv.split(X, y)
    ]
    with sklearn.config_context(enable_metadata_routing=routing):
        if routing:
            net = net.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        scores = cross_val_score(net, X, y, cv=cv, params={"sample_weight": weight})
    np.testing.assert_allclose(scores, expected)


# ---------------------------------------------------------------------- logs
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _fit_printing(stream_cls, data):
    X, y = data
    out, err = stream_cls(), stream_cls()
    net = ESTIMATORS["noise"](verbose=1, train_split=ValidSplit(5, stratified=True))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        net.fit(X, y)
    return out.getvalue(), err.getvalue()


def test_verbose_output_to_a_file_is_plain_lines(data):
    out, err = _fit_printing(io.StringIO, data)
    for text in (out, err):
        assert "\r" not in text and "\x1b" not in text
    lines = out.splitlines()
    assert "valid_acc" in lines[0] and "train_loss" in lines[0]
    assert len(lines) == 2 + 2  # header, rule, one row per epoch
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]


def test_verbose_output_to_a_terminal_keeps_colours_and_the_bar(data):
    out, err = _fit_printing(_Terminal, data)
    assert "\x1b[" in out  # best values coloured
    assert "\r" in err  # the batch bar redrawn


@each_estimator
def test_a_fitted_estimator_lists_only_constructor_parameters(make, data):
    """Private fit state (_call_seed, _train_generator, _checked_clip, ...) used to show in
    get_params, hence in repr, clone and grid searches."""
    from sklearn.base import clone

    X, y = data
    fresh = make(max_epochs=1)
    before = set(fresh.get_params(deep=False))
    net = fresh.fit(X, y)
    assert set(net.get_params(deep=False)) == before
    assert not any(key.startswith("_") for key in net.get_params(deep=True))
    assert "_call_seed" not in repr(net)
    assert set(clone(net).get_params(deep=False)) == before
