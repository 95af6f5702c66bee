"""Training epochs on CIFAR-size input (3 x 32 x 32) as multiples of a natural epoch.

PreAct ResNet-18: natural, Gaussian-noise (GNT) and PGD-10 adversarial training;
CNN-7: natural and CROWN-IBP certified training (and CROWN-IBP on its loss-fusion
bound). Every variant trains one epoch on the same slice, the variants run in
alternation ``--repeats`` times, and the median epoch time of each is printed beside
its network's natural epoch. Then ``channels_last`` and ``torch.compile`` are tried
on a plain natural training step of the ResNet (same batches), and kept only where
they help. Reads CIFAR-10 with ``--cifar PATH`` (the python batches); without it the
slice is random images of CIFAR's shape, which time the same. Usage::

    python benchmarks/bench_cifar_epoch.py [--cifar PATH] [--n-train N] [--width W]
        [--repeats R] [--device cuda] [--no-compile]

``--width 64`` is the paper-size ResNet (the default 16 is a quarter-width one that
keeps the CPU run to minutes; ratios to the natural epoch are what it measures).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from robustsk.datasets import load_cifar10
from robustsk.estimators import (
    AdversarialClassifier,
    CertifiedBudgetClassifier,
    NoiseTrainedClassifier,
    RobustNetClassifier,
)
from robustsk.nets import CIFAR10_MEAN, CIFAR10_STD, CNN7, PreActResNet18

NORMALIZE = (CIFAR10_MEAN, CIFAR10_STD)


def variants(args):
    """``{name: (network family, estimator)}``, one epoch each."""
    common = dict(
        max_epochs=1,
        batch_size=args.batch_size,
        lr=1e-3,
        verbose=0,
        random_state=0,
        device=args.device,
    )
    resnet = dict(module__width=args.width, module__normalize=NORMALIZE)
    cnn7 = dict(module__width=args.width, module__hidden_units=8 * args.width)
    cnn7["module__normalize"] = NORMALIZE
    return {
        "ResNet-18 natural": ("resnet", RobustNetClassifier(PreActResNet18, **resnet, **common)),
        "ResNet-18 GNT (sigma 0.1)": (
            "resnet",
            NoiseTrainedClassifier(PreActResNet18, sigma=0.1, **resnet, **common),
        ),
        "ResNet-18 PGD-10 (8/255)": (
            "resnet",
            AdversarialClassifier(
                PreActResNet18, eps=8 / 255, alpha=2 / 255, steps=10, **resnet, **common
            ),
        ),
        "CNN-7 natural": ("cnn7", RobustNetClassifier(CNN7, **cnn7, **common)),
        "CNN-7 CROWN-IBP (8/255)": (
            "cnn7",
            CertifiedBudgetClassifier(
                CNN7,
                eps0=8 / 255,
                budget_mode="uniform",
                ramp_start=0,
                ramp_length=1000,
                **cnn7,
                **common,
            ),  # fmt: skip
        ),
        "CNN-7 CROWN-IBP, loss fusion": (
            "cnn7",
            CertifiedBudgetClassifier(
                CNN7,
                eps0=8 / 255,
                budget_mode="uniform",
                loss_fusion=True,
                ramp_start=0,
                ramp_length=1000,
                **cnn7,
                **common,
            ),  # fmt: skip
        ),
    }


def plain_steps(X, y, args, *, channels_last=False, compile_=False):
    """Seconds of one natural epoch of the ResNet in a bare torch loop."""
    torch.manual_seed(0)
    model = PreActResNet18(width=args.width, normalize=NORMALIZE).to(args.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile_:
        model = torch.compile(model)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    Xt = torch.as_tensor(X, device=args.device)
    yt = torch.as_tensor(y, device=args.device)
    if channels_last:
        Xt = Xt.contiguous(memory_format=torch.channels_last)

    def epoch():
        for start in range(0, len(Xt), args.batch_size):
            xb, yb = Xt[start : start + args.batch_size], yt[start : start + args.batch_size]
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    epoch()  # warm-up (and compilation)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar", default=None)
    parser.add_argument("--mnist", default=None, help="accepted from the runners, not used")
    parser.add_argument("--n-train", type=int, default=256)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args(argv)

    if args.cifar:
        X, y = load_cifar10(args.cifar, n_samples=args.n_train, return_X_y=True)
        source = "CIFAR-10"
    else:
        rng = np.random.default_rng(0)
        X = rng.random((args.n_train, 3, 32, 32), dtype=np.float32)
        y = (np.arange(args.n_train) % 10).astype(np.int64)
        source = "random images of CIFAR's shape"
    print(
        f"{args.n_train} {source}, 3 x 32 x 32, batch {args.batch_size}, width {args.width}, "
        f"{args.repeats} repeats, device={args.device}, torch threads={torch.get_num_threads()}"
    )
    times: dict[str, list[float]] = {}
    family: dict[str, str] = {}
    variants(args)["ResNet-18 natural"][1].fit(X, y)  # warm-up: one-time costs off the clock
    for _ in range(args.repeats):  # alternate, so every variant sees the same machine state
        for name, (fam, est) in variants(args).items():
            est.fit(X, y)
            times.setdefault(name, []).append(float(est.history_[-1]["dur"]))
            family[name] = fam
    base = {"resnet": "ResNet-18 natural", "cnn7": "CNN-7 natural"}
    print(f"\n{'training':<32}{'median epoch s':>16}{'x natural':>12}")
    for name, ts in times.items():
        med = float(np.median(ts))
        ratio = med / float(np.median(times[base[family[name]]]))
        print(f"{name:<32}{med:>16.3f}{ratio:>12.2f}")

    print("\nbare natural ResNet-18 epoch (torch loop), and what channels_last / compile give:")
    plain = plain_steps(X, y, args)
    rows = [("contiguous (NCHW)", plain)]
    rows.append(("channels_last", plain_steps(X, y, args, channels_last=True)))
    if not args.no_compile:
        try:
            rows.append(("torch.compile", plain_steps(X, y, args, compile_=True)))
        except Exception as exc:  # no compiler toolchain, unsupported backend, ...
            print(f"  torch.compile unavailable here: {type(exc).__name__}: {exc}"[:200])
    for name, seconds in rows:
        speedup = plain / seconds
        verdict = "keep (>= 1.3x)" if speedup >= 1.3 else "no gain worth an option"
        verdict = verdict if name != "contiguous (NCHW)" else "the baseline"
        print(f"  {name:<20}{seconds:>10.3f} s{speedup:>8.2f}x  {verdict}")


if __name__ == "__main__":
    main()
