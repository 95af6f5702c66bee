"""RPR on the MNIST test set with a LeNet5: the batched engine against the sequential algorithm.

One run, side by side:

1. ``rpr_steps`` (the batched engine) on ``--n`` test images (default: all
   10,000) at ``max_steps=250``; with the rows the network evaluated against
   the rows the sequential algorithm needs (the engine's discarded draws).
2. The sequential algorithm of the paper -- one image at a time, one
   perturbation draw at a time, ``estimator.predict`` on each perturbed image
   until the first error or ``max_steps`` draws -- on the first ``--seq-n``
   images, its time extrapolated to ``--n`` (target: the engine >= 30x faster).
3. The same loop with a raw module forward per draw (no skorch overhead): the
   best any draw-at-a-time loop can do.
4. Lockstep: every unbroken image gets one draw per predict call, over all
   ``--n`` images (the sequential schedule, batched over images). It gives a
   full-size robust ratio independent of the engine's random stream (target:
   within 1.5 points of the engine's).

Usage::

    python benchmarks/bench_rpr.py [--mnist PATH] [--n 10000] [--train-n 10000]
                                   [--train-epochs 2] [--seq-n 50] [--max-steps 250]
                                   [--threads 1] [--batch-size N] [--skip-lockstep]
                                   [--device auto]

On a CPU shared with other jobs, ``--threads 1`` avoids the stalls of torch's
two-thread parallel regions (which slowed every implementation here up to 50x).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from robustsk.datasets import load_mnist
from robustsk.estimators import RobustNetClassifier
from robustsk.metrics import rpr_steps
from robustsk.nets import LeNet5
from robustsk.perturb import RandomPixels

DEFAULT_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


class RowCounter:
    """Counts the rows a module's forward sees."""

    def __init__(self, module):
        self.rows = 0
        self.handle = module.register_forward_hook(self)

    def __call__(self, module, inputs, output):
        self.rows += inputs[0].shape[0]


def sequential_predict(net, X, y, max_steps, seed):
    """The paper's loop: one draw at a time, ``estimator.predict`` on each perturbed image."""
    scheme = RandomPixels()
    gen = torch.Generator().manual_seed(seed)
    steps = np.zeros(len(X), dtype=np.int64)
    for i in range(len(X)):
        x = X[i : i + 1]
        if net.predict(x)[0] != y[i]:
            continue
        while steps[i] < max_steps and net.predict(scheme(x, random_state=gen))[0] == y[i]:
            steps[i] += 1
    return steps, needed_rows(steps, net.predict(X) == y, max_steps)


def sequential_module(net, X, y, max_steps, seed):
    """The same loop with a raw module forward per draw (eval mode, no gradients)."""
    scheme = RandomPixels()
    module = net.module_.eval()
    device = next(module.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    steps = np.zeros(len(X), dtype=np.int64)
    with torch.inference_mode():
        for i in range(len(X)):
            x = torch.from_numpy(X[i : i + 1]).to(device)
            if int(module(x).argmax(1)) != y[i]:
                continue
            while steps[i] < max_steps and int(module(scheme._perturb(x, gen)).argmax(1)) == y[i]:
                steps[i] += 1
    return steps, needed_rows(steps, net.predict(X) == y, max_steps)


def lockstep(net, X, y, max_steps, seed, batch_size):
    """One draw per unbroken image per round, all images at once (batched over images)."""
    scheme = RandomPixels()
    module = net.module_.eval()
    device = next(module.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    x_all = torch.from_numpy(X).to(device)
    t_all = torch.from_numpy(np.asarray(y)).to(device)

    def correct(x, t):
        return torch.cat(
            [
                module(x[s : s + batch_size]).argmax(1) == t[s : s + batch_size]
                for s in range(0, len(x), batch_size)
            ]
        )

    steps = np.zeros(len(X), dtype=np.int64)
    with torch.inference_mode():
        alive = torch.nonzero(correct(x_all, t_all)).flatten()
        for _ in range(max_steps):
            if not alive.numel():
                break
            ok = correct(scheme._perturb(x_all[alive], gen), t_all[alive])
            alive = alive[ok]
            steps[alive.cpu().numpy()] += 1
    return steps, needed_rows(steps, net.predict(X) == y, max_steps)


def needed_rows(steps, correct, max_steps):
    """Predictions the sequential algorithm makes: the clean one, then draws up to the first
    error (or all ``max_steps``) of every correctly classified point."""
    draws = np.where(steps >= max_steps, max_steps, steps + 1)
    return len(steps) + int(draws[correct].sum())


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--n", type=int, default=10000, help="test images for the engine")
    parser.add_argument("--train-n", type=int, default=10000, help="training images of LeNet5")
    parser.add_argument("--train-epochs", type=int, default=2, help="training epochs")
    parser.add_argument(
        "--seq-n",
        type=int,
        default=50,
        help="images for the sequential loops (extrapolated to --n)",
    )
    parser.add_argument("--max-steps", type=int, default=250)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="rows per predict call of the engine (default: rpr_steps' default, 512 on the CPU)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="images per chunk of the engine (default: rpr_steps' default)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for every implementation (default: torch's; "
        "1 is faster on a machine shared with other jobs)",
    )
    parser.add_argument("--skip-lockstep", action="store_true")
    parser.add_argument(
        "--device", default="auto", help='device of every implementation (default: "auto")'
    )
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    X_train, y_train = load_mnist(
        args.mnist, subset="train", n_samples=args.train_n, return_X_y=True
    )
    X, y = load_mnist(args.mnist, subset="test", n_samples=args.n, return_X_y=True)
    n, seq_n, max_steps = len(X), min(args.seq_n, len(X)), args.max_steps
    net = RobustNetClassifier(
        LeNet5,
        max_epochs=args.train_epochs,
        device=args.device,
        classes=np.arange(10),
        verbose=0,
        random_state=0,
    )
    t_fit, _ = timed(lambda: net.fit(X_train, y_train))
    accuracy = net.score(X, y)
    print(
        f"LeNet5 trained on {len(X_train):,} MNIST images, {args.train_epochs} epoch(s) "
        f"({t_fit:.0f} s); test accuracy {accuracy:.4f}; torch threads "
        f"{torch.get_num_threads()}; max_steps {max_steps}"
    )

    counter = RowCounter(net.module_)
    t_engine, steps = timed(
        lambda: rpr_steps(
            net,
            X,
            y,
            max_steps=max_steps,
            random_state=0,
            batch_size=args.batch_size,
            chunk_size=args.chunk_size,
        )
    )
    counter.handle.remove()
    needed = needed_rows(steps, net.predict(X) == y, max_steps)
    rows = [("batched engine (rpr_steps)", n, t_engine, steps, needed)]
    t_seq, (s_seq, r_seq) = timed(
        lambda: sequential_predict(net, X[:seq_n], y[:seq_n], max_steps, 1)
    )
    rows.append(("sequential, estimator.predict per draw", seq_n, t_seq, s_seq, r_seq))
    t_mod, (s_mod, r_mod) = timed(
        lambda: sequential_module(net, X[:seq_n], y[:seq_n], max_steps, 2)
    )
    rows.append(("sequential, module forward per draw", seq_n, t_mod, s_mod, r_mod))
    if not args.skip_lockstep:
        t_lock, (s_lock, r_lock) = timed(
            lambda: lockstep(net, X, y, max_steps, 3, args.batch_size or 512)
        )
        rows.append(("lockstep, 1 draw per image per call", n, t_lock, s_lock, r_lock))

    print(
        f"\nRPR of {n:,} MNIST test images; the sequential loops ran on the first {seq_n} "
        f"and are extrapolated to {n:,} by time per prediction x the {needed:,} predictions "
        "the sequential algorithm needs for all of them"
    )
    print(
        f"{'implementation':<40}{'images':>8}{'predictions':>13}{'seconds':>10}"
        f"{'s for n':>10}{'ratio':>8}{'robust':>9}{'mean steps':>12}"
    )
    extrapolated = {}
    for name, count, sec, st, preds in rows:
        full = sec if count == n else sec / preds * needed
        extrapolated[name] = full
        print(
            f"{name:<40}{count:>8,}{preds:>13,}{sec:>10.2f}{full:>10.1f}"
            f"{full / t_engine:>8.1f}{np.mean(st >= max_steps):>9.4f}{st.mean():>12.1f}"
        )
    speedup = extrapolated["sequential, estimator.predict per draw"] / t_engine
    print(
        f"\nspeed-up of the engine over the sequential algorithm (predict per draw): "
        f"{speedup:.1f}x (target >= 30x: {'met' if speedup >= 30 else 'NOT met'})"
    )
    sub = np.mean(steps[:seq_n] >= max_steps)
    se = np.sqrt(max(sub * (1 - sub), 1e-12) * 2 / seq_n)
    print(
        f"robust ratio on the first {seq_n} images: engine {sub:.4f}, sequential "
        f"{np.mean(s_seq >= max_steps):.4f} (standard error of the difference about {se:.3f})"
    )
    if not args.skip_lockstep:
        gap = 100 * abs(np.mean(steps >= max_steps) - np.mean(s_lock >= max_steps))
        print(
            f"robust ratio, engine vs lockstep on all {n:,}: {gap:.2f} points apart "
            f"(target <= 1.5: {'met' if gap <= 1.5 else 'NOT met'})"
        )
    print(
        f"rows the engine's network evaluated: {counter.rows:,} for {needed:,} needed "
        f"(ratio {counter.rows / needed:.3f}: draws after a point's first error are "
        "discarded)"
    )


if __name__ == "__main__":
    main()
