"""A pool of a million rows from a memory-mapped file: pool scoring and RPR in bounded memory.

A float32 ``.npy`` file of ``--rows`` MNIST-size rows (the MNIST training images
repeated, 3.1 GB at a million rows) is opened with ``np.load(..., mmap_mode="r")``
and given as it is to ``max_entropy`` (pool scoring: one LeNet5 forward per row)
and ``rpr_steps`` (``--rpr-steps`` random-pixel draws per row). A thread samples
the process's memory every 20 ms: the private memory it allocates (``RssAnon``:
tensors, blocks, scores) and, beside it, the file's pages the kernel maps in while
reading (``RssFile``: page cache, shared and dropped under memory pressure, never
more than the file).

Target (issue "faster than the raw passes", point 5): peak private memory under
2 GB at 1,000,000 rows, with the same selection as on the array in memory (checked
on the first ``--check-rows`` rows).

Run: ``python benchmarks/bench_pool_scale.py --mnist DIR [--rows 1000000]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from robustsk.datasets import load_mnist
from robustsk.estimators import RobustNetClassifier
from robustsk.metrics import rpr_steps
from robustsk.nets import LeNet5
from robustsk.query import max_entropy


class MemorySampler:
    """Peaks of ``RssAnon`` and ``RssFile`` (bytes) of this process while it runs."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def read() -> dict[str, int]:
        values = {}
        with open("/proc/self/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("RssAnon", "RssFile"):
                    values[key] = int(rest.split()[0]) * 1024
        return values

    def _run(self):
        while not self._stop.is_set():
            for key, value in self.read().items():
                self.peak[key] = max(self.peak[key], value)
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = dict.fromkeys(self.peak, 0)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def write_pool(path: Path, images: np.ndarray, rows: int, chunk: int = 50_000) -> np.ndarray:
    """A float32 ``.npy`` of ``rows`` rows, ``images`` repeated, written in chunks."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 1, 28, 28))
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        idx = np.arange(start, stop) % len(images)
        out[start:stop] = images[idx]
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", required=True, help="folder of the MNIST idx files")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rpr-steps", type=int, default=2, help="RPR draws per row")
    parser.add_argument("--check-rows", type=int, default=20_000)
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--folder", default=None, help="where the .npy goes (default: a temp dir)")
    args = parser.parse_args(argv)

    X, y = load_mnist(args.mnist, return_X_y=True)
    clf = RobustNetClassifier(LeNet5, max_epochs=1, verbose=0, random_state=0)
    clf.fit(X[: args.n_train], y[: args.n_train])
    labels = clf.predict(X)  # the rows' labels for RPR: the model's own prediction
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        path = Path(tmp) / "pool.npy"
        start = time.perf_counter()
        pool = write_pool(path, X, args.rows)
        y_pool = labels[np.arange(args.rows) % len(X)]
        print(
            f"pool: {args.rows:,} rows of 1x28x28 float32 in {path.name} "
            f"({gb(os.path.getsize(path))} on disk), written in {time.perf_counter() - start:.0f} s"
        )
        base = MemorySampler.read()["RssAnon"]
        print(f"private memory before scoring: {gb(base)}")
        print()
        print(f"{'engine':<28}{'rows/s':>10}{'seconds':>9}{'peak private':>14}{'file pages':>12}")
        results = {}
        for name, run in (
            ("max_entropy (pool scoring)", lambda X_: max_entropy(clf, X_, 100, random_state=0)[0]),
            (
                f"rpr_steps (max_steps={args.rpr_steps})",
                lambda X_: rpr_steps(
                    clf, X_, y_pool[: len(X_)], max_steps=args.rpr_steps, random_state=0
                ),
            ),
        ):
            with MemorySampler() as mem:
                start = time.perf_counter()
                results[name] = run(pool)
                seconds = time.perf_counter() - start
            print(
                f"{name:<28}{args.rows / seconds:>10,.0f}{seconds:>9.1f}"
                f"{gb(mem.peak['RssAnon']):>14}{gb(mem.peak['RssFile']):>12}"
            )
            results[name, "peak"] = mem.peak["RssAnon"]
        # The same answer as on the rows in memory (on the first --check-rows rows).
        n = min(args.check_rows, args.rows)
        in_memory = np.ascontiguousarray(pool[:n])
        same_scoring = np.array_equal(
            max_entropy(clf, pool[:n], 100, random_state=0)[0],
            max_entropy(clf, in_memory, 100, random_state=0)[0],
        )
        same_rpr = np.array_equal(
            rpr_steps(clf, pool[:n], y_pool[:n], max_steps=args.rpr_steps, random_state=0),
            rpr_steps(clf, in_memory, y_pool[:n], max_steps=args.rpr_steps, random_state=0),
        )
        del pool
    peak = max(v for k, v in results.items() if isinstance(k, tuple))
    print()
    print(
        f"same selection / step counts as in memory on {n:,} rows: "
        f"{'yes' if same_scoring else 'NO'} / {'yes' if same_rpr else 'NO'}"
    )
    print(
        f"target (peak private memory < 2 GB at {args.rows:,} rows): "
        f"{'met' if peak < 2 * 2**30 else 'NOT met'} ({gb(peak)})"
    )


if __name__ == "__main__":
    main()
