"""Evaluation users trust: attack lists as the per-point worst case, torchattacks instances,
callables, Carlini-Wagner L2 and PGD-L2, and which attack broke each point."""

import numpy as np
import pytest

from robustsk.attacks import pgd
from robustsk.estimators import RobustNetClassifier
from robustsk.metrics import adversarial_accuracy, adversarial_examples, adversarial_report
from robustsk.nets import MLP


@pytest.fixture(scope="module")
def setting(digits):
    X_train, X_test, y_train, y_test = digits
    net = RobustNetClassifier(
        MLP, module__hidden_units=(32,), max_epochs=8, lr=1e-2, verbose=0, random_state=0
    ).fit(X_train, y_train)
    return net, X_test[:150], y_test[:150]


def test_a_list_is_the_per_point_worst_case(setting):
    net, X, y = setting
    kw = dict(eps=0.1, steps=10, random_state=0)
    fgsm = adversarial_accuracy(net, X, y, attack="fgsm", **kw)
    pgd_ = adversarial_accuracy(net, X, y, attack="pgd", **kw)
    both = adversarial_accuracy(net, X, y, attack=["fgsm", "pgd"], **kw)
    assert both <= min(fgsm, pgd_) + 1e-12
    report = adversarial_report(net, X, y, attack=["fgsm", "pgd"], **kw)
    assert report.accuracy == pytest.approx(both)
    assert report.clean_accuracy == pytest.approx(net.score(X, y))
    assert set(np.unique(report.broken_by)) <= {"", "clean", "fgsm", "pgd"}
    assert report.counts["fgsm"] == round(len(X) * (report.clean_accuracy - report.after["fgsm"]))
    assert report.after["fgsm"] == pytest.approx(fgsm, abs=1 / len(X))  # fgsm first: all points
    assert report.after["pgd"] == pytest.approx(both)
    np.testing.assert_array_equal(report.robust, report.broken_by == "")
    # the worst-case examples: each broken point's example fools the model
    X_adv = adversarial_examples(net, X, y, attack=["fgsm", "pgd"], **kw)
    pred = net.predict(X_adv)
    broken = (report.broken_by == "fgsm") | (report.broken_by == "pgd")
    assert (pred[broken] != y[broken]).all() and (pred[report.robust] == y[report.robust]).all()
    assert np.abs(X_adv - X).max() <= 0.1 + 1e-6


def test_pgd_l2_cw_and_deepfool_are_l2_threats(setting):
    net, X, y = setting
    l2 = adversarial_accuracy(
        net, X, y, attack="pgd", norm="2", eps=0.5, steps=20, alpha=0.1, random_state=0
    )
    cw = adversarial_accuracy(net, X, y, attack="cw", eps=0.5, steps=50, random_state=0)
    clean = net.score(X, y)
    assert 0 <= l2 < clean and 0 <= cw < clean
    X_adv = adversarial_examples(net, X, y, attack="cw", eps=0.5, steps=50)
    assert (np.linalg.norm((X_adv - X).reshape(len(X), -1), axis=1) <= 0.5 + 1e-5).all()
    report = adversarial_report(
        net,
        X,
        y,
        attack=[{"attack": "pgd", "norm": "2", "alpha": 0.1, "steps": 20}, "cw"],
        eps=0.5,
        random_state=0,
    )
    assert set(report.after) == {"pgd(alpha=0.1, norm=2, steps=20)", "cw"}
    # the worst case is no better than either attack alone, up to one point: the report
    # draws PGD's random start from its own seed stream (unseeded, the two calls once
    # gave 0.513 against 0.507 and failed an exact comparison)
    assert report.accuracy <= min(l2, cw) + 1 / len(X) + 1e-12
    with pytest.raises(ValueError, match="smallest L2 perturbation"):
        adversarial_accuracy(net, X, y, attack="cw", norm="inf")


def test_callables_and_torchattacks_instances(setting):
    net, X, y = setting
    calls = []

    def my_pgd(model, x, t):
        calls.append(len(x))
        return pgd(model, x, t, eps=0.1, alpha=0.02, steps=10, random_state=0)

    acc = adversarial_accuracy(net, X, y, attack=my_pgd)
    assert calls and 0 <= acc < net.score(X, y)
    report = adversarial_report(net, X, y, attack=["fgsm", my_pgd], eps=0.1)
    assert "my_pgd" in report.after
    torchattacks = pytest.importorskip("torchattacks")
    atk = torchattacks.PGD(net.module_, eps=0.1, alpha=0.02, steps=10)
    ta = adversarial_accuracy(net, X, y, attack=atk)
    assert abs(ta - acc) <= 0.05  # two PGD-10 at the same radius
    report = adversarial_report(
        net, X, y, attack=["fgsm", atk, torchattacks.FGSM(net.module_, 0.1)]
    )
    assert list(report.after) == ["fgsm", "PGD", "FGSM"]
    after = list(report.after.values())
    assert after == sorted(after, reverse=True)  # each attack can only remove robust points
    assert sum(report.counts.values()) + report.robust.sum() == len(X)


def test_bad_attacks_are_refused_before_any_work(setting):
    net, X, y = setting
    for attack, err, match in [
        ([], ValueError, "empty"),
        ({"attack": "pgd", "eps": 0.2}, ValueError, "may override only"),
        ({"steps": 3}, ValueError, "needs 'attack'"),
        (42, TypeError, "attack must be a name"),
        (["pgd", "carlini"], ValueError, "attack"),
    ]:
        with pytest.raises(err, match=match):
            adversarial_accuracy(net, X, y, attack=attack)

    def wrong_shape(model, x, t):
        return x[:1]

    with pytest.raises(ValueError, match="must return a tensor of the input's shape"):
        adversarial_accuracy(net, X, y, attack=wrong_shape)
