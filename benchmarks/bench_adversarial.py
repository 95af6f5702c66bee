"""Adversarial attacks and training: native PGD against torchattacks, and the cost of a
PGD-k training epoch against natural epochs, each measured side by side in one run.

1. PGD (Linf, 40 steps, random start) at three sizes: a tiny MLP on about
   3,000 digits (eps 0.1), a LeNet5 on 1,000 MNIST test images (eps 0.3) and a
   CNN-7 of width 16 on 256 CIFAR-size inputs (eps 8/255): robustsk's ``pgd``
   and ``torchattacks.PGD`` run alternately; robust accuracies and the time
   ratio (target: robustsk at least as fast at every size) are printed, with
   the cost of 41 bare forward/backward passes for reference.
2. One epoch of ``AdversarialClassifier(steps=k)`` against one natural epoch of
   the same net and data (target <= 1.1 x (k + 1)).

Usage::

    python benchmarks/bench_adversarial.py [--mnist PATH] [--n-attack 1000] [--n-train 5000]
                                           [--k 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from robustsk.attacks import pgd
from robustsk.datasets import load_mnist
from robustsk.estimators import AdversarialClassifier, RobustNetClassifier
from robustsk.nets import LeNet5

DEFAULT_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


def bare_passes(model, x, y, n):
    """n forward/backward passes to the input: the floor any PGD implementation pays."""
    for _ in range(n):
        xa = x.clone().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(xa), y, reduction="sum"), xa)


def _attack_models(X_train, y_train, X_test, y_test, n_attack):
    """(name, model, x, y, eps, alpha) of the three sizes: a tiny MLP on the digits, LeNet5
    on MNIST, CNN-7 (width 16) on CIFAR-size inputs."""
    from sklearn.datasets import load_digits

    from robustsk.nets import CNN7, MLP

    digits = load_digits()
    Xd = (digits.images / 16.0).astype(np.float32)[:, None]
    yd = digits.target.astype(np.int64)
    mlp = RobustNetClassifier(
        MLP, module__hidden_units=(32,), max_epochs=5, lr=1e-2, verbose=0, random_state=0
    ).fit(Xd, yd)
    reps = -(-3000 // len(Xd))  # about 3,000 inputs
    x_d = torch.from_numpy(np.concatenate([Xd] * reps)[:3000])
    y_d = torch.from_numpy(np.concatenate([yd] * reps)[:3000])
    lenet = RobustNetClassifier(LeNet5, max_epochs=2, lr=1e-3, verbose=0, random_state=0).fit(
        X_train, y_train
    )
    rng = np.random.default_rng(0)
    Xc = rng.random((512, 3, 32, 32), dtype=np.float32)
    yc = rng.integers(0, 10, 512)
    cnn = RobustNetClassifier(
        CNN7, module__width=16, module__hidden_units=128, max_epochs=1, verbose=0, random_state=0
    ).fit(Xc, yc)
    n_cnn = min(n_attack, 256)
    return [
        ("MLP, digits", mlp.module_.eval(), x_d, y_d, 0.1, 0.01),
        (
            "LeNet5, MNIST",
            lenet.module_.eval(),
            torch.from_numpy(X_test[:n_attack]),
            torch.from_numpy(y_test[:n_attack]),
            0.3,
            0.01,
        ),
        (
            "CNN-7/16, 3x32x32",
            cnn.module_.eval(),
            torch.from_numpy(Xc[:n_cnn]),
            torch.from_numpy(yc[:n_cnn]),
            8 / 255,
            2 / 255,
        ),
    ]


def section_attack(X_train, y_train, X_test, y_test, n_attack, repeats):
    try:
        import torchattacks
    except ImportError:
        print(
            "torchattacks is not installed (pip install --no-deps torchattacks); "
            "skipping the comparison"
        )
        return
    print(
        "\n1. PGD Linf, 40 steps, robustsk's pgd against torchattacks.PGD (random start), "
        f"median of {repeats}"
    )
    print(
        f"{'network':<20}{'inputs':>7}{'robustsk s':>12}{'torchattacks s':>16}"
        f"{'ta / rs':>9}{'41 bare s':>11}{'rs / bare':>11}{'robust acc rs / ta':>20}"
    )
    worst = float("inf")
    for name, model, x, y, eps, alpha in _attack_models(X_train, y_train, X_test, y_test, n_attack):
        ta = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=40, random_start=True)
        times = {"rs": [], "ta": [], "bare": []}
        accs = {"rs": [], "ta": []}
        for r in range(repeats):
            start = time.perf_counter()
            adv = pgd(model, x, y, eps=eps, alpha=alpha, steps=40, random_state=r)
            times["rs"].append(time.perf_counter() - start)
            accs["rs"].append((model(adv).argmax(1) == y).float().mean().item())
            torch.manual_seed(r)
            start = time.perf_counter()
            adv = ta(x, y)
            times["ta"].append(time.perf_counter() - start)
            accs["ta"].append((model(adv).argmax(1) == y).float().mean().item())
            start = time.perf_counter()
            bare_passes(model, x, y, 41)
            times["bare"].append(time.perf_counter() - start)
        rs, tav, bare = (float(np.median(times[k])) for k in ("rs", "ta", "bare"))
        worst = min(worst, tav / rs)
        print(
            f"{name:<20}{len(x):>7}{rs:>12.3f}{tav:>16.3f}{tav / rs:>9.2f}{bare:>11.3f}"
            f"{rs / bare:>11.2f}{np.mean(accs['rs']):>11.3f} / {np.mean(accs['ta']):.3f}"
        )
    print(
        f"slowest size: torchattacks / robustsk time = {worst:.2f} (target >= 1.0 at every "
        f"size: {'met' if worst >= 1.0 else 'NOT met'})"
    )


def section_training(X, y, k, repeats):
    common = dict(max_epochs=1, lr=1e-3, batch_size=128, verbose=0, random_state=0)
    natural, adversarial = [], []
    for _ in range(repeats):
        net = RobustNetClassifier(LeNet5, **common).fit(X, y)
        natural.append(net.history[-1, "dur"])
        net = AdversarialClassifier(LeNet5, eps=0.3, alpha=0.01, steps=k, **common).fit(X, y)
        adversarial.append(net.history[-1, "dur"])
    nat, adv = float(np.median(natural)), float(np.median(adversarial))
    ratio = adv / nat
    print(f"\n2. Training epoch, LeNet5, {len(X)} MNIST images, batch 128")
    print(f"{'training':<24}{'median epoch s':>16}{'x natural':>11}")
    print(f"{'natural':<24}{nat:>16.2f}{1.0:>11.2f}")
    print(f"{f'PGD-{k}':<24}{adv:>16.2f}{ratio:>11.2f}")
    print(
        f"PGD-{k} epoch = {ratio / (k + 1):.3f} x (k+1) natural epochs (target <= 1.1: "
        f"{'met' if ratio <= 1.1 * (k + 1) else 'NOT met'})"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--n-attack", type=int, default=1000)
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    X_train, y_train = load_mnist(
        args.mnist, subset="train", n_samples=args.n_train, return_X_y=True
    )
    X_test, y_test = load_mnist(args.mnist, subset="test", return_X_y=True)
    section_attack(X_train, y_train, X_test, y_test, args.n_attack, args.repeats)
    section_training(X_train, y_train, args.k, args.repeats)


if __name__ == "__main__":
    main()
