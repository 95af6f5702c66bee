"""Randomized smoothing and TRADES: robustsk against the published algorithms' own loops.

1. **Certification.** ``SmoothedClassifier.certify`` (CERTIFY of Cohen, Rosenfeld and
   Kolter 2019: ``n0`` draws select the class, ``n`` more bound its probability by
   Clopper-Pearson) against the reference implementation's structure: one example at a
   time, noise drawn in batches of ``--batch`` copies, counts by argmax, the bound from
   SciPy's beta quantile (as ``proportion_confint(method="beta")``). Same network, same
   sizes; the draws differ (each has its own generator), so the decisions are compared
   (same class, or both abstain) with the mean radius gap. The implementations run
   alternately, best of two.
2. **TRADES.** One epoch of ``AdversarialClassifier(loss="trades")`` against one of
   plain PGD adversarial training (``loss="ce"``, the same attack steps) and one natural
   epoch, and against a TRADES epoch written out in plain PyTorch the way the authors'
   ``trades_loss`` does it (KL attack from ``x + 0.001 N(0, 1)``, then clean cross-entropy
   plus ``beta`` KL): the cost of TRADES in robustsk is the cost of its passes.

Usage::

    python benchmarks/bench_smoothing.py [--mnist PATH] [--n-certify 50] [--draws 10000]
                                         [--n-train 5000] [--steps 10]

Without ``--mnist`` (or with a folder that lacks the files) the digits stand in.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import beta, norm
from sklearn.frozen import FrozenEstimator

from robustsk.estimators import (
    AdversarialClassifier,
    NoiseTrainedClassifier,
    RobustNetClassifier,
    SmoothedClassifier,
)
from robustsk.nets import LeNet5

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT / ".." / "shared" / "data" / "mnist"


def load(path, n_train, n_test):
    """MNIST (28 x 28) when the folder holds it, else the digits upsampled to 28 x 28."""
    try:
        from robustsk.datasets import load_mnist

        X, y = load_mnist(path, subset="train", return_X_y=True)
        Xt, yt = load_mnist(path, subset="test", return_X_y=True)
        return X[:n_train], y[:n_train], Xt[:n_test], yt[:n_test], "MNIST"
    except (OSError, ValueError):
        from robustsk.datasets import load_digits_images

        X, y = load_digits_images(return_X_y=True)
        X = np.kron(X, np.ones((1, 1, 3, 3), np.float32))[:, :, :28, :28]
        X = np.pad(X, ((0, 0), (0, 0), (2, 2), (2, 2)))[:, :, :28, :28]
        return X[:n_train], y[:n_train], X[-n_test:], y[-n_test:], "digits"


def reference_certify(module, X, sigma, n0, n, alpha, batch, seed):
    """CERTIFY as the reference code runs it: one example at a time."""
    gen = torch.Generator().manual_seed(seed)
    labels, radii = [], []

    def counts(x, num):
        c = torch.zeros(10, dtype=torch.long)
        remaining = num
        while remaining > 0:
            size = min(batch, remaining)
            remaining -= size
            copies = x.repeat((size, 1, 1, 1))
            noise = torch.randn(copies.shape, generator=gen) * sigma
            c += torch.bincount(module(copies + noise).argmax(1), minlength=10)
        return c

    with torch.no_grad():
        for x in torch.from_numpy(X):
            c_a = int(counts(x, n0).argmax())
            n_a = int(counts(x, n)[c_a])
            p_a = beta.ppf(alpha, n_a, n - n_a + 1) if n_a > 0 else 0.0
            if p_a < 0.5:
                labels.append(-1)
                radii.append(np.nan)
            else:
                labels.append(c_a)
                radii.append(sigma * norm.ppf(p_a))
    return np.array(labels), np.array(radii)


def section_certify(X, y, Xt, args):
    model = NoiseTrainedClassifier(
        LeNet5, sigma=args.sigma, max_epochs=2, lr=1e-3, verbose=0, random_state=0
    ).fit(X, y)
    module = model.module_.eval()
    X_c = Xt[: args.n_certify]
    smoothers = {
        batch: SmoothedClassifier(
            FrozenEstimator(model),  # already fitted: fit only records the classes
            sigma=args.sigma,
            n_select_draws=100,
            n_draws=args.draws,
            alpha=0.001,
            batch_size=batch,
            random_state=0,
        ).fit(X, y)
        for batch in (args.batch, 10000)  # the reference loop's batch, and robustsk's default
    }
    timings: dict = {}
    for _ in range(2):  # alternately, best of two: the order of the runs does not count
        for batch, smoothed in smoothers.items():
            start = time.perf_counter()
            ours, ours_r = smoothed.certify(X_c)
            timings[batch] = min(timings.get(batch, np.inf), time.perf_counter() - start)
        start = time.perf_counter()
        ref, ref_r = reference_certify(
            module, X_c, args.sigma, 100, args.draws, 0.001, args.batch, seed=0
        )
        t_ref = min(timings.get("ref", np.inf), time.perf_counter() - start)
        timings["ref"] = t_ref
    del timings["ref"]
    ours = np.where(np.isnan(ours_r), -1, ours)
    same = float(np.mean(ours == ref))
    both = ~np.isnan(ours_r) & ~np.isnan(ref_r)
    gap = float(np.mean(np.abs(ours_r[both] - ref_r[both]))) if both.any() else float("nan")
    print(
        f"1. CERTIFY, {len(X_c)} test images, n0=100, n={args.draws:,}, sigma {args.sigma}, "
        f"alpha 0.001 (LeNet5)"
    )
    print(f"   {'implementation':<34}{'seconds':>9}{'speed-up':>10}")
    label = f"reference loop, batch {args.batch}"
    print(f"   {label:<34}{t_ref:>9.2f}{'1.00x':>10}")
    for batch, t in timings.items():
        label = f"robustsk, batch_size={batch}"
        print(f"   {label:<34}{t:>9.2f}{t_ref / t:>9.2f}x")
    print(
        f"   same decision (class or abstain) on {100 * same:.1f}% of the images; mean radius "
        f"gap {gap:.4f} where both certify (independent draws); mean radius robustsk "
        f"{np.nanmean(ours_r):.3f}, reference {np.nanmean(ref_r):.3f}"
    )
    print()


def reference_trades_epoch(module, X, y, args):
    """One TRADES epoch the way the authors' ``trades_loss`` writes it (plain PyTorch)."""
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(X), generator=gen)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    for s in range(0, len(X), 128):
        idx = perm[s : s + 128]
        x, t = Xt[idx], yt[idx]
        module.eval()
        with torch.no_grad():
            p_clean = F.softmax(module(x), dim=1)
        x_adv = x + 0.001 * torch.randn(x.shape, generator=gen)
        for _ in range(args.steps):
            x_adv.requires_grad_(True)
            kl = F.kl_div(F.log_softmax(module(x_adv), dim=1), p_clean, reduction="sum")
            (grad,) = torch.autograd.grad(kl, [x_adv])
            x_adv = x_adv.detach() + args.alpha * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - args.eps), x + args.eps).clamp(0.0, 1.0)
        module.train()
        opt.zero_grad()
        logits = module(x)
        kl = F.kl_div(
            F.log_softmax(module(x_adv.detach()), dim=1),
            F.softmax(logits, dim=1),
            reduction="batchmean",
        )
        loss = F.cross_entropy(logits, t) + args.beta * kl
        loss.backward()
        opt.step()


def section_trades(X, y, args):
    common = dict(max_epochs=1, lr=1e-3, batch_size=128, verbose=0, random_state=0)
    attack = dict(eps=args.eps, alpha=args.alpha, steps=args.steps)
    runs = {
        "natural": lambda: RobustNetClassifier(LeNet5, **common).fit(X, y),
        f"PGD-{args.steps} adversarial (ce)": lambda: AdversarialClassifier(
            LeNet5, **attack, **common
        ).fit(X, y),
        f"TRADES, PGD-{args.steps} on KL": lambda: AdversarialClassifier(
            LeNet5, loss="trades", beta=args.beta, **attack, **common
        ).fit(X, y),
    }
    times = {}
    for name, run in runs.items():
        start = time.perf_counter()
        run()
        times[name] = time.perf_counter() - start
    torch.manual_seed(0)
    module = LeNet5((1, 28, 28), 10)
    start = time.perf_counter()
    reference_trades_epoch(module, X, y, args)
    t_ref = time.perf_counter() - start
    trades = times[f"TRADES, PGD-{args.steps} on KL"]
    print(
        f"2. One training epoch, {len(X):,} images, LeNet5, batch 128, eps {args.eps}, "
        f"{args.steps} steps of {args.alpha}"
    )
    print(f"   {'epoch':<40}{'seconds':>9}{'x natural':>11}")
    for name, t in times.items():
        print(f"   {name:<40}{t:>9.2f}{t / times['natural']:>10.2f}x")
    print(f"   {'TRADES, plain PyTorch (reference loop)':<40}{t_ref:>9.2f}")
    print(f"   robustsk TRADES / reference TRADES: {trades / t_ref:.2f}x the time")
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-certify", type=int, default=50)
    parser.add_argument("--draws", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=1000, help="reference loop's noise batch")
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--eps", type=float, default=0.3)
    parser.add_argument("--alpha", type=float, default=0.03)
    parser.add_argument("--beta", type=float, default=6.0)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    X, y, Xt, _, source = load(args.mnist, args.n_train, max(args.n_certify, 1))
    print(f"data: {source}, {len(X):,} training images; {torch.get_num_threads()} threads")
    print()
    section_certify(X, y, Xt, args)
    section_trades(X, y, args)
    print(
        "targets: certification faster than the reference loop at the same decisions; "
        "TRADES at the cost of its passes (about the reference loop's time)"
    )


if __name__ == "__main__":
    main()
