"""Cheaper forward passes for the inference-only engines: what each option buys.

The engines that only predict (RPR's draws, pool scoring, corruption and adversarial
evaluation) spend their time in forward passes without gradients. For LeNet5 on
MNIST-size input and CNN-7 and PreAct ResNet-18 on CIFAR-size input, each option is
timed on the same ``--n`` inputs, side by side with the baseline (``torch.no_grad``,
float32, contiguous), with the agreement of its argmax with the baseline's:

* ``inference_mode``: no autograd bookkeeping at all;
* ``channels_last``: NHWC memory layout for the convolutions;
* ``bfloat16``: ``torch.autocast`` to bfloat16 (AMX / AVX512-BF16 on recent Xeons);
* ``compile``: ``torch.compile`` of the module (first call excluded).

Target (issue "faster than the raw passes", point 4): keep an option only where it
gives >= 1.3x at the same predictions (identical argmax, or a stated tolerance).

The second part runs a real engine, pool scoring under Gaussian noise
(``noisy_predictions``, AQPL's conformity scores: ``--engine-n`` examples x 16 noisy
copies), under each of robustsk's inference options (``robustsk.config_context``),
on LeNet5 trained for one epoch on ``--engine-train`` MNIST images (``--mnist PATH``;
random images without it) and CNN-7 trained for one epoch on random colour images,
with the agreement of the copies' labels and the largest entropy difference against
float32.

Run: ``python benchmarks/bench_inference.py [--n 1024] [--batch 512] [--width 32] [--no-compile]
[--mnist PATH] [--engine-n 1024]`` (random inputs in [0, 1] for the first part: the timing
and the argmax agreement need no data set).
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch

from robustsk import config_context
from robustsk.nets import CNN7, LeNet5, PreActResNet18


def run(module, x, batch, *, mode="no_grad", dtype=None, layout=None):
    """The module's argmax over ``x`` in batches under the given options."""
    grad_ctx = torch.inference_mode() if mode == "inference_mode" else torch.no_grad()
    cast = (
        torch.autocast(x.device.type, dtype=dtype)
        if dtype is not None
        else contextlib.nullcontext()
    )
    out = []
    with grad_ctx, cast:
        for s in range(0, len(x), batch):
            xb = x[s : s + batch]
            if layout is not None:
                xb = xb.contiguous(memory_format=layout)
            out.append(module(xb).argmax(1))
    return torch.cat(out)


def timed(f, repeats):
    f()  # warm-up (and compilation)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--width", type=int, default=32, help="CNN-7 / ResNet-18 width")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--mnist", default=None, help="MNIST folder, for the engine part")
    parser.add_argument("--engine-n", type=int, default=1024, help="pool size of the engine part")
    parser.add_argument(
        "--engine-train", type=int, default=10000, help="training images of the engine's LeNet5"
    )
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    nets = {
        "LeNet5 (1x28x28)": (LeNet5((1, 28, 28), 10), (1, 28, 28)),
        "CNN-7 (3x32x32)": (CNN7((3, 32, 32), 10, width=args.width), (3, 32, 32)),
        "PreActResNet18 (3x32x32)": (
            PreActResNet18((3, 32, 32), 10, width=args.width),
            (3, 32, 32),
        ),
    }
    print(
        f"{args.n:,} random inputs on {args.device}, batches of {args.batch}, best of "
        f"{args.repeats}"
    )
    print()
    print(f"{'network':<26}{'option':<16}{'seconds':>9}{'speed-up':>10}{'same argmax':>13}")
    for name, (module, shape) in nets.items():
        module.to(args.device).eval()
        x = torch.rand((args.n, *shape), device=args.device)
        base_t, base = timed(lambda m=module, x=x: run(m, x, args.batch), args.repeats)
        print(f"{name:<26}{'baseline':<16}{base_t:>9.3f}{'1.00x':>10}{'100.00%':>13}")
        options = {
            "inference_mode": dict(mode="inference_mode"),
            "channels_last": dict(layout=torch.channels_last),
            "bfloat16": dict(dtype=torch.bfloat16),
        }
        for label, kw in options.items():
            target = module
            if label == "channels_last":
                target = module.to(memory_format=torch.channels_last)
            t, pred = timed(lambda m=target, kw=kw, x=x: run(m, x, args.batch, **kw), args.repeats)
            if label == "channels_last":
                module.to(memory_format=torch.contiguous_format)
            same = (pred == base).float().mean().item() * 100
            print(f"{'':<26}{label:<16}{t:>9.3f}{base_t / t:>9.2f}x{same:>12.2f}%")
        if not args.no_compile:
            compiled = torch.compile(module)
            t, pred = timed(lambda m=compiled, x=x: run(m, x, args.batch), args.repeats)
            same = (pred == base).float().mean().item() * 100
            print(f"{'':<26}{'compile':<16}{t:>9.3f}{base_t / t:>9.2f}x{same:>12.2f}%")
    print()
    print("target: an option is kept where it gives >= 1.3x at the same argmax")
    print()
    engine(args)


#: robustsk's inference options, as the engine part runs them.
ENGINE_OPTIONS = {
    "float32": {},
    "channels_last": {"inference_channels_last": True},
    "bfloat16": {"inference_precision": "bfloat16"},
    "bf16+nhwc": {"inference_precision": "bfloat16", "inference_channels_last": True},
    "compile": {"inference_compile": True},
}


def _engine_models(args):
    """(name, fitted model, pool) for the engine part: trained one epoch each."""
    from robustsk.estimators import NoiseTrainedClassifier

    rng = np.random.default_rng(0)
    if args.mnist:
        from robustsk.datasets import load_mnist

        X, y = load_mnist(args.mnist, subset="train", return_X_y=True)
        n_fit = min(args.engine_train, len(X) - args.engine_n)
        X_fit, y_fit, pool = X[:n_fit], y[:n_fit], X[len(X) - args.engine_n :]
        source = "MNIST"
    else:
        X_fit = rng.random((args.engine_train, 1, 28, 28), dtype=np.float32)
        y_fit = rng.integers(0, 10, args.engine_train)
        pool, source = X_fit[: args.engine_n], "random"
    lenet = NoiseTrainedClassifier(
        LeNet5, sigma=0.3, max_epochs=1, verbose=0, random_state=0, device=args.device
    ).fit(X_fit, y_fit)
    n_colour = min(512, args.engine_train)
    colour = rng.random((n_colour, 3, 32, 32), dtype=np.float32)
    cnn7 = NoiseTrainedClassifier(
        CNN7,
        module__width=args.width,
        sigma=0.1,
        max_epochs=1,
        verbose=0,
        random_state=0,
        device=args.device,
    ).fit(colour, rng.integers(0, 10, n_colour))
    colour_pool = rng.random((min(args.engine_n, 256), 3, 32, 32), dtype=np.float32)
    return [
        (f"LeNet5, {source} ({len(pool)})", lenet, pool, 0.3),
        (f"CNN-7, random ({len(colour_pool)})", cnn7, colour_pool, 0.1),
    ]


def engine(args):
    """Pool scoring under noise (noisy_predictions) under each inference option."""
    from robustsk.query import noisy_predictions

    print("Engine: noisy_predictions (16 copies per example) under robustsk.config_context")
    print()
    head = f"{'model':<26}{'option':<16}{'seconds':>9}{'speed-up':>10}{'same labels':>13}"
    print(head + f"{'max d-entropy':>15}")
    for name, model, pool, sigma in _engine_models(args):
        kwargs = dict(sigma=np.full(len(pool), sigma), n_draws=16, random_state=0, output="both")
        results = {}
        for label, options in ENGINE_OPTIONS.items():
            if label == "compile" and args.no_compile:
                continue
            with config_context(**options):
                results[label] = timed(
                    lambda m=model, p=pool, k=kwargs: noisy_predictions(m, p, **k), 2
                )
        base_t, (base_labels, base_entropy) = results["float32"]
        for label, (t, (labels, entropy)) in results.items():
            same = 100 * float(np.mean(labels == base_labels))
            gap = float(np.abs(entropy - base_entropy).max())
            print(
                f"{name if label == 'float32' else '':<26}{label:<16}{t:>9.3f}"
                f"{base_t / t:>9.2f}x{same:>12.2f}%{gap:>15.4f}"
            )
    print()
    print(
        "an option of robustsk.config_context is worth turning on where it gives >= 1.3x; "
        "bfloat16's labels and entropies are within the tolerance shown"
    )


if __name__ == "__main__":
    main()
