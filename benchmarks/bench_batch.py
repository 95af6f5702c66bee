"""Batch-diverse strategies: robustsk's time beside scikit-activeml's on the same inputs.

A LeNet5 trained briefly on MNIST scores a pool (``--pool`` images): its MC-dropout
probabilities (``--draws`` passes) feed both libraries' BatchBALD, and its
penultimate embeddings (84 numbers an image) both libraries' TypiClust and
ProbCover. Each row gives the seconds of each library for one batch of ``--batch``
picks (BatchBALD: ``--bb-batch``), their ratio, and whether the picks agree (ProbCover
breaks its integer ties at random, so it reports the coverage each reaches instead).
BADGE has no scikit-activeml counterpart on a torch network; its row is its time
against the two forward passes it needs.

Run: ``python benchmarks/bench_batch.py --mnist DIR [--pool 5000]``
(scikit-activeml: ``pip install --no-deps scikit-activeml makefun``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from robustsk import query as Q
from robustsk.datasets import load_mnist
from robustsk.estimators import RobustNetClassifier
from robustsk.nets import LeNet5
from robustsk.query._embeddings import penultimate_embeddings

try:
    import skactiveml.pool as skal
    from skactiveml.pool._bald import batch_bald
except ImportError:  # optional
    skal = None


class Embedder:
    """Hands the given embeddings to the embedding strategies as they are."""

    classes_ = np.arange(10)

    def predict_proba(self, X):
        return np.asarray(X, dtype=np.float64)


def timed(f):
    start = time.perf_counter()
    out = f()
    return time.perf_counter() - start, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", required=True, help="folder of the MNIST idx files")
    parser.add_argument("--pool", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--bb-batch", type=int, default=10, help="BatchBALD's batch")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--max-configs", type=int, default=1000)
    parser.add_argument("--n-train", type=int, default=2000)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    X, y = load_mnist(args.mnist, n_samples=args.n_train + args.pool, return_X_y=True)
    net = RobustNetClassifier(LeNet5, max_epochs=1, verbose=0, random_state=0)
    net.fit(X[: args.n_train], y[: args.n_train])
    pool = X[args.n_train : args.n_train + args.pool]
    probs = Q.mc_dropout_probs(net, pool, n_draws=args.draws, random_state=0)
    emb = penultimate_embeddings(net, pool).astype(np.float64)
    y_missing = np.full(len(pool), np.nan)
    print(
        f"pool {len(pool):,} MNIST images, LeNet5; batch {args.batch} "
        f"(BatchBALD {args.bb_batch}, {args.draws} MC-dropout draws, "
        f"{args.max_configs} configurations)"
    )
    print()
    print(f"{'strategy':<12}{'robustsk s':>12}{'skactiveml s':>14}{'ratio':>8}  agreement")
    rows = []

    t_ours, (ours, _) = timed(
        lambda: Q.batchbald_select(
            probs, args.bb_batch, np.random.default_rng(0), max_configs=args.max_configs
        )
    )
    if skal is not None:
        t_theirs, util = timed(
            lambda: batch_bald(
                np.transpose(probs, (1, 0, 2)),
                batch_size=args.bb_batch,
                n_MC_samples=args.max_configs,
                random_state=0,
            )
        )
        theirs = np.nanargmax(util, axis=1)
        agree = f"{len(np.intersect1d(ours, theirs))} of {args.bb_batch} picks shared"
        rows.append(("BatchBALD", t_ours, t_theirs, agree))
    else:
        rows.append(("BatchBALD", t_ours, None, "scikit-activeml not installed"))

    t_ours, (ours, _) = timed(lambda: Q.typiclust(Embedder(), emb, args.batch, random_state=0))
    if skal is not None:
        t_theirs, theirs = timed(
            lambda: skal.TypiClust(k=20, random_state=0).query(
                emb, y_missing, batch_size=args.batch
            )
        )
        agree = f"{len(np.intersect1d(ours, theirs))} of {args.batch} picks shared"
        rows.append(("TypiClust", t_ours, t_theirs, agree))
    else:
        rows.append(("TypiClust", t_ours, None, "scikit-activeml not installed"))

    delta = Q.purity_delta(emb, 10)
    t_ours, (ours, gains) = timed(
        lambda: Q.probcover(
            Embedder(), emb, args.batch, delta=delta, normalize=False, random_state=0
        )
    )
    if skal is not None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_theirs, theirs = timed(
                lambda: skal.ProbCover(deltas=[delta], random_state=0).query(
                    emb, y_missing, batch_size=args.batch
                )
            )
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(radius=delta).fit(emb)

        def coverage(idx):
            return len(np.unique(nn.radius_neighbors_graph(emb[idx], radius=delta).indices))

        agree = f"coverage {coverage(ours):,} vs {coverage(theirs):,} of {len(emb):,}"
        rows.append(("ProbCover", t_ours, t_theirs, agree))
    else:
        rows.append(("ProbCover", t_ours, None, "scikit-activeml not installed"))

    t_badge, _ = timed(lambda: Q.badge(net, pool, args.batch, random_state=0))
    t_raw, _ = timed(lambda: (penultimate_embeddings(net, pool), net.predict_proba(pool)))
    rows.append(("BADGE", t_badge, None, f"{t_badge / t_raw:.2f}x its two forward passes"))

    for name, a, b, agree in rows:
        theirs_text = f"{b:>14.2f}" if b is not None else f"{'-':>14}"
        ratio = f"{b / a:>7.1f}x" if b is not None else f"{'-':>8}"
        print(f"{name:<12}{a:>12.2f}{theirs_text}{ratio}  {agree}")


if __name__ == "__main__":
    main()
