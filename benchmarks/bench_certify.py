"""Certified bounds: robustsk's native CROWN-IBP against auto_LiRPA 0.3, and the cost of a
certified training epoch against a natural one, each measured side by side in one run.

1. Bounds plus backward for one batch (256 MNIST images, SmallCNN, margin
   specification, eps 0.3): robustsk's ``compute_bounds`` and auto_LiRPA's
   ``BoundedModule.compute_bounds`` (built once, as in training) run
   alternately, IBP and CROWN-IBP; the maximum difference of the bounds and the
   time ratio (target >= 3x in robustsk's favour for CROWN-IBP) are printed,
   with a natural forward/backward pass for reference. A last row times
   auto_LiRPA when its ``BoundedModule`` is rebuilt (graph traced) for every
   batch, which is what a per-call wrapper pays. A "kernels only" row times the
   operations that any CROWN-IBP implementation producing these bounds must run:
   the IBP pass for the intermediate bounds, the specification's rows mapped
   back through every affine layer (transposed convolutions and matrix
   products), one multiplication per ReLU and the concretization on the box,
   each with its backward pass -- and none of the relaxation bookkeeping.
   auto_LiRPA's time over this floor bounds the speed-up any equal-bound
   implementation can have over it. A last row times loss fusion
   (``cross_entropy_upper_bound(method="fused")``): one backward row bounding
   the cross-entropy itself instead of 9 margins -- a different bound, timed
   against auto_LiRPA's CROWN-IBP margin bounds.
2. One epoch of ``CertifiedBudgetClassifier`` (IBP, CROWN-IBP, learned budgets
   with CROWN-IBP) against one natural epoch of the same net and data, with the
   ramp running (the most expensive phase: CROWN-IBP and IBP both computed).

auto_LiRPA 0.3 needs torch-2 compatibility patches, which live in the test
helper ``tests/_lirpa.py``; install it with
``pip install --no-deps auto_LiRPA==0.3 appdirs``.

Usage::

    python benchmarks/bench_certify.py [--mnist PATH] [--batch 256] [--n-train 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from robustsk.certify import compute_bounds, cross_entropy_upper_bound, input_box, margin_matrix
from robustsk.certify._bounds import _ibp, _shapes
from robustsk.certify._layers import check_trace, sequential_layers, transpose_part, walked
from robustsk.datasets import load_mnist
from robustsk.estimators import CertifiedBudgetClassifier, RobustNetClassifier
from robustsk.nets import SmallCNN

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT / ".." / "shared" / "data" / "mnist"


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def section_bounds(X, y, batch, repeats):
    torch.manual_seed(0)
    net = SmallCNN()
    x, labels = torch.from_numpy(X[:batch]), torch.from_numpy(y[:batch])
    lower, upper = input_box(x, 0.3)
    C = margin_matrix(labels, 10)

    def natural():
        net.zero_grad()
        F.cross_entropy(net(x), labels).backward()

    def ours(method):
        def run():
            net.zero_grad()
            kwargs = {} if method == "ibp" else {"bound_upper": False}
            lb, _ = compute_bounds(net, lower, upper, C, method=method, **kwargs)
            (-lb).mean().backward()
            return lb

        return run

    def fused():
        net.zero_grad()
        cross_entropy_upper_bound(net, lower, upper, labels, method="fused").mean().backward()

    _, calls = walked(net)

    def run_check():  # what every bound call adds: one traced run on one example
        check_trace(net, calls, lower[:1])

    fns = {
        "natural": natural,
        "run check": run_check,
        "ibp": ours("ibp"),
        "crown-ibp": ours("crown-ibp"),
        "best": ours("best"),
        "floor": kernels_only(net, lower, upper, C),
        "fused": fused,
    }
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from _lirpa import lirpa_available, lirpa_unavailable_reason
    except ImportError:
        lirpa_available = None
    diffs = {}
    if lirpa_available is not None and lirpa_available():
        from _lirpa import bounded_module, lirpa_bounds

        reference = bounded_module(net, x)

        def theirs(lirpa_method):
            def run():
                net.zero_grad()
                lb = reference(lower, upper, C, lirpa_method)
                (-lb).mean().backward()
                return lb

            return run

        def rebuilt():
            net.zero_grad()
            lb, _ = lirpa_bounds(net, lower, upper, C, "CROWN-IBP")
            (-lb).mean().backward()

        fns.update(
            {"lirpa ibp": theirs("IBP"), "lirpa crown-ibp": theirs("CROWN-IBP"), "rebuilt": rebuilt}
        )
        for method, lirpa_method in (("ibp", "IBP"), ("crown-ibp", "CROWN-IBP")):
            diffs[method] = (fns[method]() - theirs(lirpa_method)()).abs().max().item()
    else:
        reason = lirpa_unavailable_reason() if lirpa_available else "tests/_lirpa.py missing"
        print(f"auto_LiRPA unavailable ({reason}): timing robustsk only")
    # round robin: every function runs once per round, so all ratios share the conditions
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    lirpa = med.get("lirpa crown-ibp")
    rows = [
        ("natural forward/backward", med["natural"], None, None),
        ("ibp", med["ibp"], med.get("lirpa ibp"), diffs.get("ibp")),
        ("crown-ibp", med["crown-ibp"], lirpa, diffs.get("crown-ibp")),
        ("crown-ibp (LiRPA rebuilt)", med["crown-ibp"], med.get("rebuilt"), None),
        ("best (ibp and crown-ibp)", med["best"], None, None),
        ("kernels only (floor)", med["floor"], None, None),
        ("run check (one example)", med["run check"], None, None),
        # a different bound (of the loss, not the margins), against auto_LiRPA's margin bounds
        ("crown-ibp, loss fusion", med["fused"], lirpa, None),
    ]
    print(
        f"\n1. Bounds + backward, SmallCNN, batch {batch}, eps 0.3 "
        f"(median of {repeats} round-robin rounds)"
    )
    print(
        f"{'method':<26}{'robustsk s':>12}{'auto_LiRPA s':>14}{'ratio':>8}{'x natural':>11}"
        f"{'max |diff|':>12}"
    )
    base = rows[0][1]
    for name, t, t_ref, diff in rows:
        ratio = f"{t_ref / t:.1f}x" if t_ref else "-"
        print(
            f"{name:<26}{t:>12.4f}{(f'{t_ref:.4f}' if t_ref else '-'):>14}{ratio:>8}"
            f"{t / base:>11.1f}{(f'{diff:.1e}' if diff is not None else '-'):>12}"
        )
    print(
        f"best / crown-ibp = {med['best'] / med['crown-ibp']:.2f}x: what verifying by the "
        "tighter of the two bounds costs over CROWN-IBP alone"
    )
    print(
        f"run check / crown-ibp = {med['run check'] / med['crown-ibp']:.3f}: the share of a "
        "bound call spent checking the walked layers against a run of the module"
    )
    if lirpa is not None:
        print(
            f"auto_LiRPA CROWN-IBP (built once) / floor = {lirpa / med['floor']:.1f}x: "
            "the most any implementation of the same bounds can gain over it here"
        )


def kernels_only(net, lower, upper, C):
    """The floor of CROWN-IBP at equal bounds: its unavoidable kernels, nothing else."""
    layers = sequential_layers(net)
    shapes = _shapes(layers, lower)
    n = lower.shape[0]

    def run():
        net.zero_grad()
        _, _, inputs = _ibp(layers, lower, upper)
        A = C
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            if isinstance(layer, torch.nn.ReLU):
                lo, hi = inputs[i]
                A = A * (hi / (hi - lo + 1e-8)).unsqueeze(1)  # one product per ReLU
                continue
            s = A.shape[1]
            A = transpose_part(layer, A.reshape(n * s, *shapes[i + 1]), shapes[i])
            A = A.reshape(n, s, *shapes[i])
        mid = ((upper + lower) / 2).flatten(1).unsqueeze(-1)
        rad = ((upper - lower) / 2).flatten(1).unsqueeze(-1)
        A = A.flatten(2)
        lb = (A.bmm(mid) - A.abs().bmm(rad)).squeeze(-1)
        (-lb).mean().backward()

    return run


def section_epochs(X, y, n_train, epochs):
    X, y = X[:n_train], y[:n_train]
    common = dict(max_epochs=epochs, lr=1e-3, batch_size=128, verbose=0, random_state=0)
    ramp = dict(ramp_start=0, ramp_length=10 * epochs)  # ramp running: both bounds computed
    models = {
        "natural": RobustNetClassifier(SmallCNN, **common),
        "IBP (uniform)": CertifiedBudgetClassifier(
            SmallCNN, budget_mode="uniform", bound="ibp", **ramp, **common
        ),
        "CROWN-IBP (uniform)": CertifiedBudgetClassifier(
            SmallCNN, budget_mode="uniform", **ramp, **common
        ),
        "CROWN-IBP (learned)": CertifiedBudgetClassifier(
            SmallCNN, budget_mode="learned", **ramp, **common
        ),
        "CROWN-IBP fused (uniform)": CertifiedBudgetClassifier(
            SmallCNN, budget_mode="uniform", loss_fusion=True, **ramp, **common
        ),
    }
    RobustNetClassifier(SmallCNN, **{**common, "max_epochs": 1}).fit(X[:512], y[:512])  # warm-up
    times = {}
    for name, model in models.items():
        t = time.perf_counter()
        model.fit(X, y)
        times[name] = (time.perf_counter() - t) / epochs
    print(f"\n2. Training epoch, SmallCNN, {n_train} MNIST images, batch 128")
    print(f"{'training':<24}{'s / epoch':>11}{'x natural':>11}")
    for name, t in times.items():
        print(f"{name:<24}{t:>11.2f}{t / times['natural']:>11.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    X, y = load_mnist(
        args.mnist, subset="train", n_samples=max(args.n_train, args.batch), return_X_y=True
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    section_bounds(X, y, args.batch, args.repeats)
    section_epochs(X, y, args.n_train, args.epochs)


if __name__ == "__main__":
    main()
