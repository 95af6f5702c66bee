"""Adversarial attacks and training: native PGD against torchattacks, and the cost of a
PGD-k training epoch against natural epochs, each measured side by side in one run.

1. PGD (Linf, eps 0.3, alpha 0.01, 40 steps, random start) on 1,000 MNIST test
   images against a LeNet5: robustsk's ``pgd`` and ``torchattacks.PGD`` run
   alternately; robust accuracies and the time ratio (target >= 1.5 in
   robustsk's favour) are printed, with the cost of 41 bare forward/backward
   passes for reference.
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


def section_attack(X_train, y_train, X_test, y_test, n_attack, repeats):
    net = RobustNetClassifier(LeNet5, max_epochs=2, lr=1e-3, verbose=0, random_state=0).fit(
        X_train, y_train
    )
    model = net.module_.eval()
    x = torch.from_numpy(X_test[:n_attack])
    y = torch.from_numpy(y_test[:n_attack])
    try:
        import torchattacks
    except ImportError:
        print(
            "torchattacks is not installed (pip install --no-deps torchattacks); "
            "skipping the comparison"
        )
        return
    ta = torchattacks.PGD(model, eps=0.3, alpha=0.01, steps=40, random_start=True)
    times = {"robustsk pgd": [], "torchattacks PGD": [], "41 bare passes": []}
    accs = {}
    for r in range(repeats):
        start = time.perf_counter()
        adv = pgd(model, x, y, eps=0.3, alpha=0.01, steps=40, random_state=r)
        times["robustsk pgd"].append(time.perf_counter() - start)
        accs.setdefault("robustsk pgd", []).append(
            (model(adv).argmax(1) == y).float().mean().item()
        )
        torch.manual_seed(r)
        start = time.perf_counter()
        adv = ta(x, y)
        times["torchattacks PGD"].append(time.perf_counter() - start)
        accs.setdefault("torchattacks PGD", []).append(
            (model(adv).argmax(1) == y).float().mean().item()
        )
        start = time.perf_counter()
        bare_passes(model, x, y, 41)
        times["41 bare passes"].append(time.perf_counter() - start)
    ours = float(np.median(times["robustsk pgd"]))
    print(
        f"\n1. PGD Linf eps=0.3 alpha=0.01 40 steps, LeNet5, {n_attack} MNIST test images "
        f"(clean accuracy {net.score(X_test[:n_attack], y_test[:n_attack]):.3f})"
    )
    print(f"{'implementation':<20}{'median s':>10}{'robust acc':>12}{'time / robustsk':>17}")
    for name, ts in times.items():
        acc = f"{np.mean(accs[name]):.3f}" if name in accs else "-"
        print(f"{name:<20}{np.median(ts):>10.2f}{acc:>12}{np.median(ts) / ours:>17.2f}")
    ratio = float(np.median(times["torchattacks PGD"])) / ours
    gap = abs(np.mean(accs["robustsk pgd"]) - np.mean(accs["torchattacks PGD"]))
    print(
        f"torchattacks / robustsk time = {ratio:.2f} (target >= 1.5: "
        f"{'met' if ratio >= 1.5 else 'NOT met'}); robust accuracy gap {100 * gap:.2f} points"
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
