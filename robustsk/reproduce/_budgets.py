"""Contextual perturbation budgets on MNIST, Watermarked MNIST, CIFAR-10 and Doubled CIFAR-10
(Tables 1 to 4, Figures 2 to 5)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..certify import METHODS, boxes_intersect, budget_image_dependence
from ..datasets import (
    make_doubled,
    make_watermarked,
    watermark_accuracy,
    watermark_counterparts,
)
from ..estimators import CertifiedBudgetClassifier
from ..nets import CNN7, SmallCNN
from ..utils import (
    Boolean,
    check_number,
    check_options,
    check_param,
    progress_bar,
    renamed_kwargs,
    write_csv,
)
from ._networks import format_radius, module_params, network_kwargs
from ._plots import subplots
from ._saved_models import load_matching_model, save_model

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
    eval_bound : {"best", "crown-ibp", "ibp", "crown"}, default="best"
        Verification bound. "best" takes the tighter of IBP and CROWN-IBP for
        each margin (both sound). The paper's code verifies with IBP (its
        CROWN-IBP weight is 0 at the final budget), which after this training
        is much tighter than CROWN-IBP: the paper-schedule uniform model has
        18.5% verified error by IBP and 32.8% by CROWN-IBP.
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
    tables : tuple of {1, 2, 3, 4}, default=(1, 3)
        Which tables to run: Table 1 (MNIST, two models), Table 2 (CIFAR-10,
        two models per ``cifar_eps0``), Table 3 (Watermarked MNIST, four
        models) and Table 4 (Doubled CIFAR-10, two models). Tables 1 and 3 run
        on MNIST, 2 and 4 on CIFAR-10 (:data:`DATASET_TABLES`). At the paper's
        sizes each MNIST model is most of an hour on a 2-core CPU, so one table
        can run alone.
    random_state : int, default=0
        Seed.
    cifar_eps0 : tuple of float, default=(8/255, 32/255)
        Target budgets on CIFAR-10 (Table 2).
    cifar_ratio_range : tuple (low, high), default=(0.125, 2.0)
        Budget range relative to eps0 on CIFAR-10.
    doubled_eps0 : float, default=16/255
        Target budget on Doubled CIFAR-10 (Table 4).
    doubled_ratio_range : tuple (low, high), default=(0.0625, 1.5)
        Budget range relative to eps0 on Doubled CIFAR-10.
    module_kwargs : dict, default={}
        Further constructor arguments of ``module`` (``normalize``, a width).
    dataset : {"mnist", "cifar10", "doubled-cifar"}, default="mnist"
        The data the run is given: MNIST (Tables 1 and 3), CIFAR-10 (Tables 2
        and 4, Doubled CIFAR-10 built from it) or Doubled CIFAR-10 already
        built (Table 4). :meth:`for_dataset` sets it with the paper's network.

    Raises
    ------
    ValueError
        For an unknown ``dataset`` or ``eval_bound``, tables the data set does
        not give, or an eps0 level that is not positive and finite (a tuple of
        levels must be non-empty and distinct): before any training.
    TypeError
        For an eps0 level that is not a number, or a single number where a
        tuple of levels is expected.
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
    eval_bound: str = "best"
    lr: float = 1e-3
    batch_size: int = 128
    generator_head: str = "linear"
    module: type = SmallCNN
    tables: tuple = (1, 3)
    random_state: int = 0
    cifar_eps0: tuple = (8 / 255, 32 / 255)
    cifar_ratio_range: tuple = (0.125, 2.0)
    doubled_eps0: float = 16 / 255
    doubled_ratio_range: tuple = (0.0625, 1.5)
    module_kwargs: dict = field(default_factory=dict)
    dataset: str = "mnist"

    def __post_init__(self) -> None:
        check_options(self.dataset, "dataset", set(DATASET_TABLES))
        check_options(self.eval_bound, "eval_bound", set(METHODS))
        allowed = DATASET_TABLES[self.dataset]
        tables = tuple(self.tables)
        if not tables or any(t not in allowed for t in tables) or len(set(tables)) < len(tables):
            raise ValueError(
                f"tables={self.tables!r}: expected a non-empty tuple of distinct table "
                f"numbers from {allowed} (the tables of dataset={self.dataset!r})"
            )
        self.tables = tables
        # Each eps0 level trains two models: a bad one fails here, before any training.
        for name in ("mnist_eps0", "doubled_eps0"):
            check_number(getattr(self, name), name, low=0.0, include_low=False)
        for name in ("watermark_eps0", "cifar_eps0"):
            levels = getattr(self, name)
            if isinstance(levels, (str, bytes)) or not hasattr(levels, "__iter__"):
                raise TypeError(f"{name} must be a tuple of eps0 levels, got {levels!r}.")
            levels = tuple(levels)
            if not levels or len(set(levels)) < len(levels):
                raise ValueError(f"{name} must hold distinct eps0 levels, got {levels!r}.")
            for level in levels:
                check_number(level, f"each of {name}", low=0.0, include_low=False)
            setattr(self, name, levels)

    @classmethod
    def for_dataset(cls, dataset: str, *, toy: bool = False, **changes: Any) -> BudgetsConfig:
        """The configuration on ``dataset``: SmallCNN on MNIST (Tables 1 and 3); on CIFAR-10
        (Tables 2 and 4) and Doubled CIFAR-10 (Table 4) CNN-7 (CROWN-IBP's large
        CIFAR-10 model), with CIFAR-10's standardisation as first layer. ``toy``
        shrinks CNN-7 to width 4; ``changes`` override any field.
        """
        check_options(dataset, "dataset", set(DATASET_TABLES))
        params: dict[str, Any] = {"dataset": dataset, "tables": DATASET_TABLES[dataset]}
        if dataset != "mnist":
            params["module"] = CNN7
        params.update(changes)
        params["module_kwargs"] = {
            **network_kwargs(dataset, params.get("module", SmallCNN), toy=toy),
            **changes.get("module_kwargs", {}),
        }
        return cls(**params)

    @classmethod
    def paper(cls, **changes: Any) -> BudgetsConfig:
        """The paper's schedule: all of MNIST, 100 epochs, the ramp over epochs 2 to 61;
        on CIFAR-10 (``dataset="cifar10"`` or ``"doubled-cifar"``) all 50,000 images,
        320 epochs, the ramp over 160 epochs from the 32nd (the paper's ramp is
        smoothed; this one is linear)."""
        dataset = changes.pop("dataset", "mnist")
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
        if dataset != "mnist":
            params.update(n_train=50000, max_epochs=320, ramp_start=31, ramp_length=160)
        params.update(changes)
        return cls.for_dataset(dataset, **params)


#: The tables each data set gives: MNIST Tables 1 and 3 (Watermarked MNIST built from it),
#: CIFAR-10 Tables 2 and 4 (Doubled CIFAR-10 built from it), Doubled CIFAR-10 Table 4.
DATASET_TABLES: dict[str, tuple[int, ...]] = {
    "mnist": (1, 3),
    "cifar10": (2, 4),
    "doubled-cifar": (4,),
}


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
    resume: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reproduce the paper's tables and budget figures; write CSV and PNG files into ``out_dir``.

    On MNIST (``cfg.dataset="mnist"``) Tables 1 and 3 and Figures 2 and 4; on
    CIFAR-10 Tables 2 and 4 (Doubled CIFAR-10 built from the images given) and
    Figures 3 and 5; on Doubled CIFAR-10 Table 4. ``cfg.tables`` picks among them.

    Parameters
    ----------
    X_train : ndarray of shape (n, c, h, w)
        Training images in [0, 1] of ``cfg.dataset``.
    y_train : ndarray of shape (n,)
        Their labels.
    X_test : ndarray of shape (m, c, h, w)
        Test images.
    y_test : ndarray of shape (m,)
        Test labels.
    out_dir : str or path-like
        Output folder: ``table<k>.csv`` and ``budgets_<data>.png`` for each table,
        ``summary.md`` and each fitted model as it finishes
        (``models/<data>-<budgets>-<eps0>.pkl``, loadable with pickle), so that
        hours of training outlive a failed evaluation.
    cfg : BudgetsConfig or None, default=None
        Sizes and settings.
    verbose : int, default=1
        Progress bars and the printed tables; 2 adds each model's epoch log.
    resume : bool, default=False
        Reuse the models an earlier run saved in ``out_dir/models`` instead of
        training them again, when each was trained with this run's settings
        (its parameters and training-set size are checked; a model trained
        otherwise raises ``ValueError`` rather than being overwritten). A run
        cut short goes on with the models it had not finished; a finished one
        is evaluated again, e.g. with another ``cfg.eval_bound``. Models are
        pickles: resume only from folders you wrote.

    Returns
    -------
    main_table : list of dict
        Table 1 (MNIST) or Table 2 (CIFAR-10): clean and verified errors (uniform
        and learned budgets) of the uniform- and learned-budget models; empty if
        not run.
    synthetic_table : list of dict
        Table 3 (Watermarked MNIST) or Table 4 (Doubled CIFAR-10): clean and
        verified errors; empty if not run.
    """
    check_param(resume, "resume", [Boolean()])
    cfg = cfg or BudgetsConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = X_train[: cfg.n_train], y_train[: cfg.n_train]
    X_test, y_test = X_test[: cfg.n_test], y_test[: cfg.n_test]
    # Each table: its data, its eps0 values and budget range, its name in files and titles.
    tables: dict[int, tuple] = {
        1: ("mnist", (X, y, X_test, y_test), (cfg.mnist_eps0,), cfg.mnist_ratio_range),
        2: ("cifar10", (X, y, X_test, y_test), tuple(cfg.cifar_eps0), cfg.cifar_ratio_range),
        3: ("watermarked", None, tuple(cfg.watermark_eps0), cfg.watermark_ratio_range),
        4: ("doubled", None, (cfg.doubled_eps0,), cfg.doubled_ratio_range),
    }
    if 3 in cfg.tables:
        Xw, yw = make_watermarked(X, y, random_state=cfg.random_state)
        Xw_test, yw_test, info = make_watermarked(
            X_test, y_test, random_state=cfg.random_state + 1, return_info=True
        )
        # Each test image's counterpart (the other mark, other side): where their budget
        # boxes meet, no classifier is verified on both (the verification floor).
        Xw_other, _ = watermark_counterparts(
            X_test, y_test, info, random_state=cfg.random_state + 2
        )
        tables[3] = (*tables[3][:1], (Xw, yw, Xw_test, yw_test), *tables[3][2:])
    if 4 in cfg.tables:
        if cfg.dataset == "doubled-cifar":  # the images given are Doubled CIFAR-10 already
            doubled = (X, y, X_test, y_test)
        else:
            Xd, yd = make_doubled(X, y, random_state=cfg.random_state)
            Xd_test, yd_test = make_doubled(X_test, y_test, random_state=cfg.random_state + 1)
            doubled = (Xd, yd, Xd_test, yd_test)
        tables[4] = (*tables[4][:1], doubled, *tables[4][2:])

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
            **module_params(cfg.module_kwargs),
        )

    jobs = [
        (k, budget, eps0)
        for k in sorted(cfg.tables)
        for eps0 in tables[k][2]
        for budget in ("uniform", "learned")
    ]
    (out / "models").mkdir(exist_ok=True)
    path = {job: out / "models" / f"{tables[job[0]][0]}-{job[1]}-{job[2]:.6g}.pkl" for job in jobs}
    fitted = {}
    if resume:  # every saved model is checked before any training starts
        for k, budget, eps0 in jobs:
            expected = model(budget, eps0, tables[k][3])
            saved = load_matching_model(path[k, budget, eps0], expected, len(tables[k][1][1]))
            if saved is not None:
                fitted[k, budget, eps0] = saved
                if verbose:
                    print(f"resume: reusing {path[k, budget, eps0]}", flush=True)
    todo = [job for job in jobs if job not in fitted]
    for k, budget, eps0 in progress_bar(todo, desc="budgets", verbose=verbose):
        _, (Xf, yf, _, _), _, ratio_range = tables[k]
        fitted[k, budget, eps0] = clf = model(budget, eps0, ratio_range).fit(Xf, yf)
        save_model(clf, path[k, budget, eps0])

    def errors(clf, Xe, ye, budget=None):
        return 100 * (1 - clf.certify(Xe, ye, budget=budget, bound=cfg.eval_bound).mean())

    main_table: list[dict[str, Any]] = []
    synthetic_table: list[dict[str, Any]] = []
    summary, written = [], []
    for k in sorted(cfg.tables):
        name, (_, _, Xe, ye), eps0s, _ = tables[k]
        title = TABLE_TITLES[k]
        if k in (1, 2):
            parts = []
            for eps0 in eps0s:
                uniform, learned = (fitted[k, b, eps0] for b in ("uniform", "learned"))
                dependence = budget_image_dependence(learned.budgets(Xe), Xe)
                for label, clf in (("Uniform", uniform), ("Learned", learned)):
                    main_table.append(
                        {
                            "training_budgets": f"{label} eps0={format_radius(eps0)}",
                            "clean_error": 100 * (1 - clf.score(Xe, ye)),
                            "verified_error_uniform": errors(clf, Xe, ye, "uniform"),
                            "verified_error_learned": errors(clf, Xe, ye, learned),
                            "generator_head": cfg.generator_head if clf is learned else "",
                            "budget_spread": (
                                dependence["spread"] if clf is learned else float("nan")
                            ),
                            "budget_stroke_correlation": (
                                dependence["correlation"] if clf is learned else float("nan")
                            ),
                        }
                    )
                parts.append(
                    f"Learned budgets at eps0={format_radius(eps0)} ({cfg.generator_head} "
                    f"generator head) on the test images: per-pixel spread across images "
                    f"{dependence['spread']:.3f} of the mean, correlation with the pixel value "
                    f"{dependence['correlation']:+.3f}."
                )
            rows = main_table
            summary.append(format_table1(main_table, cfg, title=title) + "\n\n" + " ".join(parts))
        else:
            for eps0 in eps0s:
                row: dict[str, Any] = {"eps0": eps0}
                for budget in ("uniform", "learned"):
                    clf = fitted[k, budget, eps0]
                    pred = clf.predict(Xe)
                    row[f"{budget}_clean_error"] = 100 * (1 - np.mean(pred == ye))
                    row[f"{budget}_verified_error"] = errors(clf, Xe, ye)
                    if k == 3:  # the 20 classes' two halves: is the watermark read at all?
                        read = watermark_accuracy(ye, pred)
                        row[f"{budget}_digit_read"] = 100 * read.digit
                        row[f"{budget}_watermark_read"] = 100 * read.watermark
                        meet = boxes_intersect(Xe, clf.budgets(Xe), Xw_other, clf.budgets(Xw_other))
                        row[f"{budget}_verification_floor"] = 50 * float(meet.mean())
                synthetic_table.append(row)
            rows = synthetic_table
            summary.append(format_table3(synthetic_table, title=title))
        write_csv(rows, out / f"table{k}.csv")
        plot_budgets(
            fitted[k, "learned", eps0s[-1]],
            Xe[:8],
            out / f"budgets_{name}.png",
            title=f"Learned budgets, {title.split(' (')[0]}, eps0={format_radius(eps0s[-1])}",
        )
        written += [f"table{k}.csv", f"budgets_{name}.png"]
    text = "\n\n".join(summary)
    (out / "summary.md").write_text(text + "\n", encoding="utf-8")
    if verbose:
        print(text)
        print(f"wrote {out}/" + ", ".join(written + ["summary.md"]))
    return main_table, synthetic_table


#: How the tables name each verification bound.
_BOUND_NAMES = {
    "best": "the tighter of IBP and CROWN-IBP",
    "crown-ibp": "CROWN-IBP",
    "ibp": "IBP",
    "crown": "CROWN",
}

#: Each table's title: the data set, and what the paper calls it.
TABLE_TITLES = {
    1: "MNIST (Table 1)",
    2: "CIFAR-10 (Table 2)",
    3: "Watermarked MNIST (Table 3)",
    4: "Doubled CIFAR-10 (Table 4)",
}


def format_tables(table1, table3, cfg) -> str:
    """Tables 1 and 3 as Markdown (errors in %)."""
    return format_table1(table1, cfg) + "\n\n" + format_table3(table3)


def format_table1(table1, cfg, *, title: str = "MNIST (Table 1)") -> str:
    """Table 1 (or Table 2, the same columns on CIFAR-10) as Markdown (errors in %)."""
    data, _, name = title.partition(" (")
    lines = [
        f"{name.rstrip(')') or 'Table'} ({data}, {cfg.n_train} training / {cfg.n_test} test "
        f"images, {cfg.max_epochs} epochs, verified by {_BOUND_NAMES[cfg.eval_bound]})",
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


def format_table3(table3, *, title: str = "Watermarked MNIST (Table 3)") -> str:
    """Table 3 (or Table 4, the same columns on Doubled CIFAR-10) as Markdown (errors in %)."""
    data, _, name = title.partition(" (")
    lines = [
        f"{name.rstrip(')') or 'Table'} ({data})",
        "",
        "| eps0 | uniform: clean | uniform: verified | learned: clean | learned: verified |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {format_radius(r['eps0'])} | {r['uniform_clean_error']:.2f} | "
        f"{r['uniform_verified_error']:.2f} | {r['learned_clean_error']:.2f} | "
        f"{r['learned_verified_error']:.2f} |"
        for r in table3
    ]
    if table3 and "learned_watermark_read" in table3[0]:
        lines += [
            "",
            "Test images whose watermark / digit the model reads (%; the watermark's chance "
            "level is 50), and the verification floor: half the share of test images whose "
            "budget box meets that of their counterpart (the same digit with the other mark "
            "on the other side), a lower bound on any classifier's expected verified error "
            "under these budgets:",
            "",
            "| eps0 | uniform: watermark | uniform: digit | uniform: floor "
            "| learned: watermark | learned: digit | learned: floor |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {format_radius(r['eps0'])} | {r['uniform_watermark_read']:.1f} | "
            f"{r['uniform_digit_read']:.1f} | {r['uniform_verification_floor']:.1f} | "
            f"{r['learned_watermark_read']:.1f} | {r['learned_digit_read']:.1f} | "
            f"{r['learned_verification_floor']:.1f} |"
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
