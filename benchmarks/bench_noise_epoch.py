"""Epoch time of NoiseTrainedClassifier against a plain skorch NeuralNetClassifier.

LeNet5 on MNIST, the same optimizer, batch size and data; the two are run in
alternation in one process and the ratio of their median epoch times is
printed (target: <= 1.15). Usage::

    python benchmarks/bench_noise_epoch.py [--mnist PATH] [--n-train N] [--epochs E] [--repeats R]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier

from robustsk.datasets import load_mnist
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.nets import LeNet5

DEFAULT_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


def make_nets(device, epochs):
    common = dict(
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=128,
        max_epochs=epochs,
        train_split=None,
        verbose=0,
        device=device,
    )
    plain = NeuralNetClassifier(
        LeNet5, module__input_shape=(1, 28, 28), module__n_classes=10, **common
    )
    noise = NoiseTrainedClassifier(LeNet5, sigma=0.3, random_state=0, **common)
    return {"skorch NeuralNetClassifier": plain, "NoiseTrainedClassifier": noise}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)

    X, y = load_mnist(args.mnist, subset="train", n_samples=args.n_train, return_X_y=True)
    epoch_times = {}
    fit_times = {}
    for _ in range(args.repeats):  # alternate so both see the same machine state
        for name, net in make_nets(args.device, args.epochs).items():
            start = time.perf_counter()
            net.fit(X, y)
            fit_times.setdefault(name, []).append((time.perf_counter() - start) / args.epochs)
            epoch_times.setdefault(name, []).extend(net.history[:, "dur"])

    base = "skorch NeuralNetClassifier"
    print(
        f"LeNet5 on {len(X)} MNIST images, batch 128, {args.epochs} epochs x {args.repeats} "
        f"repeats, device={args.device}, torch threads={torch.get_num_threads()}"
    )
    print(f"{'estimator':<28}{'median epoch s':>16}{'fit s / epoch':>16}{'ratio':>8}")
    for name in epoch_times:
        med = float(np.median(epoch_times[name]))
        fit = float(np.median(fit_times[name]))
        ratio = med / float(np.median(epoch_times[base]))
        print(f"{name:<28}{med:>16.3f}{fit:>16.3f}{ratio:>8.3f}")
    ratio = float(np.median(epoch_times["NoiseTrainedClassifier"])) / float(
        np.median(epoch_times[base])
    )
    print(
        f"\nepoch-time ratio NoiseTrainedClassifier / skorch = {ratio:.3f} "
        f"(target <= 1.15: {'met' if ratio <= 1.15 else 'NOT met'})"
    )
    return ratio


if __name__ == "__main__":
    main()
