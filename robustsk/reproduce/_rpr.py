"""RPR on MNIST (Ilie et al., section 2.3): the robust ratio of a model M, robust-subset
selection on its training set, and the retrained model M_R (Figures 3-5)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..estimators import RobustNetClassifier
from ..metrics import plot_rpr_curve, rpr_curve, rpr_steps
from ..nets import LeNet5
from ..perturb import RandomPixels
from ..selection import RobustSubsetSelector
from ..utils import write_csv

#: The paper's numbers (section 2.3), printed beside ours.
PAPER = {
    "M": {"test_accuracy": 0.9885, "test_robust_ratio": 0.2957, "train_robust_ratio": 0.7128},
    "M_R": {"test_accuracy": 0.9692, "test_robust_ratio": 0.5101},
}


@dataclass
class RPRConfig:
    """Size and settings of an RPR reproduction; the defaults are a CPU run of minutes.

    Parameters
    ----------
    n_train : int, default=5000
        Training images of M (the first of MNIST's training set); RPR is
        computed on all of them.
    n_test : int, default=1000
        Test images for accuracy and the robust ratio.
    n_per_class : int or "min", default=125
        Robust training images drawn per class for M_R (the paper: 1,500 of
        60,000, i.e. a quarter of the training set; 125 is the same share of
        5,000).
    epochs : int, default=5
        Training epochs of M.
    retrain_epochs : int, default=20
        Training epochs of M_R. Its set is a quarter of M's, so 4x the epochs
        gives both models about the same number of optimizer steps.
    max_steps : int, default=250
        Draws a point must withstand to be robust (the paper's MAX_STEPS).
    k : int or None, default=None
        Pixels replaced per draw; None is ``round(sqrt(784)) = 28``, the
        paper's scheme.
    lr : float, default=1e-3
        Adam learning rate (the paper: Adam with default settings).
    batch_size : int, default=128
        Training batch size.
    rpr_batch_size : int or None, default=None
        Most rows per predict call of the RPR engine (``None``: as in
        :func:`~robustsk.metrics.rpr_steps`).
    module : torch.nn.Module class, default=LeNet5
        The network of M and M_R.
    random_state : int, default=0
        Seed of training, the perturbation draws and the per-class sampling.
    """

    n_train: int = 5000
    n_test: int = 1000
    n_per_class: int | str = 125
    epochs: int = 5
    retrain_epochs: int = 20
    max_steps: int = 250
    k: int | None = None
    lr: float = 1e-3
    batch_size: int = 128
    rpr_batch_size: int | None = None
    module: type = LeNet5
    random_state: int = 0

    @classmethod
    def paper(cls, **changes: Any) -> RPRConfig:
        """The paper's protocol: all 60,000 training and 10,000 test images, 1,500 robust
        images per class for M_R, MAX_STEPS 250 (for a GPU)."""
        params: dict[str, Any] = dict(
            n_train=60000, n_test=10000, n_per_class=1500, epochs=10, retrain_epochs=10
        )
        params.update(changes)
        return cls(**params)


def _train(cfg, X, y, epochs, n_classes):
    return RobustNetClassifier(
        cfg.module,
        classes=np.arange(n_classes),
        max_epochs=epochs,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        verbose=0,
        random_state=cfg.random_state,
    ).fit(X, y)


def run_rpr(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    out_dir: str | os.PathLike,
    cfg: RPRConfig | None = None,
    *,
    verbose: int = 1,
) -> list[dict[str, Any]]:
    """Train M, judge its training points by RPR, retrain M_R on the robust subset; report.

    Writes into ``out_dir``: ``results.csv`` (test accuracy and robust ratio of
    M and M_R, and the share of robust training images under M),
    ``per_class.csv`` (robust training images per class: Figure 4),
    ``curves.csv`` and ``rpr_curves.png`` (robust ratio of the test set against
    the number of draws for both models: Figures 3 and 5), and ``summary.md``
    (ours beside the paper's numbers).

    Parameters
    ----------
    X_train : ndarray of shape (n, 1, 28, 28)
        Training images in [0, 1]; the first ``cfg.n_train`` are used.
    y_train : ndarray of shape (n,)
        Their labels.
    X_test : ndarray
        Test images; the first ``cfg.n_test`` are used.
    y_test : ndarray
        Test labels.
    out_dir : str or path-like
        Output folder.
    cfg : RPRConfig or None, default=None
        Sizes and settings (the CPU defaults when None).
    verbose : int, default=1
        Progress bars and the printed summary.

    Returns
    -------
    results : list of dict
        One row per model (M, M_R).
    """
    cfg = cfg or RPRConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = X_train[: cfg.n_train], y_train[: cfg.n_train]
    X_test, y_test = X_test[: cfg.n_test], y_test[: cfg.n_test]
    n_classes = int(max(y.max(), y_test.max())) + 1
    perturbation = RandomPixels(cfg.k)
    rpr: dict[str, Any] = dict(
        perturbation=perturbation,
        max_steps=cfg.max_steps,
        batch_size=cfg.rpr_batch_size,
        verbose=verbose,
    )

    def log(message):
        if verbose:
            print(message, flush=True)

    start = time.perf_counter()
    model = _train(cfg, X, y, cfg.epochs, n_classes)
    log(f"M trained on {len(X):,} images ({time.perf_counter() - start:.0f} s)")
    selector = RobustSubsetSelector(
        model, n_per_class=cfg.n_per_class, **rpr, random_state=cfg.random_state
    )
    X_r, y_r = selector.fit_resample(X, y)
    log(
        f"robust training images under M: {selector.robust_.mean():.4f}; M_R trains on {len(X_r):,}"
    )
    model_r = _train(cfg, X_r, y_r, cfg.retrain_epochs, n_classes)

    results, test_steps = [], {}
    for name, net, n_fit in (("M", model, len(X)), ("M_R", model_r, len(X_r))):
        steps = rpr_steps(net, X_test, y_test, random_state=cfg.random_state + 1, **rpr)
        test_steps[name] = steps
        row = {
            "model": name,
            "n_train": n_fit,
            "test_accuracy": net.score(X_test, y_test),
            "test_robust_ratio": float(np.mean(steps >= cfg.max_steps)),
            "test_mean_steps": float(steps.mean()),
        }
        row["train_robust_ratio"] = float(selector.robust_.mean()) if name == "M" else ""
        results.append(row)
    write_csv(results, out / "results.csv")
    write_csv(
        [
            {
                "class": c,
                "n_train": int((y == c).sum()),
                "n_robust": selector.n_robust_per_class_[c],
                "robust_fraction": selector.n_robust_per_class_[c] / max(1, int((y == c).sum())),
                "n_selected": selector.n_selected_per_class_[c],
            }
            for c in selector.classes_.tolist()
        ],
        out / "per_class.csv",
    )
    m, ratio_m = rpr_curve(test_steps["M"], max_steps=cfg.max_steps)
    _, ratio_r = rpr_curve(test_steps["M_R"], max_steps=cfg.max_steps)
    write_csv(
        [
            {"n_steps": int(a), "robust_ratio_M": float(b), "robust_ratio_M_R": float(c)}
            for a, b, c in zip(m, ratio_m, ratio_r)
        ],
        out / "curves.csv",
    )
    plot_figures(test_steps, selector, cfg, out / "rpr_curves.png")
    summary = format_summary(results, cfg)
    (out / "summary.md").write_text(summary)
    log(summary)
    log(
        f"wrote results.csv, per_class.csv, curves.csv, rpr_curves.png and summary.md to {out} "
        f"({time.perf_counter() - start:.0f} s)"
    )
    return results


def format_summary(results, cfg) -> str:
    """Our numbers beside the paper's, as Markdown."""
    lines = [
        f"RPR on MNIST, {cfg.module.__name__}: {cfg.n_train:,} training and "
        f"{cfg.n_test:,} test images, MAX_STEPS {cfg.max_steps}, "
        f"n_per_class {cfg.n_per_class}",
        "",
        "| model | trained on | test accuracy | test robust ratio | paper accuracy | "
        "paper robust ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        p = PAPER[r["model"]]
        lines.append(
            f"| {r['model']} | {r['n_train']:,} | {100 * r['test_accuracy']:.2f}% | "
            f"{r['test_robust_ratio']:.4f} | {100 * p['test_accuracy']:.2f}% | "
            f"{p['test_robust_ratio']:.4f} |"
        )
    train = results[0]["train_robust_ratio"]
    lines += [
        "",
        f"Robust training images under M: {100 * train:.2f}% "
        f"(paper: {100 * PAPER['M']['train_robust_ratio']:.2f}%).",
    ]
    return "\n".join(lines) + "\n"


def plot_figures(test_steps, selector, cfg, path):
    """Figures 3 and 5 (robust ratio of the test set against draws) and Figure 4 (robust
    training images per class) in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, style in (("M", "-"), ("M_R", "--")):
        plot_rpr_curve(
            test_steps[name], max_steps=cfg.max_steps, label=name, ax=ax1, linestyle=style
        )
    ax1.set_title("test images still robust (Figures 3 and 5)")
    classes = selector.classes_
    ax2.bar(
        [str(c) for c in classes.tolist()],
        [selector.n_robust_per_class_[c] for c in classes.tolist()],
    )
    ax2.set_xlabel("class")
    ax2.set_ylabel("robust training images under M")
    ax2.set_title("robust training images per class (Figure 4)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
