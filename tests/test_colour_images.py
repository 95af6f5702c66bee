"""3 x 32 x 32 colour images (CIFAR-10's shape) through every perturbation, corruption,
attack and metric; the strategies' template runs on them too (test_query_contract.py)."""

import numpy as np
import pytest
import torch

from robustsk.attacks import deepfool, fgsm, pgd
from robustsk.datasets import make_corrupted
from robustsk.estimators import CertifiedBudgetClassifier, NoiseTrainedClassifier
from robustsk.metrics import (
    adversarial_accuracy,
    corruption_accuracy,
    rpr_score,
    verified_error,
)
from robustsk.nets import CIFAR10_MEAN, CIFAR10_STD, CNN7, SmallCNN
from robustsk.perturb import CORRUPTIONS, GaussianNoise, RandomPixels, noise_ladder

SHAPES = [(1, 28, 28), (3, 32, 32)]


def _images(shape, n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape), dtype=np.float32), np.arange(n) % 10


@pytest.fixture(scope="module", params=SHAPES, ids=["1x28x28", "3x32x32"])
def fitted(request):
    X, y = _images(request.param, n=80)
    net = NoiseTrainedClassifier(
        SmallCNN,
        sigma=0.1,
        max_epochs=1,
        batch_size=32,
        verbose=0,
        random_state=0,
    )
    return net.fit(X[:60], y[:60]), X[60:], y[60:]


@pytest.mark.parametrize("shape", SHAPES, ids=["1x28x28", "3x32x32"])
def test_perturbations_keep_the_shape_and_the_range(shape):
    X, _ = _images(shape, n=6)
    for perturbation in (GaussianNoise(0.3, random_state=0), RandomPixels(random_state=0)):
        out = perturbation(X)
        assert out.shape == X.shape and out.min() >= 0 and out.max() <= 1
        assert (out != X).any()
    ladder = noise_ladder(X[0], np.linspace(0, 0.9, 10), random_state=0)
    assert ladder.shape == (10, *shape)
    np.testing.assert_array_equal(ladder[0], X[0])


@pytest.mark.parametrize("shape", SHAPES, ids=["1x28x28", "3x32x32"])
def test_every_corruption_keeps_the_shape(shape):
    X, _ = _images(shape, n=3)
    sets = make_corrupted(X, severity=3, random_state=0)
    assert sorted(sets) == sorted(CORRUPTIONS)
    for name, Xc in sets.items():
        assert Xc.shape == X.shape and Xc.dtype == X.dtype, name
        assert 0 <= Xc.min() and Xc.max() <= 1, name


def test_attacks_stay_in_the_ball(fitted):
    net, X, y = fitted
    module = net.module_.eval()
    x, t = torch.as_tensor(X), torch.as_tensor(y)
    for adv in (
        pgd(module, x, t, eps=0.03, alpha=0.01, steps=3, random_state=0),
        fgsm(module, x, t, eps=0.03),
    ):
        assert adv.shape == x.shape
        assert (adv - x).abs().max() <= 0.03 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    adv, *_ = deepfool(module, x[:5], max_iter=3)
    assert adv.shape == x[:5].shape


def test_metrics(fitted):
    net, X, y = fitted
    assert 0 <= adversarial_accuracy(net, X, y, eps=0.03, steps=2, random_state=0) <= 1
    mean, per = corruption_accuracy(
        net, X, y, corruptions=["gaussian_noise", "fog"], random_state=0,
        return_per_corruption=True,
    )  # fmt: skip
    assert 0 <= mean <= 1 and sorted(per) == ["fog", "gaussian_noise"]
    assert 0 <= rpr_score(net, X, y, max_steps=5, random_state=0) <= 1


def test_certified_training_and_verification_on_colour_images():
    X, y = _images((3, 32, 32), n=48)
    clf = CertifiedBudgetClassifier(
        CNN7,
        module__width=4,
        module__hidden_units=16,
        module__normalize=(CIFAR10_MEAN, CIFAR10_STD),
        eps0=2 / 255,
        max_epochs=1,
        ramp_start=0,
        batch_size=16,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    assert clf.budgets(X[:2]).shape == (2, 3, 32, 32)
    err = verified_error(clf, X[:8], y[:8], budget="uniform")
    assert 0 <= err <= 1
