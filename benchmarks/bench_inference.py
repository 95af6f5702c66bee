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

Run: ``python benchmarks/bench_inference.py [--n 1024] [--batch 512] [--width 32] [--no-compile]``
(random inputs in [0, 1]: the timing and the argmax agreement need no data set).
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

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
    parser.add_argument("--mnist", default=None, help="unused: the inputs are random")
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


if __name__ == "__main__":
    main()
