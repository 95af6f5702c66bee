"""One GPU check: the ``gpu`` tests, every benchmark, a slice of each paper-size reproduction.

Everything a CUDA machine should tell us, in one call of at most nine minutes,
written into one Markdown report: the machine and versions, ``pytest -m gpu``,
each ``bench_*.py`` at GPU size, and a slice of each ``--full`` reproduction (the
paper's data sizes and networks, a fraction of its epochs, rounds or stages), each
step with its exit status, wall time and output. Every step runs in its own process
under a time limit taken from what is left of the deadline, so a slow or failing
step is reported and the next one still runs.

The CIFAR-10 slices (robust AL with VGG16, AQPL with PreAct ResNet-18, budgets with
CNN-7, each at full width) read ``--cifar10 PATH``, or CIFAR-10-format files of
random images written for the run: their times hold, their accuracies mean nothing.

``--dry-run`` runs the same steps on the CPU at toy sizes (MNIST-format files
written from the embedded digits when no ``--mnist`` is given): the test suite
runs it, so the script that a GPU session gets is known to work.

Usage::

    bash benchmarks/gpu_check.sh [--dry-run] [--mnist PATH] [--cifar10 PATH] [--out DIR]
                                 [--deadline SECONDS]
    python benchmarks/gpu_check.py --step NAME ...   # one step (what the driver runs)

Before calling a GPU machine, ``bash benchmarks/gpu_pack.sh`` puts the wheels it
lacks and a copy of MNIST into ``.whl/`` and ``.gpu-data/`` (both ignored by git);
carry those two folders with the call.
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
sys.path.insert(0, str(HERE))

from run_all import BENCHMARKS  # noqa: E402

#: benchmark name -> (arguments at GPU size, arguments at toy size)
BENCH_SIZES = {
    "cifar_epoch": (
        ["--n-train", "2048", "--width", "64", "--repeats", "2"],
        ["--n-train", "32", "--width", "4", "--repeats", "1", "--no-compile"],
    ),
    "noise_epoch": (
        ["--n-train", "60000", "--epochs", "2", "--repeats", "3"],
        ["--n-train", "200", "--epochs", "1", "--repeats", "1"],
    ),
    "query": (["--heavy-pool", "10000"], ["--heavy-pool", "300", "--pool", "400"]),
    "adaptive": (
        ["--pool", "60000", "--seeds", "3"],
        ["--pool", "200", "--seeds", "1", "--per-side", "5", "--n-train", "200", "--epochs", "1"],
    ),
    "grid_search": (["--n-train", "1797", "--epochs", "5"], ["--n-train", "200", "--epochs", "1"]),
    "batch": (
        ["--pool", "20000", "--batch", "100", "--bb-batch", "20"],
        ["--pool", "200", "--batch", "5", "--bb-batch", "3", "--n-train", "200", "--draws", "4"],
    ),
    "inference": (
        ["--n", "65536", "--batch", "4096"],
        [
            "--n",
            "64",
            "--batch",
            "32",
            "--repeats",
            "1",
            "--no-compile",
            "--width",
            "8",
            "--engine-n",
            "32",
            "--engine-train",
            "100",
        ],
    ),
    "smoothing": (
        ["--n-train", "20000", "--n-certify", "200", "--draws", "100000", "--batch", "10000"],
        ["--n-train", "100", "--n-certify", "3", "--draws", "200", "--steps", "1"],
    ),
    "pool_scale": (
        ["--rows", "1000000"],
        ["--rows", "2000", "--check-rows", "500", "--n-train", "200"],
    ),
    "adversarial": (
        ["--n-attack", "10000", "--n-train", "60000", "--repeats", "3", "--k", "10"],
        ["--n-attack", "20", "--n-train", "100", "--repeats", "1", "--k", "2"],
    ),
    "certify": (
        ["--repeats", "5", "--n-train", "20000", "--epochs", "2"],
        ["--repeats", "1", "--n-train", "64", "--epochs", "1", "--batch", "32"],
    ),
    "rpr": (
        ["--n", "10000", "--train-n", "60000", "--seq-n", "50"],
        [
            "--n",
            "40",
            "--train-n",
            "200",
            "--train-epochs",
            "1",
            "--seq-n",
            "3",
            "--max-steps",
            "10",
            "--skip-lockstep",
        ],
    ),
}

REPRODUCTIONS = ("aqpl", "robust-al", "budgets", "rpr")
#: The reproductions also sliced on CIFAR-10 with the paper's CIFAR-10 networks.
CIFAR_REPRODUCTIONS = ("robust-al", "aqpl", "budgets")

#: step name -> the most seconds it may take at GPU size (the deadline caps it further)
CAPS = {
    "gpu-tests": 90,
    **{f"bench-{name}": 70 for name in BENCH_SIZES},
    **{f"reproduce-{name}": 60 for name in REPRODUCTIONS},
    **{f"reproduce-{name}-cifar10": 60 for name in CIFAR_REPRODUCTIONS},
}


def steps(
    dry_run: bool, mnist: str, out: Path, cifar10: str | None = None
) -> list[tuple[str, list[str]]]:
    """The steps in order: ``(name, command)``; the CIFAR-10 slices when ``cifar10`` is given."""
    python = sys.executable
    todo: list[tuple[str, list[str]]] = [
        (
            "gpu-tests",
            [python, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "tests"],
        )
    ]
    for name, (gpu_args, toy_args) in BENCH_SIZES.items():
        script = str(HERE / BENCHMARKS[name][0])
        sizes = toy_args if dry_run else gpu_args
        todo.append((f"bench-{name}", [python, script, "--mnist", mnist, *sizes]))
    for name in REPRODUCTIONS:
        command = [python, str(Path(__file__).resolve()), "--step", name, "--mnist", mnist]
        command += ["--out", str(out / f"reproduce-{name}")] + (["--dry-run"] if dry_run else [])
        todo.append((f"reproduce-{name}", command))
    for name in CIFAR_REPRODUCTIONS if cifar10 else ():
        command = [python, str(Path(__file__).resolve()), "--step", name, "--cifar10", cifar10]
        command += ["--out", str(out / f"reproduce-{name}-cifar10")]
        todo.append((f"reproduce-{name}-cifar10", command + (["--dry-run"] if dry_run else [])))
    return todo


# ------------------------------------------------------------------ reproduction slices
def _load(mnist: str, n_train: int, n_test: int):
    from robustsk.datasets import load_mnist

    X_train, y_train = load_mnist(mnist, subset="train", n_samples=n_train, return_X_y=True)
    X_test, y_test = load_mnist(mnist, subset="test", n_samples=n_test, return_X_y=True)
    return X_train, y_train, X_test, y_test


def cifar_slice(name: str, folder: str, out: Path, dry_run: bool) -> None:
    """Run one reproduction on CIFAR-10 with the paper's network (its width at toy size
    with ``dry_run``), a slice of the data and of the schedule; print its table."""
    from robustsk import reproduce

    start = time.perf_counter()
    if name == "robust-al":
        sizes = dict(strategies=("random", "dre"), n_stages=1, autoattack=False)
        if dry_run:
            cfg = reproduce.RobustALConfig.for_dataset(
                "cifar10", toy=True, n_pool=60, n_test=20, n_initial=20, n_per_stage=20,
                epochs_per_stage=1, train_steps=2, eval_steps=2, **sizes,
            )  # fmt: skip
        else:  # VGG16, PGD-40 training at 8/255; 10,000 of the pool, one stage
            cfg = reproduce.RobustALConfig.paper(
                dataset="cifar10", n_pool=10000, n_test=1000, epochs_per_stage=2, **sizes
            )
        data = reproduce.load_split("cifar10", folder, cfg.n_pool, cfg.n_test)
        records = reproduce.run_robust_al(*data, out, cfg, verbose=0)
    elif name == "aqpl":
        sizes = dict(n_rounds=1, max_epochs=1, epochs_per_round=1)
        if dry_run:
            cfg = reproduce.AQPLConfig.for_dataset(
                "cifar10", toy=True, n_train=60, n_reference=60, n_test=20, n_per_side=3,
                learner_draws=3, annotator_draws=2, **sizes,
            )  # fmt: skip
        else:  # PreAct ResNet-18, B=100, M=50; 8,000 triplets, one round
            cfg = reproduce.AQPLConfig.paper(
                dataset="cifar10", n_train=8000, n_reference=2000, n_test=1000, **sizes
            )
        data = reproduce.load_split("cifar10", folder, cfg.n_train + cfg.n_reference, cfg.n_test)
        records, _ = reproduce.run_aqpl(*data, out, cfg, verbose=0)
    elif name == "budgets":
        sizes = dict(max_epochs=2, ramp_start=0, ramp_length=1, loss_fusion=True, tables=(2,))
        if dry_run:
            cfg = reproduce.BudgetsConfig.for_dataset(
                "cifar10", toy=True, n_train=32, n_test=16, bound="crown-ibp", **sizes
            )
        else:  # CNN-7, CROWN-IBP with loss fusion; 10,000 images, 2 of 320 epochs
            cfg = reproduce.BudgetsConfig.paper(
                dataset="cifar10", n_train=10000, n_test=1000, **sizes
            )
        data = reproduce.load_split("cifar10", folder, cfg.n_train, cfg.n_test)
        records, _ = reproduce.run_budgets(*data, out, cfg, verbose=0)
    else:
        raise ValueError(f"step must be one of {CIFAR_REPRODUCTIONS}, got {name!r}.")
    for record in records:
        print(record)
    print(f"{name} on CIFAR-10: {time.perf_counter() - start:.1f} s")


def reproduce_slice(name: str, mnist: str, out: Path, dry_run: bool) -> None:
    """Run one reproduction at the paper's sizes with a fraction of its schedule
    (or at toy size with ``dry_run``) and print its table."""
    from robustsk import reproduce
    from robustsk.nets import MLP

    start = time.perf_counter()
    if name == "aqpl":
        if dry_run:
            cfg = reproduce.AQPLConfig(
                n_train=120, n_test=40, n_reference=120, max_epochs=1, epochs_per_round=1,
                n_per_side=3, learner_draws=3, n_rounds=1, annotator_draws=2, module=MLP,
            )  # fmt: skip
        else:  # the paper's 50,000 triplets, B=100, M=50; one round of ten, fewer epochs
            cfg = reproduce.AQPLConfig.paper(n_rounds=1, max_epochs=2, epochs_per_round=1)
        data = _load(mnist, cfg.n_train + cfg.n_reference, cfg.n_test)
        table, _ = reproduce.run_aqpl(*data, out, cfg, verbose=0)
        for record in table:
            print(record)
    elif name == "robust-al":
        if dry_run:
            cfg = reproduce.RobustALConfig(
                strategies=("random", "dre"), n_pool=200, n_test=40, n_initial=20,
                n_per_stage=20, n_stages=1, epochs_per_stage=1, train_steps=2, eval_steps=2,
                module=MLP,
            )  # fmt: skip
        else:  # the paper's pool, LeNet5, PGD-40 training; two strategies, one stage
            cfg = reproduce.RobustALConfig.paper(
                strategies=("random", "dre"), n_stages=1, epochs_per_stage=5, autoattack=False
            )
        data = _load(mnist, cfg.n_pool, cfg.n_test)
        records = reproduce.run_robust_al(*data, out, cfg, verbose=0)
        for record in records:
            print(record)
    elif name == "budgets":
        if dry_run:
            cfg = reproduce.BudgetsConfig(
                n_train=64, n_test=32, max_epochs=1, ramp_start=0, ramp_length=1, module=MLP,
                loss_fusion=True,
            )  # fmt: skip
        else:  # the paper's 60,000 images and schedule shape; 3 of 100 epochs, fused bounds
            cfg = reproduce.BudgetsConfig.paper(max_epochs=3, ramp_length=2, loss_fusion=True)
        data = _load(mnist, cfg.n_train, cfg.n_test)
        table1, table3 = reproduce.run_budgets(*data, out, cfg, verbose=0)
        for record in [*table1, *table3]:
            print(record)
    elif name == "rpr":
        if dry_run:
            cfg = reproduce.RPRConfig(
                n_train=100, n_test=40, n_per_class=2, max_epochs=1, retrain_epochs=1, max_steps=5,
                module=MLP,
            )  # fmt: skip
        else:  # the paper's 60,000 / 10,000 and 1,500 per class; 2 of 10 epochs
            cfg = reproduce.RPRConfig.paper(max_epochs=2, retrain_epochs=2)
        data = _load(mnist, cfg.n_train, cfg.n_test)
        for record in reproduce.run_rpr(*data, out, cfg, verbose=0):
            print(record)
    else:
        raise ValueError(f"step must be one of {REPRODUCTIONS}, got {name!r}.")
    print(f"{name}: {time.perf_counter() - start:.1f} s")


# ------------------------------------------------------------------ toy data
def write_toy_mnist(folder: Path) -> Path:
    """MNIST-format idx files (28x28) made from the embedded digits, for ``--dry-run``."""
    import gzip

    import numpy as np
    import torch
    import torch.nn.functional as F

    from robustsk.datasets import load_digits_images

    X, y = load_digits_images(return_X_y=True)
    big = F.interpolate(torch.from_numpy(X), size=(20, 20), mode="bilinear", align_corners=False)
    images = np.zeros((len(X), 28, 28), np.uint8)
    images[:, 4:24, 4:24] = (big.clamp(0, 1)[:, 0].numpy() * 255).round().astype(np.uint8)
    labels = np.asarray(y, np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    split = 1400
    for stem, array in [
        ("train-images-idx3-ubyte", images[:split]),
        ("train-labels-idx1-ubyte", labels[:split]),
        ("t10k-images-idx3-ubyte", images[split:]),
        ("t10k-labels-idx1-ubyte", labels[split:]),
    ]:
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
            int(d).to_bytes(4, "big") for d in array.shape
        )
        with gzip.open(folder / f"{stem}.gz", "wb") as f:
            f.write(header + array.tobytes())
    return folder


def write_random_cifar10(folder: Path, n_per_batch: int, n_test: int) -> Path:
    """CIFAR-10's python batches of random images (timing only: nothing to learn), for a
    machine without CIFAR-10."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = n_test if name == "test_batch" else n_per_batch
        batch = {
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


# ------------------------------------------------------------------ the driver
def environment() -> list[str]:
    import torch

    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        f"- torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}",
    ]
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        lines.append(f"- GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB")
    for package in ("numpy", "scikit-learn", "skorch", "scipy"):
        try:
            from importlib.metadata import version

            lines.append(f"- {package} {version(package)}")
        except Exception:  # a missing package is reported, not fatal
            lines.append(f"- {package}: not installed")
    return lines


def run_steps(
    dry_run: bool, mnist: str, out: Path, deadline: float, cifar10: str | None = None
) -> int:
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    report = ["# GPU check" + (" (dry run: CPU, toy sizes)" if dry_run else ""), ""]
    report += environment()
    failed = []
    for name, command in steps(dry_run, mnist, out, cifar10):
        left = deadline - (time.monotonic() - start)
        limit = left if dry_run else min(CAPS[name], left)
        if limit < 5:
            report += ["", f"## {name}", "", "skipped: the deadline was reached"]
            failed.append(name)
            continue
        began = time.monotonic()
        try:
            proc = subprocess.run(
                command,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=limit,
                env={**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1"},
            )
            status, output = f"exit {proc.returncode}", proc.stdout + proc.stderr[-4000:]
            ok = proc.returncode == 0
        except subprocess.TimeoutExpired as exc:
            partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            status, output, ok = f"stopped at its limit of {limit:.0f} s", partial, False
        seconds = time.monotonic() - began
        print(f"{name}: {status}, {seconds:.0f} s", flush=True)
        shown = " ".join(Path(c).name if c.endswith(".py") else c for c in command[1:])
        tail = "\n".join(output.strip().splitlines()[-80:]) or "(no output)"
        report += ["", f"## {name}", "", f"`{shown}`: {status}, {seconds:.1f} s", "", "```"]
        report += [tail, "```"]
        if not ok:
            failed.append(name)
    total = time.monotonic() - start
    report += ["", f"Total: {total:.0f} s; failed or stopped: {', '.join(failed) or 'none'}."]
    (out / "gpu_check.md").write_text("\n".join(report) + "\n", encoding="utf-8")
    print(f"wrote {out / 'gpu_check.md'} ({total:.0f} s)")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, toy sizes")
    parser.add_argument("--mnist", default=None, help="MNIST idx folder (dry run: toy files)")
    default_out = os.environ.get("OUT") or str(ROOT / "benchmarks" / "results" / "gpu_check")
    parser.add_argument("--out", default=default_out, help="report folder")
    parser.add_argument("--deadline", type=float, default=540.0, help="seconds for all steps")
    parser.add_argument(
        "--cifar10",
        default=None,
        help="CIFAR-10 python batches folder (default: random images in that format, which "
        "time the CIFAR-10 slices but learn nothing)",
    )
    parser.add_argument("--step", choices=REPRODUCTIONS, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.step is not None:
        if args.cifar10 is not None:
            cifar_slice(args.step, args.cifar10, out, args.dry_run)
        else:
            reproduce_slice(args.step, args.mnist, out, args.dry_run)
        return 0
    if not args.dry_run:
        import torch

        if not torch.cuda.is_available():
            parser.error("no CUDA device: run on a GPU machine, or pass --dry-run")
    mnist = args.mnist
    if mnist is None:
        if not args.dry_run:
            parser.error("--mnist PATH is needed (bash benchmarks/gpu_pack.sh copies MNIST)")
        mnist = str(write_toy_mnist(out / "toy-mnist"))
    cifar10 = args.cifar10
    if cifar10 is None:
        sizes = (40, 20) if args.dry_run else (2000, 1000)  # 10,000 training images at GPU size
        cifar10 = str(write_random_cifar10(out / "random-cifar10", *sizes))
    return run_steps(args.dry_run, mnist, out, args.deadline, cifar10)


if __name__ == "__main__":
    sys.exit(main())
