"""Run every benchmark in one go and write their result tables into ``doc/benchmark_report.md``.

Each ``bench_*.py`` runs in its own process (one at a time: the benchmarks time
the machine, so they must not share it), with the sizes of a full run or, with
``--quick``, of a smoke run. Every benchmark prints its tables with ratios side by
side (time against the reference implementation or a natural epoch, robust ratio
or accuracy beside it); the report collects those tables verbatim, with the
machine, the versions and each benchmark's wall time, so that one command
refreshes the numbers behind ``doc/benchmarks.md``.

Usage::

    python benchmarks/run_all.py [--mnist PATH] [--quick] [--only NAME ...]
                                 [--out doc/benchmark_report.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_MNIST = ROOT / ".." / "shared" / "data" / "mnist"

#: name -> (script, arguments of a full run, arguments of a quick run)
BENCHMARKS = {
    "noise_epoch": ("bench_noise_epoch.py", [], ["--n-train", "2000", "--repeats", "1"]),
    "query": ("bench_query.py", [], ["--heavy-pool", "2000"]),
    "adaptive": ("bench_adaptive.py", [], ["--pool", "5000", "--seeds", "1", "--n-train", "2000"]),
    "grid_search": ("bench_grid_search.py", [], ["--n-train", "600", "--epochs", "2"]),
    "adversarial": (
        "bench_adversarial.py",
        [],
        ["--n-attack", "200", "--n-train", "1000", "--repeats", "1", "--k", "3"],
    ),
    "certify": ("bench_certify.py", [], ["--repeats", "1", "--n-train", "500", "--epochs", "1"]),
    "cifar_epoch": (
        "bench_cifar_epoch.py",
        [],
        ["--n-train", "128", "--repeats", "1", "--no-compile"],
    ),
    "batch": ("bench_batch.py", [], ["--pool", "1000", "--batch", "20", "--bb-batch", "5"]),
    "inference": ("bench_inference.py", [], ["--n", "512", "--repeats", "1", "--no-compile"]),
    "smoothing": (
        "bench_smoothing.py",
        [],
        ["--n-train", "1000", "--n-certify", "20", "--draws", "2000", "--steps", "3"],
    ),
    "pool_scale": (
        "bench_pool_scale.py",
        [],
        ["--rows", "20000", "--check-rows", "2000", "--n-train", "1000"],
    ),
    "rpr": (
        "bench_rpr.py",
        ["--seq-n", "50"],
        [
            "--n",
            "300",
            "--train-n",
            "1000",
            "--train-epochs",
            "1",
            "--seq-n",
            "5",
            "--max-steps",
            "50",
        ],
    ),
}


def display_path(path: str) -> str:
    """``path`` as the report shows it: relative to the repository when inside it, else
    ``PATH``, so that the report carries no absolute path of the machine that ran it."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(ROOT):
        return resolved.relative_to(ROOT).as_posix() or "."
    return "PATH"


def scrub(text: str, mnist: str) -> str:
    """``text`` with the MNIST folder and the repository's absolute path replaced."""
    for absolute in sorted({mnist, str(Path(mnist).resolve())}, key=len, reverse=True):
        if Path(absolute).is_absolute():
            text = text.replace(absolute, display_path(mnist))
    return text.replace(str(ROOT), ".")


def run(name, mnist, quick):
    script, full_args, quick_args = BENCHMARKS[name]
    cmd = [sys.executable, str(HERE / script), "--mnist", str(mnist)]
    cmd += quick_args if quick else full_args
    start = time.perf_counter()
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    seconds = time.perf_counter() - start
    return proc.returncode, proc.stdout, proc.stderr, seconds, cmd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--out", default=str(ROOT / "doc" / "benchmark_report.md"))
    args = parser.parse_args(argv)
    import torch

    names = args.only or list(BENCHMARKS)
    lines = [
        "# Benchmark report",
        "",
        f"Written by `python benchmarks/run_all.py{' --quick' if args.quick else ''}` on "
        f"{datetime.date.today().isoformat()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"CUDA {'yes: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}."
        + (
            " Quick (smoke-test) sizes: the numbers are not the measured results."
            if args.quick
            else ""
        ),
        "",
        "Each section is the benchmark's own output: times with ratios side by side "
        "(see [benchmarks.md](benchmarks.md) for the targets and what they mean). "
        f"`{display_path(args.mnist)}` is the MNIST folder (idx files) the run read.",
    ]
    failed = []
    for name in names:
        code, out, err, seconds, cmd = run(name, args.mnist, args.quick)
        print(f"{name}: exit {code}, {seconds:.0f} s", flush=True)
        shown = " ".join(
            Path(c).name if c.endswith(".py") else display_path(c) if c == args.mnist else c
            for c in cmd[1:]
        )
        lines += [
            "",
            f"## {name}",
            "",
            f"`python {shown}` ({seconds:.0f} s)",
            "",
            "```",
            scrub(out.strip(), args.mnist) or "(no output)",
            "```",
        ]
        if code:
            failed.append(name)
            tail = scrub(err.strip()[-3000:], args.mnist)
            lines += ["", f"**Failed** (exit {code}):", "", "```", tail, "```"]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
