"""RPR on MNIST (Ilie et al., section 2.3): the robust ratio of a model M, robust-subset
selection on its training set, and the retrained model M_R (Figures 3-5), over seeds."""

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
from ..utils import check_number, check_options, renamed_kwargs, stratified_sample, write_csv
from ._plots import subplots
from ._seeds import sample_sd, seed_configs

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
    max_epochs : int, default=5
        Training epochs of M.
    retrain_epochs : int, default=20
        Training epochs of M_R. Its set is a quarter of M's, so 4x the epochs
        gives both models about the same number of optimizer steps.
    max_steps : int, default=250
        Draws a point must withstand to be robust (the paper's MAX_STEPS).
    k : int or None, default=None
        Pixel positions drawn per perturbation; None is
        ``round(sqrt(784)) = 28``, the paper's count.
    value : {"uniform", "salt_and_pepper", "invert", "white", "black"}, default="uniform"
        What a chosen pixel becomes (:class:`~robustsk.perturb.RandomPixels`):
        the paper's "randomly altering" read as a uniform value, black or
        white at random, the inverted value, white or black.
    replace : bool, default=True
        Draw the ``k`` positions with replacement (at most ``k`` distinct
        pixels, the paper's "at most") or without (exactly ``k``).
    lr : float, default=1e-3
        Adam learning rate (the paper: Adam with default settings).
    batch_size : int, default=128
        Training batch size.
    rpr_batch_size : int or None, default=None
        Most rows per predict call of the RPR engine (``None``: as in
        :func:`~robustsk.metrics.rpr_steps`).
    module : torch.nn.Module class, default=LeNet5
        The network of M and M_R (any robustsk net, e.g.
        :class:`~robustsk.nets.MLP`).
    random_state : int, default=0
        Seed of training, the perturbation draws and the per-class sampling.
    shortfall : {"keep", "fill"}, default="keep"
        A class with fewer robust images than ``n_per_class``: keep only its
        robust ones (the paper's method) or top it up with its most robust
        other images (:class:`~robustsk.selection.RobustSubsetSelector`'s
        ``shortfall``), so that M_R trains on a class-balanced set.
    control : bool, default=False
        Also train ``M_rand``, a control: as many training images per class
        as M_R gets, drawn at random (robust or not) and trained like M_R.
        ``M_R - M_rand`` is then the effect of choosing *robust* images at
        that set size, and ``M_rand - M`` the cost of the smaller set alone.
    """

    n_train: int = 5000
    n_test: int = 1000
    n_per_class: int | str = 125
    max_epochs: int = 5
    retrain_epochs: int = 20
    max_steps: int = 250
    k: int | None = None
    value: str = "uniform"
    replace: bool = True
    lr: float = 1e-3
    batch_size: int = 128
    rpr_batch_size: int | None = None
    module: type = LeNet5
    random_state: int = 0
    shortfall: str = "keep"
    control: bool = False

    @classmethod
    def paper(cls, **changes: Any) -> RPRConfig:
        """The paper's protocol: all 60,000 training and 10,000 test images, 1,500 robust
        images per class for M_R, MAX_STEPS 250 (for a GPU)."""
        params: dict[str, Any] = dict(
            n_train=60000, n_test=10000, n_per_class=1500, max_epochs=10, retrain_epochs=10
        )
        params.update(changes)
        return cls(**params)

    def perturbation(self) -> RandomPixels:
        """The perturbation scheme of this configuration (unseeded)."""
        return RandomPixels(self.k, value=self.value, replace=self.replace)

    def command(self, seeds: int = 1) -> str:
        """The ``robustsk reproduce rpr`` command line that runs this configuration."""
        parts = ["robustsk reproduce rpr --mnist PATH"]
        for flag in (
            "n_train",
            "n_test",
            "n_per_class",
            "max_epochs",
            "retrain_epochs",
            "max_steps",
        ):
            if isinstance(getattr(self, flag), int):
                parts.append(f"--{flag.replace('_', '-')} {getattr(self, flag)}")
        if self.k is not None:
            parts.append(f"--k {self.k}")
        parts.append(f"--value {self.value}")
        if not self.replace:
            parts.append("--distinct")
        if self.shortfall != "keep":
            parts.append(f"--shortfall {self.shortfall}")
        if self.control:
            parts.append("--control")
        parts += [f"--module {self.module.__name__}", f"--seed {self.random_state}"]
        parts.append(f"--seeds {seeds}")
        defaults = RPRConfig()
        others = [
            f"{name}={getattr(self, name)!r}"
            for name in ("n_per_class", "lr", "batch_size", "rpr_batch_size")
            if getattr(self, name) != getattr(defaults, name)
            and (name != "n_per_class" or not isinstance(self.n_per_class, int))
        ]
        command = " ".join(parts)
        return command + (f" (from Python, with {', '.join(others)})" if others else "")


#: Old field names, accepted for one release (with a FutureWarning).
RPRConfig.__init__ = renamed_kwargs({"epochs": "max_epochs"})(  # type: ignore[method-assign]
    RPRConfig.__init__
)


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
    (ours beside the paper's numbers). Every row of ``results.csv`` and the
    summary name the network and the perturbation scheme (``k``, ``value``,
    ``replace``).

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
    X, y = X_train[: cfg.n_train], y_train[: cfg.n_train]
    X_test, y_test = X_test[: cfg.n_test], y_test[: cfg.n_test]
    perturbation = cfg.perturbation()
    perturbation(X[:1], random_state=0)  # a bad scheme fails here, before any training
    check_options(cfg.shortfall, "shortfall", ("keep", "fill"))
    if not isinstance(cfg.control, (bool, np.bool_)):
        raise TypeError(f"control must be a bool, got {cfg.control!r}.")
    scheme = _scheme(cfg, X)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_classes = int(max(y.max(), y_test.max())) + 1
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
    model = _train(cfg, X, y, cfg.max_epochs, n_classes)
    log(f"M trained on {len(X):,} images ({time.perf_counter() - start:.0f} s)")
    selector = RobustSubsetSelector(
        model,
        n_per_class=cfg.n_per_class,
        shortfall=cfg.shortfall,
        **rpr,
        random_state=cfg.random_state,
    )
    X_r, y_r = selector.fit_resample(X, y)
    log(
        f"robust training images under M: {selector.robust_.mean():.4f}; M_R trains on {len(X_r):,}"
    )
    model_r = _train(cfg, X_r, y_r, cfg.retrain_epochs, n_classes)
    models = [("M", model, len(X)), ("M_R", model_r, len(X_r))]
    if cfg.control:
        # as many images per class as M_R has, drawn at random from all of M's
        quotas = np.array([selector.n_selected_per_class_[c] for c in selector.classes_.tolist()])
        codes = np.searchsorted(selector.classes_, np.asarray(y))
        rng = np.random.default_rng([cfg.random_state, 2])
        picked = np.sort(stratified_sample(codes, quotas, rng))
        model_c = _train(cfg, X[picked], y[picked], cfg.retrain_epochs, n_classes)
        models.append(("M_rand", model_c, picked.size))

    results, test_steps = [], {}
    for name, net, n_fit in models:
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
        row.update(scheme)
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
                "n_filled": selector.n_filled_per_class_[c],
            }
            for c in selector.classes_.tolist()
        ],
        out / "per_class.csv",
    )
    curves = {name: rpr_curve(steps, max_steps=cfg.max_steps) for name, steps in test_steps.items()}
    n_steps = curves["M"][0]
    write_csv(
        [
            {
                "n_steps": int(n),
                **{f"robust_ratio_{name}": float(curve[1][i]) for name, curve in curves.items()},
            }
            for i, n in enumerate(n_steps)
        ],
        out / "curves.csv",
    )
    plot_figures(test_steps, selector, cfg, out / "rpr_curves.png")
    summary = format_summary(results, cfg)
    (out / "summary.md").write_text(summary, encoding="utf-8")
    log(summary)
    log(
        f"wrote results.csv, per_class.csv, curves.csv, rpr_curves.png and summary.md to {out} "
        f"({time.perf_counter() - start:.0f} s)"
    )
    return results


def _scheme(cfg: RPRConfig, X: np.ndarray) -> dict[str, Any]:
    """The network and the perturbation scheme, as recorded beside every result."""
    n_pixels = int(np.prod(X.shape[2:])) if X.ndim >= 3 else int(X.shape[1])
    return {
        "module": cfg.module.__name__,
        "k": cfg.perturbation().pixels_per_image(n_pixels),
        "value": cfg.value,
        "replace": cfg.replace,
        "shortfall": cfg.shortfall,
    }


def _describe(cfg: RPRConfig, k: Any = "") -> str:
    k = k if k != "" else ("round(sqrt(pixels))" if cfg.k is None else cfg.k)
    draws = "with replacement (at most k pixels)" if cfg.replace else "distinct (exactly k)"
    return (
        f"RPR on MNIST, {cfg.module.__name__}: {cfg.n_train:,} training and "
        f"{cfg.n_test:,} test images, MAX_STEPS {cfg.max_steps}, "
        f"n_per_class {cfg.n_per_class} (short classes: {cfg.shortfall}); "
        f"scheme RandomPixels(k={k}, value={cfg.value!r}), "
        f"positions {draws}"
    )


def format_summary(results, cfg) -> str:
    """Our numbers beside the paper's, as Markdown."""
    lines = [
        _describe(cfg, results[0].get("k", "")),
        "",
        "| model | trained on | test accuracy | test robust ratio | paper accuracy | "
        "paper robust ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        p = PAPER.get(r["model"])
        paper = f"{100 * p['test_accuracy']:.2f}% | {p['test_robust_ratio']:.4f}" if p else "- | -"
        lines.append(
            f"| {r['model']} | {r['n_train']:,} | {100 * r['test_accuracy']:.2f}% | "
            f"{r['test_robust_ratio']:.4f} | {paper} |"
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
    fig, (ax1, ax2) = subplots(1, 2, figsize=(11, 4))
    for name, style in (("M", "-"), ("M_R", "--"), ("M_rand", ":")):
        if name not in test_steps:
            continue
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


#: Columns of ``results.csv`` summarised over seeds.
_SEED_COLUMNS = ("test_accuracy", "test_robust_ratio", "test_mean_steps", "train_robust_ratio")


def run_rpr_seeds(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    out_dir: str | os.PathLike,
    cfg: RPRConfig | None = None,
    *,
    seeds: int = 3,
    max_accuracy_drop: float = 0.03,
    verbose: int = 1,
) -> dict[str, Any]:
    """:func:`run_rpr` for ``seeds`` seeds, then M and M_R as mean and sd, and the paper's claim.

    Seed ``k`` uses ``random_state = cfg.random_state + k`` (training, the
    perturbation draws, the per-class sampling) and writes into
    ``out_dir/seed-k``. ``out_dir`` gets ``summary_seeds.csv`` (per model the
    mean and sd over seeds of test accuracy, test robust ratio, mean step count
    and, for M, the robust share of the training set; a row ``M_R - M`` with
    the paired differences and the verdict on the claim) and ``summary.md``
    (the same beside the paper's numbers, every seed's numbers, the checked
    claim and the command that runs it). Curves and figures are in each seed's
    folder.

    Parameters
    ----------
    X_train : ndarray of shape (n, 1, 28, 28)
        Training images in [0, 1], as in :func:`run_rpr`.
    y_train : ndarray of shape (n,)
        Their labels.
    X_test : ndarray
        Test images.
    y_test : ndarray
        Test labels.
    out_dir : str or path-like
        Output folder.
    cfg : RPRConfig or None, default=None
        Sizes, scheme and settings of every seed (the CPU defaults when None).
    seeds : int, default=3
        Number of seeds (at least 1; a spread needs at least 2).
    max_accuracy_drop : float, default=0.03
        Most test accuracy M_R may lose against M for the claim to hold (3
        points).
    verbose : int, default=1
        Progress bars and the printed summary.

    Returns
    -------
    summary : dict
        ``"rows"`` (the rows of ``summary_seeds.csv``), ``"claim"`` (see
        :func:`summarize_rpr_seeds`) and ``"per_seed"`` (each seed's
        :func:`run_rpr` rows).
    """
    cfg = cfg or RPRConfig()
    check_number(seeds, "seeds", low=1, integer=True)
    check_number(max_accuracy_drop, "max_accuracy_drop", low=0.0, high=1.0)
    cfg.perturbation()(X_train[:1], random_state=0)  # a bad scheme fails before any seed
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    per_seed = []
    for k, seed_cfg in seed_configs(cfg, seeds):
        per_seed.append(
            run_rpr(X_train, y_train, X_test, y_test, out / f"seed-{k}", seed_cfg, verbose=verbose)
        )
    summary = summarize_rpr_seeds(per_seed, max_accuracy_drop=max_accuracy_drop)
    summary["per_seed"] = per_seed
    write_csv(summary["rows"], out / "summary_seeds.csv")
    text = format_seeds_summary(summary, cfg)
    (out / "summary.md").write_text(text, encoding="utf-8")
    if verbose:
        print(text, flush=True)
    return summary


def summarize_rpr_seeds(
    per_seed: list[list[dict[str, Any]]], *, max_accuracy_drop: float = 0.03
) -> dict[str, Any]:
    """Mean and sd over seeds of M's and M_R's numbers, their paired differences, the claim.

    The paper's claim (section 2.3) is checked as: M_R's test robust ratio is
    above M's *beyond the seed spread*, i.e. the mean paired difference
    ``d = rr(M_R) - rr(M)`` exceeds its standard deviation over seeds
    (``mean(d) - sd(d) > 0``; with one seed, ``d > 0``), and M_R loses at most
    ``max_accuracy_drop`` of test accuracy on average
    (``mean(acc(M_R) - acc(M)) >= -max_accuracy_drop``).

    Parameters
    ----------
    per_seed : list of list of dict
        For each seed, the rows :func:`run_rpr` returned (one with
        ``model == "M"``, one with ``model == "M_R"``); each needs
        ``test_accuracy`` and ``test_robust_ratio``.
    max_accuracy_drop : float, default=0.03
        Most mean accuracy M_R may lose against M (3 points).

    Returns
    -------
    summary : dict
        ``"rows"``: for ``M``, ``M_R`` and ``M_R - M`` (paired differences),
        and, when every seed has an ``M_rand`` row (``RPRConfig(control=True)``),
        ``M_rand``, ``M_R - M_rand`` and ``M_rand - M``: ``n_seeds``, the
        scheme columns and ``<column>_mean`` / ``<column>_sd`` (sample sd, 0
        for one seed) of every numeric column; ``"claim"``:
        ``robust_gain_mean``, ``robust_gain_sd``, ``accuracy_change_mean``,
        ``accuracy_change_sd``, ``robust_gain_beyond_spread``,
        ``accuracy_within``, ``holds`` and ``statement`` (one sentence).

    Examples
    --------
    >>> from robustsk.reproduce import summarize_rpr_seeds
    >>> seed = lambda a, b: [
    ...     {"model": "M", "test_accuracy": 0.98, "test_robust_ratio": a},
    ...     {"model": "M_R", "test_accuracy": 0.97, "test_robust_ratio": b},
    ... ]
    >>> s = summarize_rpr_seeds([seed(0.30, 0.50), seed(0.32, 0.49), seed(0.29, 0.52)])
    >>> s["claim"]["holds"], round(s["claim"]["robust_gain_mean"], 2)
    (True, 0.2)
    """
    if not per_seed:
        raise ValueError("per_seed must hold the rows of at least one seed, got none.")
    by_model = []
    for i, seed_rows in enumerate(per_seed):
        named = {r.get("model"): r for r in seed_rows}
        if "M" not in named or "M_R" not in named:
            raise ValueError(
                f"per_seed[{i}] must hold a row with model 'M' and one with model 'M_R', "
                f"got models {sorted(map(str, named))!r}."
            )
        by_model.append(named)
    n = len(per_seed)

    def values(model: str, column: str) -> np.ndarray | None:
        raw = [seed[model].get(column, "") for seed in by_model]
        if any(v == "" or v is None for v in raw):
            return None
        return np.asarray(raw, dtype=float)

    def required(model: str, column: str) -> np.ndarray:
        v = values(model, column)
        if v is None:
            raise ValueError(f"per_seed: every {model!r} row needs a number in {column!r}.")
        return v

    rows: list[dict[str, Any]] = []
    models = ["M", "M_R", "M_R - M"]
    if all("M_rand" in seed for seed in by_model):  # the control ran on every seed
        models += ["M_rand", "M_R - M_rand", "M_rand - M"]
    for model in models:
        row: dict[str, Any] = {"model": model, "n_seeds": n}
        for name in ("module", "k", "value", "replace"):
            row[name] = by_model[0]["M"].get(name, "")
        for column in _SEED_COLUMNS:
            if " - " in model:
                first, second = model.split(" - ")
                a, b = values(second, column), values(first, column)
                v = None if a is None or b is None else b - a
            else:
                v = values(model, column)
            row[f"{column}_mean"] = "" if v is None else float(v.mean())
            row[f"{column}_sd"] = "" if v is None else sample_sd(v)
        rows.append(row)
    gain = required("M_R", "test_robust_ratio") - required("M", "test_robust_ratio")  # (seeds,)
    change = required("M_R", "test_accuracy") - required("M", "test_accuracy")  # (seeds,)
    gain_mean, gain_sd = float(gain.mean()), sample_sd(gain)
    change_mean, change_sd = float(change.mean()), sample_sd(change)
    beyond = bool(gain_mean - gain_sd > 0)
    within = bool(change_mean >= -max_accuracy_drop - 1e-12)
    holds = beyond and within
    statement = (
        f"The paper's claim (M_R's test robust ratio above M's, at no more than "
        f"{100 * max_accuracy_drop:g} points of test accuracy lost) "
        f"{'holds' if holds else 'does not hold'} over {n} seed{'s' if n > 1 else ''}: "
        f"robust ratio M_R - M = {gain_mean:+.4f} +- {gain_sd:.4f} "
        f"({'beyond' if beyond else 'not beyond'} the seed spread), "
        f"accuracy M_R - M = {100 * change_mean:+.2f} +- {100 * change_sd:.2f} points "
        f"({'within' if within else 'beyond'} {100 * max_accuracy_drop:g})."
    )
    claim = {
        "robust_gain_mean": gain_mean,
        "robust_gain_sd": gain_sd,
        "accuracy_change_mean": change_mean,
        "accuracy_change_sd": change_sd,
        "robust_gain_beyond_spread": beyond,
        "accuracy_within": within,
        "holds": holds,
        "statement": statement,
    }
    for row in rows:
        row["claim"] = ("holds" if holds else "does not hold") if row["model"] == "M_R - M" else ""
    return {"rows": rows, "claim": claim}


def format_seeds_summary(summary: dict[str, Any], cfg: RPRConfig) -> str:
    """The seeds summary as Markdown: mean +- sd per model, every seed, the claim, the command."""
    rows, claim = summary["rows"], summary["claim"]
    n = rows[0]["n_seeds"]

    def cell(row, column, scale=1.0, digits=4):
        if row[f"{column}_mean"] == "":
            return ""
        mean, sd = scale * row[f"{column}_mean"], scale * row[f"{column}_sd"]
        return f"{mean:.{digits}f} +- {sd:.{digits}f}"

    lines = [
        _describe(cfg, rows[0]["k"]) + f"; {n} seed{'s' if n > 1 else ''} (mean +- sd)",
        "",
        "| model | test accuracy (%) | test robust ratio | mean steps | robust training images (%) "
        "| paper accuracy (%) | paper robust ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        paper = PAPER.get(row["model"])
        if paper:
            paper_cells = f"{100 * paper['test_accuracy']:.2f} | {paper['test_robust_ratio']:.4f} |"
        elif row["model"] == "M_R - M":
            paper_cells = (
                f"{100 * (PAPER['M_R']['test_accuracy'] - PAPER['M']['test_accuracy']):+.2f}"
                f" | {PAPER['M_R']['test_robust_ratio'] - PAPER['M']['test_robust_ratio']:+.4f} |"
            )
        else:
            paper_cells = "- | - |"  # the control is ours
        lines.append(
            f"| {row['model']} | {cell(row, 'test_accuracy', 100, 2)} | "
            f"{cell(row, 'test_robust_ratio')} | {cell(row, 'test_mean_steps', 1, 1)} | "
            f"{cell(row, 'train_robust_ratio', 100, 2)} | " + paper_cells
        )
    per_seed = summary.get("per_seed")
    if per_seed:
        lines += [
            "",
            "| folder | random_state | accuracy M (%) | accuracy M_R (%) | robust ratio M "
            "| robust ratio M_R | M_R - M |",
            "|---|---|---|---|---|---|---|",
        ]
        for k, seed_rows in enumerate(per_seed):
            m, r = (next(x for x in seed_rows if x["model"] == name) for name in ("M", "M_R"))
            lines.append(
                f"| seed-{k} | {cfg.random_state + k} | {100 * m['test_accuracy']:.2f} | "
                f"{100 * r['test_accuracy']:.2f} | {m['test_robust_ratio']:.4f} | "
                f"{r['test_robust_ratio']:.4f} | "
                f"{r['test_robust_ratio'] - m['test_robust_ratio']:+.4f} |"
            )
    lines += ["", claim["statement"]]
    control = {row["model"]: row for row in rows}.get("M_R - M_rand")
    if control:
        lines += [
            "",
            f"Control (M_rand: as many images per class as M_R, drawn at random, trained like "
            f"M_R): accuracy M_R - M_rand = {cell(control, 'test_accuracy', 100, 2)} points, "
            f"robust ratio M_R - M_rand = {cell(control, 'test_robust_ratio')}; the smaller "
            f"set alone costs M_rand - M = "
            f"{cell({r['model']: r for r in rows}['M_rand - M'], 'test_accuracy', 100, 2)} points "
            "of accuracy.",
        ]
    lines += ["", f"Command: `{cfg.command(seeds=n)}`"]
    return "\n".join(lines) + "\n"
