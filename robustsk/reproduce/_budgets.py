"""Contextual perturbation budgets on MNIST and Watermarked MNIST (Tables 1 and 3, Figures 2
and 4)."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..certify import budget_image_dependence
from ..datasets import make_watermarked
from ..estimators import CertifiedBudgetClassifier
from ..nets import SmallCNN
from ..utils import progress_bar, renamed_kwargs, write_csv
from ._plots import subplots

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class BudgetsConfig:
    """Size and settings of a budgets reproduction; defaults are a CPU run of minutes.

    Parameters
    ----------
    n_train : int, default=5000
        Training images (MNIST and Watermarked MNIST each).
    n_test : int, default=1000
        Test images.
    max_epochs : int, default=30
        Training epochs (the paper: 100).
    ramp_start : int, default=1
        Natural epochs before the budgets ramp up (the paper: 1).
    ramp_length : int, default=20
        Epochs of the linear ramp (the paper: 60). A ramp of a few hundred
        optimizer steps makes uniform eps0=0.4 training collapse to a constant
        prediction; 20 epochs of 40 steps does not.
    mnist_eps0 : float, default=0.4
        Target budget on MNIST (Table 1).
    mnist_ratio_range : tuple (low, high), default=(0.5, 2.0)
        Budget range relative to eps0 on MNIST (the classifier's ``ratio_range``).
    watermark_eps0 : tuple of float, default=(0.3, 0.4)
        Target budgets on Watermarked MNIST (Table 3).
    watermark_ratio_range : tuple (low, high), default=(0.125, 2.5)
        Budget range relative to eps0 on Watermarked MNIST.
    bound : {"crown-ibp", "ibp"}, default="ibp"
        Training bound. The CPU run trains with IBP (CROWN-IBP's end state:
        its CROWN-IBP weight falls to 0 over the ramp) because CROWN-IBP costs
        about 7 IBP epochs per epoch; the paper's schedule uses CROWN-IBP.
    loss_fusion : bool, default=False
        With ``bound="crown-ibp"``, train on the loss-fusion bound (one CROWN
        row for the robust loss; about 3x cheaper epochs).
    eval_bound : {"crown-ibp", "ibp", "crown"}, default="crown-ibp"
        Verification bound.
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=128
        Training batch size.
    generator_head : {"linear", "conv"}, default="linear"
        Head of the budget generator (:class:`~robustsk.certify.BudgetGenerator`):
        the paper's dense layer, whose budgets come out the same for every
        image, or a convolution, whose budgets follow the image.
    module : torch.nn.Module class, default=SmallCNN
        The classifier (CROWN-IBP's small CNN, the paper's "DM-small").
    tables : tuple of {1, 3}, default=(1, 3)
        Which tables to run: Table 1 (MNIST, two models) and Table 3
        (Watermarked MNIST, four models). At the paper's sizes each model
        is most of an hour on a 2-core CPU, so one table can run alone.
    random_state : int, default=0
        Seed.
    """

    n_train: int = 5000
    n_test: int = 1000
    max_epochs: int = 30
    ramp_start: int = 1
    ramp_length: int = 20
    mnist_eps0: float = 0.4
    mnist_ratio_range: tuple = (0.5, 2.0)
    watermark_eps0: tuple = (0.3, 0.4)
    watermark_ratio_range: tuple = (0.125, 2.5)
    bound: str = "ibp"
    loss_fusion: bool = False
    eval_bound: str = "crown-ibp"
    lr: float = 1e-3
    batch_size: int = 128
    generator_head: str = "linear"
    module: type = SmallCNN
    tables: tuple = (1, 3)
    random_state: int = 0

    def __post_init__(self) -> None:
        tables = tuple(self.tables)
        if not tables or any(t not in (1, 3) for t in tables) or len(set(tables)) < len(tables):
            raise ValueError(
                f"tables={self.tables!r}: expected a non-empty tuple of distinct table "
                "numbers from (1, 3)"
            )
        self.tables = tables

    @classmethod
    def paper(cls, **changes: Any) -> BudgetsConfig:
        """The paper's schedule: all of MNIST, 100 epochs, the ramp over epochs 2 to 61."""
        params: dict[str, Any] = dict(
            n_train=60000,
            n_test=10000,
            max_epochs=100,
            ramp_start=1,
            ramp_length=60,
            batch_size=256,
            lr=5e-4,
            bound="crown-ibp",
        )
        params.update(changes)
        return cls(**params)


#: Old field names, accepted for one release (with a FutureWarning).
BudgetsConfig.__init__ = renamed_kwargs(  # type: ignore[method-assign]
    {
        "epochs": "max_epochs",
        "mnist_alpha": "mnist_ratio_range",
        "watermark_alpha": "watermark_ratio_range",
        "generator": "generator_head",
    }
)(BudgetsConfig.__init__)


def run_budgets(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    out_dir: str | os.PathLike,
    cfg: BudgetsConfig | None = None,
    *,
    verbose: int = 1,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reproduce Tables 1 and 3 and Figures 2 and 4; write CSV and PNG files into ``out_dir``.

    Parameters
    ----------
    X_train : ndarray of shape (n, 1, 28, 28)
        MNIST training images in [0, 1].
    y_train : ndarray of shape (n,)
        Their labels.
    X_test : ndarray of shape (m, 1, 28, 28)
        Test images.
    y_test : ndarray of shape (m,)
        Test labels.
    out_dir : str or path-like
        Output folder: ``table1.csv``, ``table3.csv``, ``budgets_mnist.png``,
        ``budgets_watermarked.png``, ``summary.md`` and each fitted model as it
        finishes (``models/<data>-<budgets>-<eps0>.pkl``, loadable with pickle),
        so that hours of training outlive a failed evaluation.
    cfg : BudgetsConfig or None, default=None
        Sizes and settings.
    verbose : int, default=1
        Progress bars and the printed tables; 2 adds each model's epoch log.

    Returns
    -------
    table1 : list of dict
        Clean and verified errors (uniform and learned budgets) of the uniform-
        and learned-budget models on MNIST.
    table3 : list of dict
        Clean and verified errors on Watermarked MNIST.
    """
    cfg = cfg or BudgetsConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = X_train[: cfg.n_train], y_train[: cfg.n_train]
    X_test, y_test = X_test[: cfg.n_test], y_test[: cfg.n_test]
    if 3 in cfg.tables:
        Xw, yw = make_watermarked(X, y, random_state=cfg.random_state)
        Xw_test, yw_test = make_watermarked(X_test, y_test, random_state=cfg.random_state + 1)

    def model(budget_mode, eps0, ratio_range):
        return CertifiedBudgetClassifier(
            cfg.module,
            eps0=eps0,
            ratio_range=tuple(ratio_range),
            budget_mode=budget_mode,
            budget_generator__head=cfg.generator_head,
            bound=cfg.bound,
            loss_fusion=cfg.loss_fusion,
            ramp_start=cfg.ramp_start,
            ramp_length=cfg.ramp_length,
            max_epochs=cfg.max_epochs,
            lr=cfg.lr,
            batch_size=cfg.batch_size,
            verbose=int(verbose >= 2),
            random_state=cfg.random_state,
        )

    jobs = []
    if 1 in cfg.tables:
        jobs += [("mnist", b, cfg.mnist_eps0) for b in ("uniform", "learned")]
    if 3 in cfg.tables:
        jobs += [("watermarked", b, e) for e in cfg.watermark_eps0 for b in ("uniform", "learned")]
    fitted = {}
    for data, budget, eps0 in progress_bar(jobs, desc="budgets", verbose=verbose):
        ratio_range = cfg.mnist_ratio_range if data == "mnist" else cfg.watermark_ratio_range
        Xf, yf = (X, y) if data == "mnist" else (Xw, yw)
        fitted[data, budget, eps0] = clf = model(budget, eps0, ratio_range).fit(Xf, yf)
        (out / "models").mkdir(exist_ok=True)
        with open(out / "models" / f"{data}-{budget}-{eps0}.pkl", "wb") as f:
            pickle.dump(clf, f)

    def errors(clf, Xe, ye, budget=None):
        return 100 * (1 - clf.certify(Xe, ye, budget=budget, bound=cfg.eval_bound).mean())

    table1: list[dict[str, Any]] = []
    summary = []
    if 1 in cfg.tables:
        uniform, learned = (fitted["mnist", b, cfg.mnist_eps0] for b in ("uniform", "learned"))
        dependence = budget_image_dependence(learned.budgets(X_test), X_test)
        for name, clf in (("Uniform", uniform), ("Learned", learned)):
            table1.append(
                {
                    "training_budgets": f"{name} eps0={cfg.mnist_eps0}",
                    "clean_error": 100 * (1 - clf.score(X_test, y_test)),
                    "verified_error_uniform": errors(clf, X_test, y_test, "uniform"),
                    "verified_error_learned": errors(clf, X_test, y_test, learned),
                    "generator_head": cfg.generator_head if clf is learned else "",
                    "budget_spread": dependence["spread"] if clf is learned else float("nan"),
                    "budget_stroke_correlation": (
                        dependence["correlation"] if clf is learned else float("nan")
                    ),
                }
            )
        write_csv(table1, out / "table1.csv")
        plot_budgets(
            learned,
            X_test[:8],
            out / "budgets_mnist.png",
            title=f"Learned budgets, MNIST, eps0={cfg.mnist_eps0}",
        )
        summary.append(
            format_table1(table1, cfg)
            + f"\n\nLearned budgets ({cfg.generator_head} generator head) on the test images: "
            f"per-pixel spread across images {dependence['spread']:.3f} of the mean, "
            f"correlation with the pixel value {dependence['correlation']:+.3f}."
        )
    table3: list[dict[str, Any]] = []
    if 3 in cfg.tables:
        for eps0 in cfg.watermark_eps0:
            row: dict[str, Any] = {"eps0": eps0}
            for budget in ("uniform", "learned"):
                clf = fitted["watermarked", budget, eps0]
                row[f"{budget}_clean_error"] = 100 * (1 - clf.score(Xw_test, yw_test))
                row[f"{budget}_verified_error"] = errors(clf, Xw_test, yw_test)
            table3.append(row)
        write_csv(table3, out / "table3.csv")
        wm = fitted["watermarked", "learned", cfg.watermark_eps0[-1]]
        plot_budgets(
            wm,
            Xw_test[:8],
            out / "budgets_watermarked.png",
            title=f"Learned budgets, Watermarked MNIST, eps0={cfg.watermark_eps0[-1]}",
        )
        summary.append(format_table3(table3))
    text = "\n\n".join(summary)
    (out / "summary.md").write_text(text + "\n", encoding="utf-8")
    if verbose:
        written = ["table1.csv", "budgets_mnist.png"] if 1 in cfg.tables else []
        written += ["table3.csv", "budgets_watermarked.png"] if 3 in cfg.tables else []
        print(text)
        print(f"wrote {out}/" + ", ".join(written + ["summary.md"]))
    return table1, table3


def format_tables(table1, table3, cfg) -> str:
    """Tables 1 and 3 as Markdown (errors in %)."""
    return format_table1(table1, cfg) + "\n\n" + format_table3(table3)


def format_table1(table1, cfg) -> str:
    """Table 1 as Markdown (errors in %)."""
    lines = [
        f"Table 1 (MNIST, {cfg.n_train} training / {cfg.n_test} test images, "
        f"{cfg.max_epochs} epochs, verified by {cfg.eval_bound})",
        "",
        "| training budgets | clean error | verified error, uniform | verified error, learned |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['training_budgets']} | {r['clean_error']:.2f} | "
        f"{r['verified_error_uniform']:.2f} | {r['verified_error_learned']:.2f} |"
        for r in table1
    ]
    return "\n".join(lines)


def format_table3(table3) -> str:
    """Table 3 as Markdown (errors in %)."""
    lines = [
        "Table 3 (Watermarked MNIST)",
        "",
        "| eps0 | uniform: clean | uniform: verified | learned: clean | learned: verified |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['eps0']} | {r['uniform_clean_error']:.2f} | "
        f"{r['uniform_verified_error']:.2f} | {r['learned_clean_error']:.2f} | "
        f"{r['learned_verified_error']:.2f} |"
        for r in table3
    ]
    return "\n".join(lines)


def plot_budgets(
    estimator: CertifiedBudgetClassifier,
    X: ArrayLike,
    path: str | os.PathLike,
    *,
    title: str | None = None,
) -> Figure:
    """Images and their learned per-pixel budgets, as in the paper's Figures 2 and 4.

    Parameters
    ----------
    estimator : fitted CertifiedBudgetClassifier
        Gives the budgets.
    X : ndarray of shape (n, c, h, w)
        Images (a few; one column each).
    path : str or path-like
        PNG file to write.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    X = np.asarray(X, dtype=np.float32)
    eps = estimator.budgets(X)
    low, high = estimator.budget_range_
    n = X.shape[0]
    fig, axes = subplots(2, n, figsize=(1.4 * n + 0.8, 3.2), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(np.moveaxis(X[j], 0, -1).squeeze(), cmap="gray", vmin=0, vmax=1)
        im = axes[1, j].imshow(eps[j].mean(axis=0), cmap="magma", vmin=low, vmax=high)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("budget")
    fig.colorbar(im, ax=axes[1, :].tolist(), fraction=0.02, pad=0.01, label="eps")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig
