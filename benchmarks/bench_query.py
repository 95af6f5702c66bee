"""Acquisition strategies on a 60,000-image MNIST pool: selection time, memory and overhead.

Three measurements, each printed as a table in one run:

1. Selection time given model outputs: the probability-only strategies and DRE
   pick 200 from precomputed probabilities (target <= 0.5 s each), with the
   peak of Python-side allocations (tracemalloc).
2. Core-set: greedy k-center on 84-d embeddings with 5,000 labelled centres
   (target <= 5 s), against a per-candidate Python loop timed on a few steps
   and extrapolated.
3. Model-heavy strategies (bald, egl, dfal, noise_entropy) on a LeNet5: total
   time against the raw forward/backward passes they need, timed alone on the
   same batches (best of 2 runs each; target ratio <= 1.3), and the process's
   peak resident memory.
4. Pool scoring in joblib blocks (``n_jobs``): noise_entropy and bald with
   ``n_jobs=None`` (one process, torch's threads), ``n_jobs=1`` (the same
   blocks in this process) and ``n_jobs=2`` (two worker processes), as time
   ratios to ``n_jobs=None``, and whether the selections for 1 and 2 jobs
   agree (one seed per block: they must).

Usage::

    python benchmarks/bench_query.py [--mnist PATH] [--heavy-pool N] [--pairs K]
        [--sections probability coreset heavy parallel]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from robustsk import query as Q
from robustsk.datasets import load_mnist
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.nets import LeNet5

DEFAULT_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


class Precomputed:
    """A classifier whose predict_proba returns stored outputs (rows by position)."""

    def __init__(self, proba):
        self.proba = proba

    def predict_proba(self, X):
        return self.proba[np.asarray(X)[:, 0]]


def timed(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def paired(fn, base, pairs):
    """Time ``fn`` and ``base`` alternately ``pairs`` times (load on the machine hits both):
    the medians of their times and of the per-pair ratios."""
    t_fn, t_base = [], []
    for _ in range(pairs):
        t_fn.append(timed(fn, 1)[0])
        t_base.append(timed(base, 1)[0])
    ratios = np.array(t_fn) / np.array(t_base)
    return float(np.median(t_fn)), float(np.median(t_base)), ratios


def peak_python_mb(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def section_probability(n_pool, n_select):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(n_pool, 10)) * 3
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    clf = Precomputed(proba)
    X_pool = np.arange(n_pool)[:, None]  # each row names its stored output
    print(
        f"\n1. Selection given model outputs: pool {n_pool:,}, select {n_select} (target <= 0.5 s)"
    )
    print(f"{'strategy':<18}{'seconds':>10}{'peak MB (py)':>14}{'target':>8}")
    for name in [
        "random",
        "max_entropy",
        "least_confidence",
        "margin",
        "deepgini",
        "mcp",
        "dre",
        "clean_uncertainty",
    ]:
        fn = getattr(Q, name)
        sec, _ = timed(lambda fn=fn: fn(clf, X_pool, n_select, random_state=0))
        mb = peak_python_mb(lambda fn=fn: fn(clf, X_pool, n_select, random_state=0))
        print(f"{name:<18}{sec:>10.4f}{mb:>14.1f}{'met' if sec <= 0.5 else 'NOT met':>8}")


def section_coreset(n_pool, n_centres, n_select, dim=84):
    rng = np.random.default_rng(0)
    pool = torch.from_numpy(rng.normal(size=(n_pool, dim)).astype(np.float32))
    centres = torch.from_numpy(rng.normal(size=(n_centres, dim)).astype(np.float32))
    sec, _ = timed(lambda: Q.greedy_k_center(pool, centres, n_select, rng), repeats=1)

    # robustAL-style loop: for each step, for each candidate, min distance to all centres.
    pool_np, centres_np = pool.numpy(), centres.numpy()
    probe = 200
    start = time.perf_counter()
    for i in range(probe):
        np.min(np.linalg.norm(centres_np - pool_np[i], axis=1))
    per_candidate = (time.perf_counter() - start) / probe
    loop_estimate = per_candidate * n_pool * n_select
    print(
        f"\n2. Core-set: pool {n_pool:,} x {dim}-d, {n_centres:,} centres, select {n_select} "
        "(target <= 5 s)"
    )
    print(f"{'implementation':<34}{'seconds':>12}{'ratio':>10}")
    print(f"{'robustsk greedy_k_center':<34}{sec:>12.2f}{1.0:>10.1f}")
    print(
        f"{'per-candidate loop (extrapolated)':<34}{loop_estimate:>12.0f}"
        f"{loop_estimate / sec:>10.0f}"
    )
    print(f"target: {'met' if sec <= 5 else 'NOT met'}")


def raw_forward(module, X, batch_size, repeats=1):
    with torch.no_grad():
        for _ in range(repeats):
            for s in range(0, len(X), batch_size):
                module(torch.from_numpy(X[s : s + batch_size]))


def raw_forward_backward(module, X, batch_size, n_backward):
    for s in range(0, len(X), batch_size):
        x = torch.from_numpy(X[s : s + batch_size]).requires_grad_(False)
        out = torch.log_softmax(module(x), dim=1)
        params = list(module.parameters())
        for c in range(n_backward):
            torch.autograd.grad(out[:, c].sum(), params, retain_graph=c < n_backward - 1)


def raw_input_gradients(module, X, batch_size, n_classes, iterations):
    for _ in range(iterations):
        for s in range(0, len(X), batch_size):
            x = torch.from_numpy(X[s : s + batch_size]).requires_grad_(True)
            out = module(x)
            for c in range(n_classes):
                torch.autograd.grad(out[:, c].sum(), x, retain_graph=c < n_classes - 1)


def section_heavy(X_train, y_train, X_pool, pairs=3):
    net = NoiseTrainedClassifier(LeNet5, max_epochs=1, lr=1e-3, verbose=0, random_state=0).fit(
        X_train, y_train
    )
    module = net.module_.eval()
    n = len(X_pool)
    rows = []

    t, _ = timed(lambda: Q.bald(net, X_pool, 200, random_state=0, batch_size=1024), 2)
    raw, _ = timed(lambda: raw_forward(module, X_pool, 1024, repeats=10), 2)
    rows.append(("bald (T=10)", t, raw, f"10 forward passes over {n:,}"))

    # EGL's ratio moved 1.01-1.51 between runs timed one after the other: alternate instead
    t, raw, ratios = paired(
        lambda: Q.egl(net, X_pool, 200, random_state=0, batch_size=128),
        lambda: raw_forward_backward(module, X_pool, 128, 10),
        pairs,
    )
    rows.append(
        (
            "egl",
            t,
            raw,
            f"1 forward + 10 weight-gradient backward per batch, {n:,}; ratio = median of "
            f"{pairs} alternated pairs ({', '.join(f'{r:.2f}' for r in ratios)})",
            float(np.median(ratios)),
        )
    )

    start = time.perf_counter()
    idx, _ = Q.dfal(net, X_pool, 200, random_state=0, max_iter=50)
    t = time.perf_counter() - start
    cand = np.sort(np.random.default_rng(0).choice(n, min(n, 2000), replace=False))
    # DeepFool's cost: iterations x (1 forward + C input-gradient backward passes); count
    # the iterations needed by the slowest example through one instrumented run.
    from robustsk.attacks import deepfool

    calls = {"n": 0}

    def counting(x):
        calls["n"] += 1
        return torch.log_softmax(module(x), dim=1)

    deepfool(counting, torch.from_numpy(X_pool[cand[:256]]), max_iter=50)
    iters = max(1, calls["n"] - 1)
    raw, _ = timed(lambda: raw_input_gradients(module, X_pool[cand], 256, 10, iters), 1)
    rows.append(("dfal (2,000 candidates)", t, raw, f"{iters} iterations x (1 fwd + 10 bwd)"))

    n_sub = min(n, 10000)  # 50 copies each: 500,000 forward rows
    t, _ = timed(
        lambda: Q.noise_entropy(
            net, X_pool[:n_sub], 200, sample_sigma=0.3, n_draws=50, random_state=0
        ),
        2,
    )
    chunk = np.repeat(X_pool[: 4096 // 50], 50, axis=0)  # one forward batch of copies
    n_chunks = -(-n_sub // (4096 // 50))
    raw, _ = timed(lambda: raw_forward(module, chunk, 4096, repeats=n_chunks), 2)
    rows.append(
        ("noise_entropy (M=50)", t, raw, f"forward of {n_sub * 50:,} copies ({n_sub:,} examples)")
    )

    print(f"\n3. Model-heavy strategies, LeNet5, pool {n:,} (target ratio <= 1.3)")
    print(f"{'strategy':<26}{'seconds':>10}{'raw passes s':>14}{'ratio':>8}  passes")
    for name, t, raw, what, *ratio in rows:
        print(f"{name:<26}{t:>10.2f}{raw:>14.2f}{(ratio or [t / raw])[0]:>8.2f}  {what}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"peak resident memory of this process: {peak:,.0f} MB (target < 2,048 MB)")
    return net


def section_parallel(net, X_pool, block_size=2048):
    n = len(X_pool)
    calls = {
        "noise_entropy (M=50)": lambda **kw: Q.noise_entropy(
            net, X_pool, 200, sample_sigma=0.3, n_draws=50, random_state=0, **kw
        ),
        "bald (T=10)": lambda **kw: Q.bald(net, X_pool, 200, random_state=0, **kw),
    }
    print(
        f"\n4. Pool scoring in joblib blocks of {block_size:,}, pool {n:,} "
        f"({torch.get_num_threads()} torch threads in this process)"
    )
    print(f"{'strategy':<22}{'None s':>9}{'1 job':>9}{'2 jobs':>9}{'1/None':>8}{'2/None':>8}  same")
    for name, call in calls.items():
        t_none, _ = timed(call, 2)
        t_one, one = timed(lambda call=call: call(n_jobs=1, block_size=block_size), 2)
        t_two, two = timed(lambda call=call: call(n_jobs=2, block_size=block_size), 2)
        same = bool(np.array_equal(one[0], two[0]))
        print(
            f"{name:<22}{t_none:>9.2f}{t_one:>9.2f}{t_two:>9.2f}{t_one / t_none:>8.2f}"
            f"{t_two / t_none:>8.2f}  {same}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument(
        "--heavy-pool",
        type=int,
        default=10000,
        help="pool size for the model-heavy strategies (60000 = full)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=60000,
        help="pool size of the probability-only and core-set sections (default: 60000)",
    )
    parser.add_argument("--pairs", type=int, default=3, help="alternated EGL/raw timings")
    sections = ["probability", "coreset", "heavy", "parallel"]
    parser.add_argument("--sections", nargs="+", default=sections, choices=sections)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if "probability" in args.sections:
        section_probability(args.pool, 200)
    if "coreset" in args.sections:
        section_coreset(args.pool, min(5000, args.pool // 2), 200)
    if "heavy" in args.sections or "parallel" in args.sections:
        X, y = load_mnist(args.mnist, subset="train", return_X_y=True)
        net = section_heavy(X[:2000], y[:2000], X[: args.heavy_pool], args.pairs)
        if "parallel" in args.sections:
            section_parallel(net, X[: args.heavy_pool])


if __name__ == "__main__":
    main()
