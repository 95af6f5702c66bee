"""GridSearchCV over a NoiseTrainedClassifier on digits: n_jobs=1 against n_jobs=2.

One small grid (noise levels x folds), searched three ways in one run:

* ``n_jobs=1``: the fits one after another in this process, torch on all cores;
* ``n_jobs=2``, capped: joblib's default process backend (loky), which gives each
  worker ``cpu_count() // 2`` threads (it sets ``OMP_NUM_THREADS`` in the workers;
  torch reads it) -- what a plain ``GridSearchCV(est, grid, n_jobs=2)`` does;
* ``n_jobs=2``, uncapped: the same with ``inner_max_num_threads=cpu_count()``, so each
  worker's torch uses every core (what happens when ``OMP_NUM_THREADS`` is set in the
  parent's environment, or with thread-based backends without
  :func:`robustsk.utils.torch_threads`).

Each row prints the torch threads per job (read in the workers), the time to start the
workers and import torch there (paid once per pool of workers), the search's wall time
on warm workers and its ratio to ``n_jobs=1``, side by side. Every search must find the
same best noise level.

Usage::

    python benchmarks/bench_grid_search.py [--n-train 1000] [--epochs 3] [--sigmas 0.1 0.3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from joblib import Parallel, cpu_count, delayed, parallel_config
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV


def _worker_threads(_):
    import torch

    import robustsk.estimators  # noqa: F401  (the import a fit pays in a fresh worker)

    return torch.get_num_threads()


def search(X, y, args, n_jobs):
    from robustsk.estimators import NoiseTrainedClassifier

    est = NoiseTrainedClassifier(
        max_epochs=args.epochs, lr=1e-2, batch_size=64, verbose=0, random_state=0
    )
    grid = {"sigma": list(args.sigmas)}
    start = time.perf_counter()
    gs = GridSearchCV(est, grid, cv=args.cv, n_jobs=n_jobs, refit=False).fit(X, y)
    return time.perf_counter() - start, gs.best_params_["sigma"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="accepted for run_all.py; this benchmark uses digits")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cv", type=int, default=2)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.1, 0.3])
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X, y = (X[: args.n_train] / 16.0).astype(np.float32), y[: args.n_train]
    n_cpu = cpu_count()
    n_fits = len(args.sigmas) * args.cv
    print(
        f"GridSearchCV over NoiseTrainedClassifier (MLP), digits n={len(y)}, "
        f"{args.epochs} epochs, {n_fits} fits; {n_cpu} cores, torch {torch.__version__}"
    )
    rows = []
    base_time, base_sigma = search(X, y, args, 1)
    rows.append(("n_jobs=1", torch.get_num_threads(), 0.0, base_time, base_sigma))
    for label, inner in (("n_jobs=2, capped (default)", None), ("n_jobs=2, uncapped", n_cpu)):
        with parallel_config(backend="loky", inner_max_num_threads=inner):
            start = time.perf_counter()
            threads = Parallel(n_jobs=2)(delayed(_worker_threads)(i) for i in range(2))
            startup = time.perf_counter() - start
            wall, sigma = search(X, y, args, 2)
        rows.append((label, max(threads), startup, wall, sigma))

    print()
    print(f"| {'setting':<28} | threads/job | start s | search s | vs n_jobs=1 | best sigma |")
    print(f"|{'-' * 30}|-------------|---------|----------|-------------|------------|")
    for label, threads, startup, wall, sigma in rows:
        print(
            f"| {label:<28} | {threads:>11} | {startup:>7.2f} | {wall:>8.2f} | "
            f"{wall / base_time:>10.2f}x | {sigma:>10} |"
        )
    same = all(r[4] == base_sigma for r in rows)
    print(f"\nsame best sigma in every search: {same}")


if __name__ == "__main__":
    main()
