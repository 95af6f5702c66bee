"""AQPL on MNIST with the 15 corruptions: Table 1 and the query curves of Figures 4 and 5."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..active import PerturbationLevelLearner, SimulatedOracle
from ..datasets import make_corrupted
from ..estimators import NoiseTrainedClassifier, RobustNetClassifier
from ..nets import LeNet5
from ..query import AQPL_STRATEGIES
from ..utils import write_csv


@dataclass
class AQPLConfig:
    """Size and settings of an AQPL reproduction; defaults are a CPU run of minutes.

    Parameters
    ----------
    n_train : int, default=5000
        Training examples (the triplet set).
    n_test : int, default=1000
        Test examples (each corrupted 15 ways).
    n_reference : int, default=20000
        Examples the reference model (the simulated annotator) is trained on,
        taken after the training examples.
    severity : int, default=3
        Corruption severity.
    epochs : int, default=5
        Training epochs of every model before queries.
    epochs_per_round : int, default=2
        Training epochs after each round of queries.
    sigma_init : float, default=0.5
        Initial level of every example (GNT's level).
    n_per_side : int, default=50
        B: queries per side per round (2B per round).
    n_noise : int, default=20
        M: noisy copies for the entropy (the paper: 50).
    n_rounds : int, default=4
        Query rounds.
    tau : float, default=0.9
        Simulated annotator's required probability of a correct decision.
    n_draws : int, default=10
        Simulated annotator's noisy copies per ladder level.
    module : torch.nn.Module class, default=LeNet5
        The network.
    random_state : int, default=0
        Seed.
    """

    n_train: int = 5000
    n_test: int = 1000
    n_reference: int = 20000
    severity: int = 3
    epochs: int = 5
    epochs_per_round: int = 2
    sigma_init: float = 0.5
    n_per_side: int = 50
    n_noise: int = 20
    n_rounds: int = 4
    tau: float = 0.9
    n_draws: int = 10
    module: type = LeNet5
    random_state: int = 0

    @classmethod
    def paper(cls, **changes: Any) -> AQPLConfig:
        """Closer to the paper: all 60k training images (50k triplets, 10k for the reference),
        the full test set, B=100, M=50, 10 rounds, tau 0.99 with 50 draws."""
        params: dict[str, Any] = dict(
            n_train=50000,
            n_test=10000,
            n_reference=10000,
            n_per_side=100,
            n_noise=50,
            n_rounds=10,
            tau=0.99,
            n_draws=50,
            epochs=20,
            epochs_per_round=5,
        )
        params.update(changes)
        return cls(**params)


def _evaluate(model, X_test, y_test, corrupted):
    per = {name: model.score(Xc, y_test) for name, Xc in corrupted.items()}
    return {
        "clean": model.score(X_test, y_test),
        "gaussian": per["gaussian_noise"],
        "corruptions_mean": float(np.mean(list(per.values()))),
    }


def run_aqpl(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    out_dir: str | os.PathLike,
    cfg: AQPLConfig | None = None,
    *,
    verbose: int = 1,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reproduce AQPL's Table 1 and Figures 4-5; write CSV and PNG files into ``out_dir``.

    Parameters
    ----------
    X_train : ndarray of shape (n, 1, h, w)
        Training images; the first ``n_train`` are the triplets, the next
        ``n_reference`` train the simulated annotator.
    y_train : ndarray of shape (n,)
        Their labels.
    X_test : ndarray
        Test images.
    y_test : ndarray
        Test labels.
    out_dir : str or path-like
        Output folder: ``table1.csv``, ``table1.png``, ``curves.csv``, ``curves.png``.
    cfg : AQPLConfig or None, default=None
        Sizes and settings.
    verbose : int, default=1
        Progress bars and the printed table.

    Returns
    -------
    table : list of dict
        Table 1's rows.
    curves : list of dict
        One row per strategy and round.
    """
    cfg = cfg or AQPLConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = X_train[: cfg.n_train], y_train[: cfg.n_train]
    X_ref = X_train[cfg.n_train : cfg.n_train + cfg.n_reference]
    y_ref = y_train[cfg.n_train : cfg.n_train + cfg.n_reference]
    X_test, y_test = X_test[: cfg.n_test], y_test[: cfg.n_test]
    corrupted = make_corrupted(
        X_test, severity=cfg.severity, random_state=cfg.random_state, verbose=verbose
    )
    common: dict[str, Any] = dict(lr=1e-3, batch_size=64, verbose=0, random_state=cfg.random_state)
    reference = NoiseTrainedClassifier(
        cfg.module, sigma=cfg.sigma_init, max_epochs=cfg.epochs, **common
    ).fit(X_ref, y_ref)
    oracle = SimulatedOracle(
        reference, tau=cfg.tau, n_draws=cfg.n_draws, random_state=cfg.random_state
    )

    def learner(strategy, mode):
        est = NoiseTrainedClassifier(cfg.module, max_epochs=cfg.epochs, **common)
        return PerturbationLevelLearner(
            oracle,
            est,
            query_strategy=strategy,
            n_per_side=cfg.n_per_side,
            n_noise=cfg.n_noise,
            sigma_init=cfg.sigma_init,
            sigma_mode=mode,
            max_rounds=cfg.n_rounds,
            epochs_per_round=cfg.epochs_per_round,
            random_state=cfg.random_state,
        )

    table, curves = [], []
    # The baselines train as many epochs as the learners do in total, so that a difference
    # comes from the corrected levels, not from longer training.
    total = cfg.epochs + cfg.n_rounds * cfg.epochs_per_round
    baselines = {
        "Standard": RobustNetClassifier(cfg.module, max_epochs=total, **common),
        "GNT": NoiseTrainedClassifier(cfg.module, sigma=cfg.sigma_init, max_epochs=total, **common),
        "CAT": NoiseTrainedClassifier(
            cfg.module, sigma=cfg.sigma_init, sigma_mode="adaptive", max_epochs=total, **common
        ),
    }
    steps = list(baselines) + [f"curve:{s}" for s in AQPL_STRATEGIES] + ["AQPL-CAT"]
    for step in tqdm(steps, desc="aqpl", disable=not verbose):
        if step in baselines:
            table.append(
                {"method": step, **_evaluate(baselines[step].fit(X, y), X_test, y_test, corrupted)}
            )
            continue
        name = step.split(":", 1)[1] if step.startswith("curve:") else "noise_entropy"
        mode = "adaptive" if step == "AQPL-CAT" else "fixed"
        lrn = learner(AQPL_STRATEGIES[name], mode).fit(X, y)
        if step.startswith("curve:"):
            curves.append(
                {
                    "strategy": name,
                    "queries": 0,
                    **_evaluate(lrn.estimator_, X_test, y_test, corrupted),
                }
            )
        for _ in range(cfg.n_rounds):
            if lrn.step() is None:
                break
            if step.startswith("curve:"):
                curves.append(
                    {
                        "strategy": name,
                        "queries": int(lrn.answered_.sum()),
                        **_evaluate(lrn.estimator_, X_test, y_test, corrupted),
                    }
                )
        if step == "curve:noise_entropy":
            table.append(
                {
                    "method": "AQPL-GNT",
                    **{k: curves[-1][k] for k in ("clean", "gaussian", "corruptions_mean")},
                }
            )
        elif step == "AQPL-CAT":
            table.append(
                {"method": "AQPL-CAT", **_evaluate(lrn.estimator_, X_test, y_test, corrupted)}
            )
    write_csv(table, out / "table1.csv")
    write_csv(curves, out / "curves.csv")
    _plot_table(table, out / "table1.png", cfg)
    _plot_curves(curves, out / "curves.png")
    if verbose:
        print(format_table(table))
        print(f"wrote {out}/table1.csv, table1.png, curves.csv, curves.png")
    return table, curves


def format_table(table) -> str:
    """Table 1 as Markdown (accuracy in %)."""
    lines = ["| method | clean | Gaussian | mean of 15 |", "|---|---|---|---|"]
    lines += [
        f"| {r['method']} | {100 * r['clean']:.2f} | {100 * r['gaussian']:.2f} | "
        f"{100 * r['corruptions_mean']:.2f} |"
        for r in table
    ]
    return "\n".join(lines)


def _plot_table(table, path, cfg):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [("clean", "clean"), ("gaussian", "Gaussian noise"), ("corruptions_mean", "mean of 15")]
    width = 0.8 / len(table)
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, r in enumerate(table):
        pos = np.arange(len(cols)) + (i - (len(table) - 1) / 2) * width
        ax.bar(pos, [100 * r[c] for c, _ in cols], width, label=r["method"])
    ax.set_xticks(np.arange(len(cols)), [label for _, label in cols])
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"AQPL Table 1 (MNIST-C-like, severity {cfg.severity})")
    ax.legend(ncol=len(table), fontsize=8, loc="lower center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_curves(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name in dict.fromkeys(r["strategy"] for r in curves):
        rows = [r for r in curves if r["strategy"] == name]
        q = [r["queries"] for r in rows]
        axes[0].plot(q, [100 * r["gaussian"] for r in rows], marker="o", label=name)
        axes[1].plot(q, [100 * r["corruptions_mean"] for r in rows], marker="o", label=name)
    axes[0].set_title("Gaussian noise (Figure 4)")
    axes[1].set_title("mean of 15 corruptions (Figure 5)")
    for ax in axes:
        ax.set_xlabel("queries")
        ax.set_ylabel("accuracy (%)")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
