"""The same computations on a CUDA device as on the CPU (``gpu`` mark: skipped without one).

``bash benchmarks/gpu_check.sh`` runs these first on a GPU machine.
"""

import numpy as np
import pytest
import torch
from torch import nn

from robustsk.attacks import pgd
from robustsk.certify import compute_bounds, input_box, margin_matrix
from robustsk.estimators import (
    AdversarialClassifier,
    CertifiedBudgetClassifier,
    NoiseTrainedClassifier,
)
from robustsk.metrics import rpr_steps
from robustsk.perturb import GaussianNoise

pytestmark = pytest.mark.gpu
FAST = dict(max_epochs=2, lr=1e-2, batch_size=64, verbose=0, random_state=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: NoiseTrainedClassifier(sigma=0.3, **FAST),
        lambda: AdversarialClassifier(eps=0.1, steps=3, **FAST),
        lambda: CertifiedBudgetClassifier(eps0=0.05, ramp_start=0, ramp_length=1, **FAST),
    ],
    ids=["noise", "adversarial", "certified"],
)
def test_estimators_train_and_predict_on_cuda(make, digits):
    X_train, X_test, y_train, y_test = digits
    clf = make().set_params(device="cuda").fit(X_train, y_train)
    assert next(clf.module_.parameters()).is_cuda
    predicted = clf.predict(X_test)
    assert isinstance(predicted, np.ndarray) and predicted.shape == y_test.shape
    assert clf.score(X_test, y_test) > 0.5


def test_bounds_on_cuda_equal_the_cpu_bounds():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 16), nn.ReLU(),
        nn.Linear(16, 10),
    ).eval()  # fmt: skip
    x = torch.rand(8, 1, 8, 8)
    y = torch.randint(0, 10, (8,))
    for method in ("ibp", "crown-ibp", "crown"):
        out = []
        for device in ("cpu", "cuda"):
            module = net.to(device)
            lower, upper = input_box(x.to(device), 0.05)
            C = margin_matrix(y.to(device), 10)
            lb, ub = compute_bounds(module, lower, upper, C, method=method)
            out.append((lb.cpu(), ub.cpu()))
        torch.testing.assert_close(out[0], out[1], atol=1e-4, rtol=1e-4)


def test_perturbations_and_attacks_stay_on_cuda(digits):
    X_train, _, y_train, _ = digits
    x = torch.from_numpy(X_train[:64]).cuda()
    noisy = GaussianNoise(0.3, random_state=0)(x)
    assert noisy.is_cuda and 0 <= float(noisy.min()) and float(noisy.max()) <= 1
    torch.testing.assert_close(noisy, GaussianNoise(0.3, random_state=0)(x))  # seeded
    clf = NoiseTrainedClassifier(**FAST, device="cuda").fit(X_train, y_train)
    y = torch.from_numpy(y_train[:64]).cuda()
    adv = pgd(clf.module_.eval(), x, y, eps=0.3, steps=10, random_state=0)
    assert adv.is_cuda and float((adv - x).abs().max()) <= 0.3 + 1e-6
    clean = (clf.module_(x).argmax(1) == y).float().mean()
    attacked = (clf.module_(adv).argmax(1) == y).float().mean()
    assert attacked < clean


def test_rpr_on_cuda(digits):
    X_train, X_test, y_train, y_test = digits
    clf = NoiseTrainedClassifier(**FAST, device="cuda").fit(X_train, y_train)
    steps = rpr_steps(clf, X_test, y_test, max_steps=20, random_state=0)
    assert steps.shape == y_test.shape and steps.min() >= 0 and steps.max() <= 20
    assert (steps[clf.predict(X_test) != y_test] == 0).all()
    again = rpr_steps(clf, X_test, y_test, max_steps=20, random_state=0)
    np.testing.assert_array_equal(steps, again)  # seeded on the device too
