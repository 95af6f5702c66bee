"""Robust active learning (robust-AL paper, sections 3, 5 and 7): the stage loop, its CSV,
Figure 2-like curves and a Table 5-like summary."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..active import ActiveLearner
from ..estimators import AdversarialClassifier, RobustNetClassifier
from ..metrics import adversarial_accuracy
from ..nets import LeNet5
from ..query import ROBUST_AL_STRATEGIES
from ..utils import write_csv


@dataclass
class RobustALConfig:
    """Size and settings of a robust active learning run.

    The defaults are the CPU run (minutes on 2 cores); :meth:`paper` gives the
    paper's MNIST protocol (Tables 3 and 4).

    Parameters
    ----------
    strategies : tuple of str, default=("random", "max_entropy", "dre")
        Names from :data:`robustsk.query.ROBUST_AL_STRATEGIES`.
    n_pool : int, default=5000
        Unlabelled pool size (the first rows of the training set).
    n_test : int, default=500
        Test examples used for accuracy and robustness.
    n_initial : int, default=200
        Initial labelled set, drawn at random (the same for every strategy).
    n_per_stage : int, default=200
        Labels added per stage.
    n_stages : int, default=4
        Stages after the initial one.
    epochs_per_stage : int, default=10
        Training epochs after each stage (warm-started).
    eps_warmup_epochs : int, default=10
        Linear eps ramp over the first epochs of the run (training from scratch at
        eps 0.3 on a few hundred labels does not learn without it on this
        budget); the paper configuration uses 0.
    eps : float, default=0.3
        Threat-model radius (Linf), for training and evaluation.
    train_alpha : float, default=0.04
        PGD step size during training.
    train_steps : int, default=10
        PGD steps during training.
    eval_alpha : float, default=0.01
        PGD step size for evaluation.
    eval_steps : int, default=50
        PGD steps for evaluation (PGD-50).
    autoattack : bool, default=False
        Also evaluate with AutoAttack (needs torchattacks).
    standard_run : str or None, default="random"
        Strategy of the extra run with standard (non-adversarial) training.
    lr : float, default=3e-3
        Adam learning rate (1e-3 in the paper configuration).
    random_state : int, default=0
        Seed of the initial set, the strategies and training.
    module : torch.nn.Module class, default=LeNet5
        The network (the paper's MNIST model); it gets ``input_shape`` and
        ``n_classes`` from the data.
    """

    strategies: tuple = ("random", "max_entropy", "dre")
    n_pool: int = 5000
    n_test: int = 500
    n_initial: int = 200
    n_per_stage: int = 200
    n_stages: int = 4
    epochs_per_stage: int = 10
    eps_warmup_epochs: int = 10
    eps: float = 0.3
    train_alpha: float = 0.04
    train_steps: int = 10
    eval_alpha: float = 0.01
    eval_steps: int = 50
    autoattack: bool = False
    standard_run: str | None = "random"
    lr: float = 3e-3
    random_state: int = 0
    module: type = LeNet5

    @classmethod
    def paper(cls, **changes: Any) -> RobustALConfig:
        """MNIST / LeNet-5 as in the paper: 200 initial, +200 per stage, 24 stages (5k budget),
        PGD-40 training (alpha 0.01), PGD-50 and AutoAttack evaluation on the full test set."""
        params: dict[str, Any] = dict(
            strategies=tuple(ROBUST_AL_STRATEGIES),
            n_pool=60000,
            n_test=10000,
            n_initial=200,
            n_per_stage=200,
            n_stages=24,
            epochs_per_stage=20,
            train_alpha=0.01,
            train_steps=40,
            autoattack=True,
            eps_warmup_epochs=0,
            lr=1e-3,
        )
        params.update(changes)
        return cls(**params)


def _make_estimator(cfg: RobustALConfig, adversarial: bool, n_classes: int):
    common: dict[str, Any] = dict(
        classes=np.arange(n_classes),
        max_epochs=cfg.epochs_per_stage,
        lr=cfg.lr,
        batch_size=64,
        verbose=0,
        random_state=cfg.random_state,
    )
    if adversarial:
        return AdversarialClassifier(
            cfg.module,
            eps=cfg.eps,
            alpha=cfg.train_alpha,
            steps=cfg.train_steps,
            eps_warmup_epochs=cfg.eps_warmup_epochs,
            **common,
        )
    return RobustNetClassifier(cfg.module, **common)


def run_stage_loop(
    strategy_name: str,
    X_pool: np.ndarray,
    y_pool: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    cfg: RobustALConfig,
    *,
    adversarial: bool = True,
    verbose: int = 0,
) -> list[dict[str, Any]]:
    """One active learning run: evaluate, query, teach, retrain, stage after stage.

    Parameters
    ----------
    strategy_name : str
        A key of :data:`robustsk.query.ROBUST_AL_STRATEGIES`.
    X_pool : ndarray of shape (n, c, h, w)
        Unlabelled pool (labels revealed when queried).
    y_pool : ndarray of shape (n,)
        The oracle's labels.
    X_test : ndarray
        Test inputs.
    y_test : ndarray
        Test labels.
    cfg : RobustALConfig
        Sizes and settings.
    adversarial : bool, default=True
        Adversarial (PGD) training at each stage, or standard training.
    verbose : int, default=0
        Progress bar over stages.

    Returns
    -------
    records : list of dict
        One per stage: labels used, accuracy, PGD (and AutoAttack) robustness, seconds.
    """
    strategy = ROBUST_AL_STRATEGIES[strategy_name]
    rng = np.random.default_rng(cfg.random_state)
    initial = rng.choice(len(X_pool), size=cfg.n_initial, replace=False)  # same for all
    unlabeled = np.ones(len(X_pool), dtype=bool)
    unlabeled[initial] = False
    estimator = _make_estimator(cfg, adversarial, int(np.max(y_pool)) + 1)
    learner = ActiveLearner(
        estimator,
        strategy,
        X_pool[initial],
        y_pool[initial],
        warm_start=True,
        random_state=cfg.random_state,
    )
    records = []
    mode = "robust" if adversarial else "standard"
    for stage in tqdm(
        range(cfg.n_stages + 1), desc=f"{strategy_name} ({mode})", disable=not verbose, leave=False
    ):
        start = time.perf_counter()
        row = {
            "strategy": strategy_name,
            "training": mode,
            "stage": stage,
            "n_labeled": int((~unlabeled).sum()),
            "accuracy": estimator.score(X_test, y_test),
            "pgd": adversarial_accuracy(
                estimator,
                X_test,
                y_test,
                eps=cfg.eps,
                alpha=cfg.eval_alpha,
                steps=cfg.eval_steps,
                random_state=cfg.random_state,
            ),
        }
        if cfg.autoattack:
            row["autoattack"] = adversarial_accuracy(
                estimator,
                X_test,
                y_test,
                attack="autoattack",
                eps=cfg.eps,
                random_state=cfg.random_state,
            )
        if stage < cfg.n_stages:
            candidates = np.flatnonzero(unlabeled)
            idx, _ = learner.query(X_pool[candidates], n_instances=cfg.n_per_stage)
            chosen = candidates[idx]
            unlabeled[chosen] = False
            learner.teach(X_pool[chosen], y_pool[chosen])
        row["seconds"] = time.perf_counter() - start
        records.append(row)
    return records


def run_robust_al(
    X_pool: np.ndarray,
    y_pool: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    out_dir: str | os.PathLike,
    cfg: RobustALConfig | None = None,
    *,
    verbose: int = 1,
) -> list[dict[str, Any]]:
    """Run every configured strategy (and the standard-training baseline) and write results.

    Writes ``stages.csv`` (one row per strategy, training and stage),
    ``curves.png`` (accuracy and PGD robustness against labels, like Figure 2),
    ``summary.csv`` and ``summary.md`` (accuracy and robustness at one third
    and at the end of the budget, like Table 5). Returns the stage records.

    Parameters
    ----------
    X_pool : ndarray of shape (n, c, h, w)
        Unlabelled pool.
    y_pool : ndarray of shape (n,)
        The oracle's labels.
    X_test : ndarray
        Test inputs.
    y_test : ndarray
        Test labels.
    out_dir : str or path-like
        Output folder.
    cfg : RobustALConfig or None, default=None
        Sizes and settings (the CPU defaults when None).
    verbose : int, default=1
        Progress bars and the printed summary.

    Returns
    -------
    records : list of dict
    """
    cfg = cfg or RobustALConfig()
    unknown = [s for s in cfg.strategies if s not in ROBUST_AL_STRATEGIES]
    if unknown:
        raise ValueError(f"strategies must be from {list(ROBUST_AL_STRATEGIES)}, got {unknown}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X_pool, y_pool = X_pool[: cfg.n_pool], y_pool[: cfg.n_pool]
    X_test, y_test = X_test[: cfg.n_test], y_test[: cfg.n_test]
    runs = [(s, True) for s in cfg.strategies]
    if cfg.standard_run:
        runs.append((cfg.standard_run, False))
    records = []
    for name, adversarial in tqdm(runs, desc="robust-al", disable=not verbose):
        records += run_stage_loop(
            name, X_pool, y_pool, X_test, y_test, cfg, adversarial=adversarial, verbose=verbose
        )
        write_csv(records, out / "stages.csv")  # progress is on disk after every run
    summary = summarize(records, cfg.n_stages)
    write_csv(summary, out / "summary.csv")
    (out / "summary.md").write_text(format_summary(summary, cfg))
    plot_curves(records, out / "curves.png", cfg)
    if verbose:
        print(format_summary(summary, cfg))
        print(
            f"wrote {out / 'stages.csv'}, {out / 'summary.csv'}, {out / 'summary.md'}, "
            f"{out / 'curves.png'}"
        )
    return records


def summarize(records, n_stages):
    """Accuracy and robustness at one third of the stages and at the last stage (Table 5)."""
    third = max(1, round(n_stages / 3))
    rows = []
    for name, mode in dict.fromkeys((r["strategy"], r["training"]) for r in records):
        runs = {r["stage"]: r for r in records if r["strategy"] == name and r["training"] == mode}
        row = {"strategy": name, "training": mode}
        for label, stage in (("third", third), ("last", n_stages)):
            r = runs[stage]
            row[f"{label}_n_labeled"] = r["n_labeled"]
            row[f"{label}_accuracy"] = r["accuracy"]
            row[f"{label}_pgd"] = r["pgd"]
            if "autoattack" in r:
                row[f"{label}_autoattack"] = r["autoattack"]
        rows.append(row)
    return rows


def format_summary(summary, cfg) -> str:
    """Table 5's layout as Markdown: accuracy / robustness (%) at 1/3 and at the end."""
    rob = "autoattack" if cfg.autoattack else "pgd"
    lines = [
        f"Robust active learning, {cfg.module.__name__}: accuracy / {rob.upper()} robustness "
        f"(%), eps {cfg.eps}",
        "",
        "| strategy | training | 1/3 stage acc | 1/3 stage rob | last acc | last rob |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary:
        lines.append(
            f"| {r['strategy']} | {r['training']} | {100 * r['third_accuracy']:.2f} | "
            f"{100 * r[f'third_{rob}']:.2f} | {100 * r['last_accuracy']:.2f} | "
            f"{100 * r[f'last_{rob}']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def plot_curves(records, path, cfg):
    """Accuracy and robustness against the number of labels, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, mode in dict.fromkeys((r["strategy"], r["training"]) for r in records):
        rows = [r for r in records if r["strategy"] == name and r["training"] == mode]
        n = [r["n_labeled"] for r in rows]
        style = "-" if mode == "robust" else ":"
        label = name if mode == "robust" else f"{name} (standard training)"
        axes[0].plot(n, [100 * r["accuracy"] for r in rows], style, marker="o", ms=3, label=label)
        axes[1].plot(n, [100 * r["pgd"] for r in rows], style, marker="o", ms=3, label=label)
    axes[0].set_title("clean accuracy")
    axes[1].set_title(f"robustness (PGD-{cfg.eval_steps}, eps {cfg.eps})")
    for ax in axes:
        ax.set_xlabel("labelled examples")
        ax.set_ylabel("%")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
