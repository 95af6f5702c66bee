import numpy as np
import pytest
import torch

from robustsk.attacks import deepfool, fgsm, pgd
from robustsk.estimators import RobustNetClassifier
from robustsk.metrics import adversarial_accuracy, adversarial_examples


@pytest.fixture(scope="module")
def fitted(digits):
    X_train, _, y_train, _ = digits
    return RobustNetClassifier(max_epochs=5, lr=1e-2, batch_size=32, verbose=0, random_state=0).fit(
        X_train, y_train
    )


@pytest.fixture(scope="module")
def model_and_data(digits, fitted):
    _, X_test, _, y_test = digits
    module = fitted.module_.eval()
    return module, torch.from_numpy(X_test[:200]), torch.from_numpy(y_test[:200])


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_pgd_stays_in_the_ball_and_range_with_per_sample_eps(model_and_data, norm):
    model, x, y = model_and_data
    eps = torch.linspace(0.0, 0.3 if norm == "inf" else 2.0, len(x))
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    x_adv = pgd(model, x, y, eps=eps, alpha=0.05, steps=10, norm=norm, random_state=0)
    delta = (x_adv - x).flatten(1)
    size = delta.abs().max(1).values if norm == "inf" else delta.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert torch.equal(x_adv[0], x[0])  # eps 0: untouched
    for p, g in zip(model.parameters(), grads):  # only input gradients were computed
        assert (p.grad is None and g is None) or torch.equal(p.grad, g)


def test_pgd_lowers_accuracy_with_eps(model_and_data):
    model, x, y = model_and_data
    accs = []
    for eps in (0.0, 0.05, 0.15):
        x_adv = pgd(model, x, y, eps=eps, alpha=eps / 4 + 1e-6, steps=10, random_state=0)
        accs.append((model(x_adv).argmax(1) == y).float().mean().item())
    assert accs[0] > 0.8 and accs[0] > accs[1] > accs[2]


def test_pgd_early_stop_keeps_the_first_adversarial_point(model_and_data):
    model, x, y = model_and_data
    x_adv = pgd(model, x, y, eps=0.2, alpha=0.05, steps=20, early_stop=True, random_state=0)
    full = pgd(model, x, y, eps=0.2, alpha=0.05, steps=20, random_state=0)
    fooled = model(x_adv).argmax(1) != y
    assert fooled.float().mean() > 0.5
    assert (x_adv - x).abs().max() <= 0.2 + 1e-6
    # early stopping finds (about) as many adversarial examples as the full attack
    assert fooled.sum() >= (model(full).argmax(1) != y).sum() - 5


def test_pgd_is_reproducible(model_and_data):
    model, x, y = model_and_data
    a = pgd(model, x, y, eps=0.1, steps=3, random_state=1)
    b = pgd(model, x, y, eps=0.1, steps=3, random_state=1)
    assert torch.equal(a, b)


def test_fgsm_plain_and_fast(model_and_data):
    model, x, y = model_and_data
    plain = fgsm(model, x, y, eps=0.1)
    np.testing.assert_allclose((plain - x).abs().max().item(), 0.1, atol=1e-6)
    fast = fgsm(model, x, y, eps=0.1, random_init=True, random_state=0)
    assert (fast - x).abs().max() <= 0.1 + 1e-6
    assert (model(fast).argmax(1) == y).float().mean() < (model(x).argmax(1) == y).float().mean()


def test_attack_argument_errors(model_and_data):
    model, x, y = model_and_data
    with pytest.raises(ValueError, match="norm must be one of"):
        pgd(model, x, y, norm="1")
    with pytest.raises(ValueError, match="eps must be a scalar or have shape"):
        pgd(model, x, y, eps=torch.ones(3))
    with pytest.raises(ValueError, match="eps must be finite and >= 0"):
        pgd(model, x, y, eps=-0.1)
    with pytest.raises(ValueError, match="steps must be in"):
        pgd(model, x, y, steps=-1)
    with pytest.raises(ValueError, match="max_iter must be in"):
        deepfool(model, x, max_iter=0)


def test_pgd_matches_torchattacks(model_and_data):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = model_and_data
    ours = pgd(model, x, y, eps=0.1, alpha=0.01, steps=20, random_state=0)
    ref = torchattacks.PGD(model, eps=0.1, alpha=0.01, steps=20, random_start=True)(x, y)
    acc_ours = (model(ours).argmax(1) == y).float().mean().item()
    acc_ref = (model(ref).argmax(1) == y).float().mean().item()
    assert abs(acc_ours - acc_ref) <= 0.01 + 1 / len(y)
    fg_ours = fgsm(model, x, y, eps=0.1)
    fg_ref = torchattacks.FGSM(model, eps=0.1)(x, y)
    torch.testing.assert_close(fg_ours, fg_ref)  # deterministic: identical
    l2_ours = pgd(model, x, y, eps=1.0, alpha=0.2, steps=10, norm="2", random_state=0)
    l2_ref = torchattacks.PGDL2(model, eps=1.0, alpha=0.2, steps=10)(x, y)
    acc_ours = (model(l2_ours).argmax(1) == y).float().mean().item()
    acc_ref = (model(l2_ref).argmax(1) == y).float().mean().item()
    assert abs(acc_ours - acc_ref) <= 0.01 + 1 / len(y)


def test_accuracy_under_deepfool_is_the_share_not_fooled_within_eps(digits, fitted):
    _, X_test, _, y_test = digits
    X, y = X_test[:150], y_test[:150]
    # the definition, from deepfool itself: correct, and not flipped within L2 radius eps
    module = fitted.module_.eval()
    x = torch.from_numpy(X)
    _, dist, fooled = deepfool(module, x, max_iter=50)
    correct = (module(x).argmax(1) == torch.from_numpy(y)).numpy()
    dist, fooled = dist.numpy(), fooled.numpy()
    accs = []
    for eps in (0.0, 0.3, 0.8, 1.5):
        acc = adversarial_accuracy(fitted, X, y, attack="deepfool", eps=eps)
        expected = np.mean(correct & ~(fooled & (dist <= eps)))
        assert acc == pytest.approx(expected, abs=1 / len(y))
        accs.append(acc)
    assert accs[0] == pytest.approx(fitted.score(X, y))  # no perturbation has norm <= 0
    assert accs[0] > accs[1] > accs[2] > accs[3]  # robust points thin out as eps grows
    # the examples: within the L2 ball, and the estimator's own predictions agree
    X_adv = adversarial_examples(fitted, X, y, attack="deepfool", eps=0.8)
    assert (np.linalg.norm((X_adv - X).reshape(len(X), -1), axis=1) <= 0.8 + 1e-5).all()
    assert fitted.score(X_adv, y) == pytest.approx(accs[2])
    # the other L2 attack at the same radius: close (measured 0.21 against DeepFool's 0.17)
    pgd_acc = adversarial_accuracy(
        fitted, X, y, eps=0.8, norm="2", alpha=0.1, steps=20, random_state=0
    )
    assert abs(pgd_acc - accs[2]) <= 0.1


def test_deepfool_is_an_l2_attack(digits, fitted):
    _, X_test, _, y_test = digits
    with pytest.raises(ValueError, match="norm must be '2'"):
        adversarial_accuracy(fitted, X_test[:10], y_test[:10], attack="deepfool", norm="inf")
    acc = adversarial_accuracy(fitted, X_test[:10], y_test[:10], attack="deepfool", norm="2")
    assert 0.0 <= acc <= 1.0


def test_per_sample_eps_in_the_metric(digits, fitted):
    _, X_test, _, y_test = digits
    X, y = X_test[:100], y_test[:100]
    zeros = np.zeros(len(X))
    clean = fitted.score(X, y)
    for attack in ("pgd", "fgsm", "deepfool"):
        acc = adversarial_accuracy(fitted, X, y, attack=attack, eps=zeros, batch_size=32)
        assert acc == pytest.approx(clean)
    eps = np.where(np.arange(len(X)) < 50, 0.0, 0.2)
    X_adv = adversarial_examples(fitted, X, y, eps=eps, steps=5, batch_size=32, random_state=0)
    np.testing.assert_array_equal(X_adv[:50], X[:50])
    assert np.abs(X_adv[50:] - X[50:]).max() <= 0.2 + 1e-6
    with pytest.raises(ValueError, match=r"eps must be a scalar or have shape \(100,\)"):
        adversarial_accuracy(fitted, X, y, eps=np.zeros(3))
