"""Declared parameters: every class that declares ``_parameter_constraints`` refuses a bad
value of every declared parameter at its entry point, naming the parameter, before any work.

The bad values are generated from the constraints themselves (``invalid_values``), so a
parameter declared tomorrow is attacked without a new test; a test fails when a class with
declared constraints is missing from the template.
"""

from __future__ import annotations

import importlib
import inspect
import re

import numpy as np
import pytest
from skorch.callbacks import Callback

from robustsk.active import ActiveLearner, CallableOracle, PerturbationLevelLearner
from robustsk.estimators import (
    AdversarialClassifier,
    CertifiedBudgetClassifier,
    NoiseTrainedClassifier,
    RobustNetClassifier,
    SmoothedClassifier,
)
from robustsk.perturb import Corruption, GaussianNoise, Perturbation, RandomPixels
from robustsk.selection import RobustSubsetSelector
from robustsk.utils import (
    Interval,
    Options,
    Range,
    check_param,
    declared_constraints,
    invalid_values,
)

FAST = dict(max_epochs=1, batch_size=16, lr=1e-2, verbose=0, random_state=0)


class EpochCounter(Callback):
    """Counts the training epochs begun."""

    def __init__(self):
        self.epochs = 0

    def on_epoch_begin(self, net, **kwargs):
        self.epochs += 1


class CountingClassifier:
    """A classifier that only counts its fits."""

    def __init__(self):
        self.fits = 0

    def fit(self, X, y):
        self.fits += 1
        return self


class CountingModel:
    """A prefit model (no ``fit``) that counts its predictions."""

    def __init__(self):
        self.predicted = 0

    def predict(self, X):
        self.predicted += len(X)
        return np.zeros(len(X), dtype=int)


class CountingOracle(CallableOracle):
    """An oracle that counts its answers."""

    def __init__(self):
        super().__init__(lambda q: 0.3)
        self.asked = 0

    def answer(self, queries):
        self.asked += len(queries)
        return super().answer(queries)


@pytest.fixture(scope="module")
def small():
    from robustsk.datasets import load_digits_images

    X, y = load_digits_images(return_X_y=True)
    return X[:40], y[:40]


# ------------------------------------------------------------ one entry per class
def _estimator(cls):
    counter = EpochCounter()
    est = cls(**FAST, callbacks=[("count", counter)])

    def run(X, y):
        est.fit(X, y)

    def nothing_ran():
        return not est.initialized_ and counter.epochs == 0 and not getattr(est, "history_", [])

    return est, run, nothing_ran


def _active_learner(cls):
    estimator = CountingClassifier()
    kwargs: dict = {}

    class Target:  # collects the bad value; the learner is created in run
        def __setattr__(self, name, value):
            kwargs[name] = value

    def run(X, y):
        ActiveLearner(estimator, X_training=X, y_training=y, **kwargs)

    return Target(), run, lambda: estimator.fits == 0


def _level_learner(cls):
    counter = EpochCounter()
    oracle = CountingOracle()
    est = NoiseTrainedClassifier(**FAST, callbacks=[("count", counter)])
    learner = PerturbationLevelLearner(oracle, est, n_per_side=2, n_draws=2, max_rounds=1)

    def run(X, y):
        learner.fit(X, y)

    def nothing_ran():
        return not hasattr(learner, "estimator_") and counter.epochs == 0 and oracle.asked == 0

    return learner, run, nothing_ran


def _perturbation(make):
    def build(cls):
        scheme = make()
        reference = make()

        def run(X, y):
            scheme(X)

        def nothing_ran():
            # Put the parameters back: the stream is where a fresh one's is (no draw taken).
            for name, value in reference.get_params().items():
                setattr(scheme, name, value)
            return np.array_equal(scheme(small_X), reference(small_X))

        return scheme, run, nothing_ran

    return build


def _selector(cls):
    model = CountingModel()
    selector = cls(model, max_steps=2, perturbation=RandomPixels(2), random_state=0)

    def run(X, y):
        selector.fit(X, y)

    return selector, run, lambda: model.predicted == 0 and not hasattr(selector, "steps_")


def _smoothed(cls):
    counter = EpochCounter()
    smoothed = cls(NoiseTrainedClassifier(**FAST, callbacks=[("count", counter)]), n_draws=10)

    def run(X, y):
        smoothed.fit(X, y)

    return smoothed, run, lambda: counter.epochs == 0 and not hasattr(smoothed, "estimator_")


small_X = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)

#: Every class declaring ``_parameter_constraints`` -> how to build it, call its entry
#: point and tell that no work was done.
TEMPLATES = {
    RobustNetClassifier: _estimator,
    NoiseTrainedClassifier: _estimator,
    AdversarialClassifier: _estimator,
    CertifiedBudgetClassifier: _estimator,
    ActiveLearner: _active_learner,
    PerturbationLevelLearner: _level_learner,
    GaussianNoise: _perturbation(lambda: GaussianNoise(0.1, random_state=0)),
    RandomPixels: _perturbation(lambda: RandomPixels(3, random_state=0)),
    Corruption: _perturbation(lambda: Corruption("gaussian_noise", random_state=0)),
    RobustSubsetSelector: _selector,
    SmoothedClassifier: _smoothed,
}


def _cases():
    for cls in TEMPLATES:
        for name, allowed in declared_constraints(cls).items():
            for i, bad in enumerate(invalid_values(allowed)):
                yield pytest.param(cls, name, bad, id=f"{cls.__name__}-{name}-{i}")


@pytest.mark.parametrize("cls, name, bad", list(_cases()))
def test_a_bad_value_of_a_declared_parameter_fails_before_any_work(small, cls, name, bad):
    X, y = small
    obj, run, nothing_ran = TEMPLATES[cls](cls)
    setattr(obj, name, bad)
    with pytest.raises((TypeError, ValueError), match=rf"(^|\W){re.escape(name)}\W") as info:
        run(X, y)
    assert info.type in (TypeError, ValueError)  # not a subclass raised by accident
    assert nothing_ran()


@pytest.mark.parametrize(
    "cls", [RobustNetClassifier, NoiseTrainedClassifier, AdversarialClassifier]
)
def test_initialize_and_partial_fit_check_the_declared_parameters_too(small, cls):
    with pytest.raises(ValueError, match="clip must be"):
        cls(clip=(1, 0)).initialize()
    est = cls(**FAST, device="tpu")
    with pytest.raises(ValueError, match="device='tpu'"):
        est.partial_fit(*small)
    assert not est.initialized_


def test_every_class_with_declared_parameters_is_in_the_template():
    declaring = set()
    for package in ("active", "estimators", "perturb", "query", "metrics", "selection"):
        module = importlib.import_module(f"robustsk.{package}")
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and declared_constraints(obj):
                declaring.add(obj)
    declaring.discard(Perturbation)  # abstract: its subclasses are attacked
    assert declaring <= set(TEMPLATES), declaring - set(TEMPLATES)


@pytest.mark.parametrize("cls", list(TEMPLATES))
def test_declared_names_are_constructor_parameters_with_valid_defaults(cls):
    signature: dict = {}
    for klass in reversed(cls.__mro__):  # a subclass passes its base's on as **kwargs
        if "__init__" in vars(klass) and klass is not object:
            signature.update(inspect.signature(klass.__init__).parameters)
    declared = declared_constraints(cls)
    assert set(declared) <= set(signature), set(declared) - set(signature)
    for name, allowed in declared.items():
        assert invalid_values(allowed), f"{cls.__name__}.{name}: no bad value generated"
        default = signature[name].default
        if default is not inspect.Parameter.empty:
            check_param(default, name, allowed)  # the defaults are allowed


@pytest.mark.parametrize("cls", list(TEMPLATES))
def test_no_hand_written_check_chain(cls):
    """Subclasses declare; none overrides the one check that reads the declarations."""
    for klass in cls.__mro__:
        if klass in (RobustNetClassifier, Perturbation):
            continue
        assert "_check_params" not in vars(klass) and "_check_declared_params" not in vars(klass)


def test_subclass_declarations_merge_with_the_parents():
    noise = declared_constraints(NoiseTrainedClassifier)
    assert list(noise)[:3] == ["clip", "random_state", "device"]  # the base's first
    assert "sigma" in noise and "sigma" not in declared_constraints(RobustNetClassifier)
    pixels = declared_constraints(RandomPixels)
    assert None not in pixels["clip"]  # RandomPixels needs a range: it overrides the base's
    assert None in declared_constraints(Perturbation)["clip"]


def test_messages_name_the_parameter_the_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"^steps must be in \[1, inf\], got 0\.$"):
        check_param(0, "steps", [Interval(1, integer=True)])
    with pytest.raises(TypeError, match=r"^k must be an int in \[1, inf\] or None, got 2\.5"):
        check_param(2.5, "k", [None, Interval(1, integer=True)])
    with pytest.raises(ValueError, match=r"^norm must be one of \['2', 'inf'\], got '1'\.$"):
        check_param("1", "norm", [Options({"inf", "2"})])
    with pytest.raises(ValueError, match=r"sigma_bounds must be a pair 0\.0 <= low < high"):
        check_param((-1.0, 1.0), "sigma_bounds", [Range(at_least=0.0)])
    check_param(None, "clip", [None, Range()])


# ------------------------------------------------------- once per fit, not per batch
class CountingClip(tuple):
    """A clip pair that counts how often it is unpacked (every check unpacks it)."""

    def __new__(cls, low, high):
        self = super().__new__(cls, (low, high))
        self.unpacked = 0
        return self

    def __iter__(self):
        self.unpacked += 1
        return super().__iter__()


@pytest.mark.parametrize(
    "cls, params",
    [
        (NoiseTrainedClassifier, dict(sigma=0.2)),
        (AdversarialClassifier, dict(eps=0.1, alpha=0.05, steps=1)),
        (CertifiedBudgetClassifier, dict(eps0=0.1, ramp_start=0, ramp_length=0, bound="ibp")),
    ],
)
def test_clip_is_checked_once_per_fit_not_per_batch(small, cls, params):
    X, y = small
    counts = {}
    for batch_size in (40, 4):  # 1 and 10 training batches
        clip = CountingClip(0.0, 1.0)
        cls(**{**FAST, **params, "batch_size": batch_size, "clip": clip}).fit(X, y)
        counts[batch_size] = clip.unpacked
    assert counts[40] > 0  # the range is checked ...
    assert counts[4] == counts[40]  # ... a fixed number of times, whatever the batches
