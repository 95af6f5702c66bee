"""Adaptive copies for the randomized scores: forward passes saved and selection kept.

On an MNIST pool (60,000 images by default), a LeNet5 trained with Gaussian-noise
augmentation (sigma 0.5, 2 epochs) selects B=100 examples per side (200 in all) with
``noise_entropy`` and 200 with ``noise_uncertainty`` at M=50 copies, and 200 with ``bald``
and ``dropout_entropy`` at T=50 MC-dropout passes (``--mc-draws``; dropout 0.1 inserted
before LeNet5's linear layers), for each seed:

* twice with all copies (seeds s and s+100): how much two full draws agree;
* once adaptively (seed s+200): how much the adaptive selection agrees with each full one.

Targets (issue "faster than the raw passes", point 1): >= 3x fewer forward passes, and
adaptive-vs-full overlap >= 90% of full-vs-full overlap, over 3 seeds.

Run: ``python benchmarks/bench_adaptive.py --mnist DIR [--pool 60000] [--seeds 3]``
(the pool is the training images followed by the test images).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import robustsk.query._mc_dropout as mc_module
import robustsk.query._noise as noise_module
from robustsk.datasets import load_mnist
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.nets import LeNet5
from robustsk.query import bald, dropout_entropy, noise_entropy, noise_uncertainty

STRATEGIES = {f.__name__: f for f in (noise_entropy, noise_uncertainty, bald, dropout_entropy)}


def _counting():
    """Count the forward passes of the adaptive paths (noise copies and MC passes)."""
    seen = []
    original = noise_module._pool_noisy_predictions
    original_mc = mc_module._mc_passes_block

    def counting(estimator, X, sigma, n_draws, *args):
        seen.append(X.shape[0] * n_draws)
        return original(estimator, X, sigma, n_draws, *args)

    def counting_mc(X, *, n_draws, **kwargs):
        seen.append(X.shape[0] * n_draws)
        return original_mc(X, n_draws=n_draws, **kwargs)

    noise_module._pool_noisy_predictions = counting
    mc_module._mc_passes_block = counting_mc
    return seen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", required=True, help="folder of the MNIST idx files")
    parser.add_argument("--pool", type=int, default=60000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--per-side", type=int, default=100)
    parser.add_argument("--n-train", type=int, default=20000, help="training images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--mc-draws", type=int, default=50, help="T of bald/dropout_entropy")
    parser.add_argument(
        "--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES)
    )
    args = parser.parse_args(argv)
    X, y = load_mnist(args.mnist, return_X_y=True)
    Xt, _ = load_mnist(args.mnist, subset="test", return_X_y=True)
    est = NoiseTrainedClassifier(
        LeNet5,
        sigma=0.5,
        max_epochs=args.epochs,
        lr=1e-3,
        batch_size=128,
        verbose=0,
        random_state=0,
    ).fit(X[: args.n_train], y[: args.n_train])
    pool = np.concatenate([X, Xt])[: args.pool]
    sigma = np.full(len(pool), 0.5, dtype=np.float32)
    n = 2 * args.per_side
    seen = _counting()
    print(
        f"pool {len(pool):,}, {n} picks, M=50 (noise) / T={args.mc_draws} (MC dropout), "
        f"{args.seeds} seeds, LeNet5 (GNT sigma 0.5)"
    )
    print(
        f"{'strategy':<18} {'full-vs-full':>13} {'adaptive-vs-full':>17} {'overlap ratio':>14} "
        f"{'passes':>8} {'time full':>10} {'time adaptive':>14}"
    )
    for strategy in (STRATEGIES[name] for name in args.strategies):
        mc = strategy in (bald, dropout_entropy)
        draws = args.mc_draws if mc else 50
        kwargs = {} if mc else {"sample_sigma": sigma}
        ff, af, passes, t_full, t_adapt = [], [], [], [], []
        for s in range(args.seeds):
            picks = []
            for seed, adaptive in ((s, False), (s + 100, False), (s + 200, True)):
                seen.clear()
                t0 = time.perf_counter()
                idx, _ = strategy(
                    est,
                    pool,
                    n,
                    n_draws=draws,
                    random_state=seed,
                    adaptive=adaptive,
                    **kwargs,
                )
                (t_adapt if adaptive else t_full).append(time.perf_counter() - t0)
                if adaptive:
                    passes.append(len(pool) * draws / sum(seen))
                picks.append(set(idx.tolist()))
            ff.append(len(picks[0] & picks[1]) / n)
            af += [len(picks[2] & picks[0]) / n, len(picks[2] & picks[1]) / n]
        print(
            f"{strategy.__name__:<18} {np.mean(ff):>7.3f}+-{np.std(ff):.3f} "
            f"{np.mean(af):>11.3f}+-{np.std(af):.3f} {np.mean(af) / np.mean(ff):>14.3f} "
            f"{np.mean(passes):>7.2f}x {np.mean(t_full):>9.1f}s {np.mean(t_adapt):>13.1f}s"
        )
    print("targets: passes >= 3x; overlap ratio >= 0.90")


if __name__ == "__main__":
    main()
