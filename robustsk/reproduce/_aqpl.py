"""AQPL on MNIST (or CIFAR-10) with the 15 corruptions: Table 1 and the query curves of
Figures 4 and 5."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..active import PerturbationLevelLearner, SimulatedOracle, make_queries
from ..datasets import make_corrupted
from ..estimators import NoiseTrainedClassifier, RobustNetClassifier
from ..nets import LeNet5, PreActResNet18
from ..perturb import GaussianNoise
from ..query import AQPL_STRATEGIES
from ..utils import check_options, progress_bar, renamed_kwargs, write_csv
from ._networks import module_params, network_kwargs
from ._plots import subplots
from ._seeds import sample_sd, seed_configs


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
    max_epochs : int, default=5
        Training epochs of every model before queries.
    epochs_per_round : int, default=2
        Training epochs after each round of queries.
    sigma_init : float, default=0.5
        Initial level of every example (GNT's level).
    n_per_side : int, default=50
        B: queries per side per round (2B per round).
    learner_draws : int, default=20
        M: the learners' noisy copies per example for the entropy (the paper: 50).
    n_rounds : int, default=4
        Query rounds.
    tau : float, default=0.9
        Simulated annotator's required probability of a correct decision.
    annotator_draws : int, default=10
        Simulated annotator's noisy copies per ladder level.
    annotator_sigma : float, default=1.0
        Noise level the simulated annotator is trained at (GNT: half of each
        batch noisy). A person recognises digits under far more noise than a
        small model trained at the learners' initial level, so the annotator is
        trained at a much heavier level than ``sigma_init``.
    annotator_epochs : int or None, default=None
        The annotator's training epochs; None trains it twice as long as the
        learners' initial training.
    eval_sigmas : tuple of float, default=(0.1, 0.2, ..., 1.2)
        Gaussian-noise levels of the accuracy sweep.
    table_sigma : float or "auto", default="auto"
        Level of Table 1's Gaussian column: ``"auto"`` takes the sweep level
        where Standard's accuracy is closest to the paper's (16.06%), i.e. the
        paper's regime, where a standard model has collapsed.
    certify : bool, default=False
        Also certify GNT, AQPL-GNT and AQPL-CAT by randomized smoothing
        (:class:`~robustsk.estimators.SmoothedClassifier`) on ``n_certify`` test
        images: at GNT's single level ``sigma_init``, and at per-example levels,
        each test image's own level as the simulated annotator answers it
        (``certified.csv``, ``certified.png``).
    n_certify : int, default=500
        Test images certified.
    certify_draws : int, default=1000
        Noisy copies per image that bound the top class (CERTIFY's ``n``; 100
        more select it), at ``alpha=0.001``.
    module : torch.nn.Module class, default=LeNet5
        The network.
    module_kwargs : dict, default={}
        Further constructor arguments of ``module`` (``normalize``, a width).
    random_state : int, default=0
        Seed.
    dataset : str, default="mnist"
        The data set's name, for the summaries; :meth:`for_dataset` sets it
        with the network and noise levels for that data set.
    """

    n_train: int = 5000
    n_test: int = 1000
    n_reference: int = 20000
    severity: int = 3
    max_epochs: int = 5
    epochs_per_round: int = 2
    sigma_init: float = 0.5
    n_per_side: int = 50
    learner_draws: int = 20
    n_rounds: int = 4
    tau: float = 0.9
    annotator_draws: int = 10
    annotator_sigma: float = 1.0
    annotator_epochs: int | None = None
    eval_sigmas: tuple = tuple(round(0.1 * k, 1) for k in range(1, 13))
    table_sigma: float | str = "auto"
    certify: bool = False
    n_certify: int = 500
    certify_draws: int = 1000
    module: type = LeNet5
    module_kwargs: dict = field(default_factory=dict)
    random_state: int = 0
    dataset: str = "mnist"

    @classmethod
    def for_dataset(cls, dataset: str, *, toy: bool = False, **changes: Any) -> AQPLConfig:
        """The configuration on ``dataset``: LeNet-5 on MNIST (the paper's ResNet-18 is
        far more network than MNIST needs on a CPU); on CIFAR-10 the paper's ResNet-18
        (PreAct), with CIFAR-10's standardisation as first layer, an initial level of
        0.1, an annotator trained at 0.25 and a Gaussian sweep of 0.02 to 0.3 (CIFAR-10-C's
        Gaussian noise spans 0.04 to 0.10; the paper gives none of these levels). ``toy``
        shrinks the CIFAR network to width 4; ``changes`` override any field.
        """
        check_options(dataset, "dataset", set(DATASET_SETTINGS))
        params: dict[str, Any] = {"dataset": dataset, **DATASET_SETTINGS[dataset], **changes}
        params["module_kwargs"] = {
            **network_kwargs(dataset, params.get("module", LeNet5), toy=toy),
            **changes.get("module_kwargs", {}),
        }
        return cls(**params)

    @classmethod
    def paper(cls, **changes: Any) -> AQPLConfig:
        """The paper's sizes: all 60k training images (50k triplets, 10k for the reference),
        the full test set, B=100, M=50, 10 rounds; the simulated annotator answers the
        level up to which it is right on all of 20 noisy copies (tau 0.99).

        The paper states neither its training schedule nor how a person's answer would
        be simulated. This schedule (10 epochs before the queries, 1 after each round, 20
        in all for every model) and this annotator fit a 2-core CPU in an hour with the
        adaptive copies of :func:`~robustsk.query.noise_entropy`; 50 copies per level
        made the annotator alone about a third of an 83-minute run."""
        params: dict[str, Any] = dict(
            n_train=50000,
            n_test=10000,
            n_reference=10000,
            n_per_side=100,
            learner_draws=50,
            n_rounds=10,
            tau=0.99,
            annotator_draws=20,
            max_epochs=10,
            epochs_per_round=1,
        )
        dataset = changes.pop("dataset", "mnist")
        check_options(dataset, "dataset", set(DATASET_SETTINGS))
        if dataset == "cifar10":  # 50,000 training images: 40,000 triplets, 10,000 reference
            params["n_train"] = 40000
        params.update(DATASET_SETTINGS[dataset])
        params.update(changes)
        return cls.for_dataset(dataset, **params)


#: The network and noise levels on each data set (the paper trains a ResNet-18 on both).
DATASET_SETTINGS: dict[str, dict[str, Any]] = {
    "mnist": {},
    "cifar10": dict(
        module=PreActResNet18,
        sigma_init=0.1,
        annotator_sigma=0.25,
        eval_sigmas=tuple(round(0.02 * k, 2) for k in range(1, 16)),
    ),
}


#: Old field names, accepted for one release (with a FutureWarning).
AQPLConfig.__init__ = renamed_kwargs(  # type: ignore[method-assign]
    {"epochs": "max_epochs", "n_noise": "learner_draws", "n_draws": "annotator_draws"}
)(AQPLConfig.__init__)

#: Standard's Gaussian-noise accuracy in the paper's Table 1 (``table_sigma="auto"`` aims at it).
PAPER_STANDARD_GAUSSIAN = 0.1606


def _test_sets(X_test, y_test, cfg, verbose) -> Callable[[Any], dict[str, float]]:
    """How a model is scored: the test images clean, under the 15 corruptions and along the
    Gaussian sweep (each set drawn once, for every model of the run)."""
    corrupted = make_corrupted(
        X_test, severity=cfg.severity, random_state=cfg.random_state, verbose=verbose
    )
    noisy = {
        float(s): GaussianNoise(float(s), random_state=cfg.random_state + k)(X_test)
        for k, s in enumerate(cfg.eval_sigmas)
    }

    def evaluate(model: Any, sigmas: Iterable[float] | None = None) -> dict[str, float]:
        """Scores on the clean, corrupted and noisy test sets (``sigmas``: the sweep's
        levels to score, None for all)."""
        per = {name: model.score(Xc, y_test) for name, Xc in corrupted.items()}
        levels = noisy if sigmas is None else {float(s): noisy[float(s)] for s in sigmas}
        return {
            "clean": model.score(X_test, y_test),
            "gaussian_s3": per["gaussian_noise"],
            "corruptions_mean": float(np.mean(list(per.values()))),
            **{f"sigma_{s:g}": model.score(Xn, y_test) for s, Xn in levels.items()},
        }

    return evaluate


def _training(cfg: AQPLConfig) -> dict[str, Any]:
    """What every model of a run shares: optimiser settings and seed."""
    return dict(
        lr=1e-3,
        batch_size=64,
        verbose=0,
        random_state=cfg.random_state,
        **module_params(cfg.module_kwargs),
    )


def _table_sigma(cfg, standard):
    """Table 1's Gaussian level: fixed, or where Standard is closest to the paper's regime."""
    if cfg.table_sigma != "auto":
        return float(cfg.table_sigma)
    gaps = {s: abs(standard[f"sigma_{s:g}"] - PAPER_STANDARD_GAUSSIAN) for s in cfg.eval_sigmas}
    return float(min(gaps, key=gaps.__getitem__))


def _simulated_oracle(X_ref, y_ref, cfg):
    """The simulated annotator, standing in for a person: trained on held-out data at a heavy
    noise level (half of each batch noisy), longer than the learners."""
    reference = NoiseTrainedClassifier(
        cfg.module,
        sigma=cfg.annotator_sigma,
        max_epochs=cfg.annotator_epochs or 2 * cfg.max_epochs,
        **_training(cfg),
    ).fit(X_ref, y_ref)
    return SimulatedOracle(
        reference, tau=cfg.tau, n_draws=cfg.annotator_draws, random_state=cfg.random_state
    )


def _annotator_answers(oracle, X, y, cfg, n=200):
    """The simulated annotator's answers for a random sample of training examples."""
    ids = np.random.default_rng(cfg.random_state).choice(len(X), min(n, len(X)), replace=False)
    levels = np.full(len(X), cfg.sigma_init, dtype=np.float32)
    queries = make_queries(X, y, levels, np.sort(ids), seed=cfg.random_state)
    answers = oracle.answer(queries)
    return [
        {"example": int(q.query_id), "label": int(q.y), "initial": cfg.sigma_init, "answer": a}
        for q, a in zip(queries, answers.tolist())
    ]


def _baselines_table(X, y, evaluate, cfg, progress) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Table 1's rows of the models trained without queries: Standard, GNT and CAT-style
    (and the fitted models, by name).

    They train as many epochs as the learners do in total, so that a difference comes
    from the corrected levels, not from longer training."""
    total = cfg.max_epochs + cfg.n_rounds * cfg.epochs_per_round
    common = _training(cfg)
    baselines = {
        "Standard": RobustNetClassifier(cfg.module, max_epochs=total, **common),
        "GNT": NoiseTrainedClassifier(cfg.module, sigma=cfg.sigma_init, max_epochs=total, **common),
        "CAT": NoiseTrainedClassifier(
            cfg.module, sigma=cfg.sigma_init, sigma_mode="adaptive", max_epochs=total, **common
        ),
    }
    table = []
    for method, model in baselines.items():
        table.append({"method": method, **evaluate(model.fit(X, y))})
        progress.update()
    return table, baselines


def _learner(oracle, strategy, sigma_mode, cfg) -> PerturbationLevelLearner:
    """A perturbation-level learner asking ``oracle`` the examples ``strategy`` picks."""
    return PerturbationLevelLearner(
        oracle,
        NoiseTrainedClassifier(cfg.module, max_epochs=cfg.max_epochs, **_training(cfg)),
        query_strategy=strategy,
        n_per_side=cfg.n_per_side,
        n_draws=cfg.learner_draws,
        sigma_init=cfg.sigma_init,
        sigma_mode=sigma_mode,
        max_rounds=cfg.n_rounds,
        epochs_per_round=cfg.epochs_per_round,
        random_state=cfg.random_state,
    )


def _query_rounds(learner, X, y, n_rounds) -> Iterator[int]:
    """Fit ``learner`` on ``(X, y)``, then query up to ``n_rounds`` rounds (fewer when it runs
    out of examples); yields the queries answered so far: 0 after the fit, then after each
    round."""
    learner.fit(X, y)
    yield 0
    for _ in range(n_rounds):
        if learner.step() is None:
            return
        yield int(learner.answered_.sum())


def _query_curves(X, y, oracle, evaluate, level, cfg, progress):
    """Figures 4 and 5: each AQPL strategy's learner (fixed levels), scored before its first
    query and after every round on the clean and corrupted test sets and at the Gaussian
    level ``level`` (Table 1's); one row per strategy and round. Also returns each learner's
    last model."""
    curves, last = [], {}
    for name, strategy in AQPL_STRATEGIES.items():
        learner = _learner(oracle, strategy, "fixed", cfg)
        for queries in _query_rounds(learner, X, y, cfg.n_rounds):
            scores = evaluate(learner.estimator_, sigmas=[level])
            curves.append({"strategy": name, "queries": queries, **scores})
        last[name] = learner.estimator_
        progress.update()
    return curves, last


def _aqpl_rows(
    X, y, oracle, evaluate, gnt_model, cfg, progress
) -> tuple[list[dict[str, Any]], Any]:
    """Table 1's AQPL rows: AQPL-GNT, the noise-entropy curve's last model, and AQPL-CAT, the
    same queries with adaptive levels (and AQPL-CAT's model)."""
    learner = _learner(oracle, AQPL_STRATEGIES["noise_entropy"], "adaptive", cfg)
    for _ in _query_rounds(learner, X, y, cfg.n_rounds):
        pass
    progress.update()
    return [
        {"method": "AQPL-GNT", **evaluate(gnt_model)},
        {"method": "AQPL-CAT", **evaluate(learner.estimator_)},
    ], learner.estimator_


#: Radii at which the certification table reports certified accuracy (L2, pixels in [0, 1]).
CERTIFY_RADII = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


def _certified_rows(models, X_test, y_test, oracle, cfg, verbose):
    """Randomized-smoothing certificates of ``models`` on the first ``n_certify`` test images:
    at the single level ``sigma_init`` and at each image's own level as the annotator
    answers it. Returns the rows and the per-example radii (for the figure)."""
    from sklearn.frozen import FrozenEstimator

    from ..estimators import SmoothedClassifier
    from ..metrics import certified_accuracy_curve

    X, y = X_test[: cfg.n_certify], y_test[: cfg.n_certify]
    start = np.full(len(X), cfg.sigma_init, dtype=np.float32)
    queries = make_queries(X, y, start, np.arange(len(X)), seed=cfg.random_state + 1)
    own = np.asarray(oracle.answer(queries), dtype=np.float64)
    rows, radii = [], {}
    for method, model in models.items():
        for levels, sigma in (("single", cfg.sigma_init), ("per-example", own)):
            smoothed = SmoothedClassifier(
                FrozenEstimator(model),
                sigma=sigma,
                n_select_draws=100,
                n_draws=cfg.certify_draws,
                alpha=0.001,
                random_state=cfg.random_state,
            ).fit(X, y)
            curve = certified_accuracy_curve(smoothed, X, y, radii=CERTIFY_RADII)
            per = curve["radii_per_example"]
            radii[(method, levels)] = per
            rows.append(
                {
                    "method": method,
                    "levels": levels,
                    "mean_level": float(np.mean(sigma)),
                    "mean_radius": float(np.nanmean(np.nan_to_num(per, nan=0.0))),
                    **{f"radius_{r:g}": float(a) for r, a in zip(CERTIFY_RADII, curve["accuracy"])},
                }
            )
            if verbose:
                print(
                    f"certified {method} ({levels} levels): "
                    + ", ".join(
                        f"r={r:g} {100 * rows[-1][f'radius_{r:g}']:.1f}%" for r in CERTIFY_RADII
                    )
                )
    return rows, radii, own


def _plot_certified(radii, path, cfg):
    top = max(float(np.nanmax(r)) if np.isfinite(r).any() else 0.0 for r in radii.values())
    grid = np.linspace(0.0, max(top, 1e-6), 100)
    fig, ax = subplots(figsize=(7, 4))
    for (method, levels), per in radii.items():
        filled = np.nan_to_num(per, nan=-1.0)
        ax.plot(
            grid,
            [100 * np.mean(filled >= r) for r in grid],
            linestyle="-" if levels == "single" else "--",
            label=f"{method}, "
            + (f"sigma {cfg.sigma_init:g}" if levels == "single" else "own levels"),
        )
    ax.set_xlabel("L2 radius")
    ax.set_ylabel("certified accuracy (%)")
    ax.set_title("Randomized smoothing of the AQPL models")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


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
    evaluate = _test_sets(X_test[: cfg.n_test], y_test[: cfg.n_test], cfg, verbose)
    oracle = _simulated_oracle(X_ref, y_ref, cfg)
    annotator = _annotator_answers(oracle, X, y, cfg)
    n_models = 3 + len(AQPL_STRATEGIES) + 1  # baselines, curves, AQPL-CAT
    with progress_bar(total=n_models, desc="aqpl", verbose=verbose) as progress:
        table, baselines = _baselines_table(X, y, evaluate, cfg, progress)
        level = _table_sigma(cfg, table[0])
        curves, last = _query_curves(X, y, oracle, evaluate, level, cfg, progress)
        rows, aqpl_cat = _aqpl_rows(X, y, oracle, evaluate, last["noise_entropy"], cfg, progress)
        table += rows
    if cfg.certify:
        models = {"GNT": baselines["GNT"], "AQPL-GNT": last["noise_entropy"], "AQPL-CAT": aqpl_cat}
        certified, radii, own = _certified_rows(models, X_test, y_test, oracle, cfg, verbose)
        write_csv(certified, out / "certified.csv")
        _plot_certified(radii, out / "certified.png", cfg)
    for row in table + curves:
        row["gaussian_sigma"] = level
        row["gaussian"] = row[f"sigma_{level:g}"]
    write_csv(table, out / "table1.csv")
    write_csv(curves, out / "curves.csv")
    write_csv(annotator, out / "annotator.csv")
    _plot_table(table, out / "table1.png", cfg)
    _plot_curves(curves, out / "curves.png")
    plot_noise_sweep([table], out / "sweep.png", cfg.eval_sigmas)
    _plot_annotator(annotator, out / "annotator.png", cfg)
    if verbose:
        print(format_table(table))
        print(
            f"wrote {out}/table1.csv, table1.png, curves.csv, curves.png, sweep.png, annotator.png"
        )
    return table, curves


def format_table(table) -> str:
    """Table 1 as Markdown (accuracy in %)."""
    level = table[0].get("gaussian_sigma")
    gaussian = "Gaussian" if level is None else f"Gaussian (sigma {level:g})"
    lines = [f"| method | clean | {gaussian} | mean of 15 |", "|---|---|---|---|"]
    lines += [
        f"| {r['method']} | {100 * r['clean']:.2f} | {100 * r['gaussian']:.2f} | "
        f"{100 * r['corruptions_mean']:.2f} |"
        for r in table
    ]
    return "\n".join(lines)


def _plot_table(table, path, cfg):
    cols = [("clean", "clean"), ("gaussian", "Gaussian noise"), ("corruptions_mean", "mean of 15")]
    width = 0.8 / len(table)
    fig, ax = subplots(figsize=(8, 4))
    for i, r in enumerate(table):
        pos = np.arange(len(cols)) + (i - (len(table) - 1) / 2) * width
        ax.bar(pos, [100 * r[c] for c, _ in cols], width, label=r["method"])
    ax.set_xticks(np.arange(len(cols)), [label for _, label in cols])
    ax.set_ylabel("accuracy (%)")
    level = table[0].get("gaussian_sigma")
    ax.set_title(
        f"AQPL Table 1 (Gaussian sigma {level:g}; 15 corruptions at severity {cfg.severity})"
    )
    ax.legend(ncol=len(table), fontsize=8, loc="lower center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_curves(curves, path):
    fig, axes = subplots(1, 2, figsize=(11, 4))
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


def plot_noise_sweep(
    tables: list[list[dict[str, Any]]], path: str | os.PathLike, sigmas: Sequence[float]
) -> None:
    """Accuracy against Gaussian-noise level for each method (mean and sd over seeds).

    Parameters
    ----------
    tables : list of Table 1 row lists
        One per seed, as returned by :func:`run_aqpl`.
    path : str or path-like
        PNG file to write.
    sigmas : sequence of float
        The sweep's levels.
    """
    fig, ax = subplots(figsize=(7, 4.5))
    for i, method in enumerate(r["method"] for r in tables[0]):
        acc = np.array(
            [[t[i][f"sigma_{s:g}"] for s in sigmas] for t in tables if t[i]["method"] == method]
        )
        mean, sd = 100 * acc.mean(0), 100 * acc.std(0)
        ax.plot(sigmas, mean, marker="o", label=method)
        if len(acc) > 1:
            ax.fill_between(sigmas, mean - sd, mean + sd, alpha=0.2)
    ax.axhline(100 * PAPER_STANDARD_GAUSSIAN, color="grey", ls=":", lw=1)
    ax.text(sigmas[0], 100 * PAPER_STANDARD_GAUSSIAN + 1, "paper: Standard", fontsize=8)
    ax.set_xlabel("Gaussian noise sigma")
    ax.set_ylabel("test accuracy (%)")
    n = len(tables)
    ax.set_title(
        "Accuracy under Gaussian noise" + (f" (mean and sd of {n} seeds)" if n > 1 else "")
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_annotator(rows, path, cfg):
    answers = np.array([r["answer"] for r in rows])
    fig, ax = subplots(figsize=(6, 3.5))
    ax.hist(answers, bins=np.arange(0, 0.95, 0.05), color="tab:blue", label="annotator's answers")
    ax.axvline(cfg.sigma_init, color="tab:red", ls="--", label=f"initial level {cfg.sigma_init:g}")
    ax.set_xlabel("answered level sigma*")
    ax.set_ylabel("examples")
    ax.set_title(
        f"Simulated annotator (trained at sigma {cfg.annotator_sigma:g}): "
        f"median answer {np.median(answers):.2f}"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run_aqpl_seeds(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    out_dir: str | os.PathLike,
    cfg: AQPLConfig | None = None,
    *,
    seeds: int = 3,
    verbose: int = 1,
) -> list[dict[str, Any]]:
    """:func:`run_aqpl` for ``seeds`` seeds, then Table 1 as mean and sd over them.

    Seed ``k`` uses ``random_state = cfg.random_state + k`` (models, noise,
    corruptions, selection) and writes into ``out_dir/seed-k``. Table 1's Gaussian
    level is chosen once: ``cfg.table_sigma``, or with ``"auto"`` the level the first
    seed chooses, at which every later seed is evaluated (so the mean is over one
    column, and the summary names it). ``out_dir`` gets
    ``table1_seeds.csv`` (mean and sd of every column), ``summary.md`` and
    ``sweep.png`` (accuracy against sigma with the seeds' spread).

    Parameters
    ----------
    X_train : ndarray of shape (n, 1, h, w)
        Training images, as in :func:`run_aqpl`.
    y_train : ndarray of shape (n,)
        Their labels.
    X_test : ndarray
        Test images.
    y_test : ndarray
        Test labels.
    out_dir : str or path-like
        Output folder.
    cfg : AQPLConfig or None, default=None
        Sizes and settings of every seed.
    seeds : int, default=3
        Number of seeds.
    verbose : int, default=1
        Progress and the printed summary.

    Returns
    -------
    summary : list of dict
        Per method: ``n_seeds`` and the mean and sd of each accuracy column.
    """
    cfg = cfg or AQPLConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables: list = []
    for k, seed_cfg in seed_configs(cfg, seeds):
        if tables:  # every seed at the first seed's level, so the rows average one column
            seed_cfg = replace(seed_cfg, table_sigma=tables[0][0]["gaussian_sigma"])
        table, _ = run_aqpl(
            X_train, y_train, X_test, y_test, out / f"seed-{k}", seed_cfg, verbose=verbose
        )
        tables.append(table)
    columns = [c for c in tables[0][0] if c not in ("method",)]
    summary = []
    for i, row in enumerate(tables[0]):
        values = {c: np.array([t[i][c] for t in tables], dtype=float) for c in columns}
        summary.append(
            {
                "method": row["method"],
                "n_seeds": seeds,
                **{f"{c}_mean": float(v.mean()) for c, v in values.items()},
                **{f"{c}_sd": sample_sd(v) for c, v in values.items()},
            }
        )
    write_csv(summary, out / "table1_seeds.csv")
    plot_noise_sweep(tables, out / "sweep.png", cfg.eval_sigmas)
    text = format_summary(summary)
    if cfg.certify:
        certified = _certified_summary([out / f"seed-{k}" / "certified.csv" for k in range(seeds)])
        write_csv(certified, out / "certified_seeds.csv")
        text += "\n\n" + format_certified(certified)
    (out / "summary.md").write_text(text + "\n", encoding="utf-8")
    if verbose:
        print(text)
    return summary


def _certified_summary(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Mean and sd over seeds of each seed's ``certified.csv`` (rows in the same order)."""
    import csv

    runs = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            runs.append(list(csv.DictReader(f)))
    summary = []
    for i, row in enumerate(runs[0]):
        numbers = [c for c in row if c not in ("method", "levels")]
        values = {c: np.array([float(r[i][c]) for r in runs]) for c in numbers}
        summary.append(
            {
                "method": row["method"],
                "levels": row["levels"],
                "n_seeds": len(runs),
                **{f"{c}_mean": float(v.mean()) for c, v in values.items()},
                **{f"{c}_sd": sample_sd(v) for c, v in values.items()},
            }
        )
    return summary


def format_certified(summary: list[dict[str, Any]]) -> str:
    """The certification summary as a Markdown table (certified accuracy in %, mean +- sd)."""
    radii = [
        c[len("radius_") : -len("_mean")]
        for c in summary[0]
        if c.startswith("radius_") and c.endswith("_mean")
    ]
    head = "| model | levels | mean level | mean radius | " + " | ".join(f"r = {r}" for r in radii)
    lines = [head + " |", "|" + "---|" * (4 + len(radii))]
    for r in summary:
        cells = [
            f"{100 * r[f'radius_{x}_mean']:.1f} +- {100 * r[f'radius_{x}_sd']:.1f}" for x in radii
        ]
        lines.append(
            f"| {r['method']} | {r['levels']} | {r['mean_level_mean']:.3f} | "
            f"{r['mean_radius_mean']:.3f} +- {r['mean_radius_sd']:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def format_summary(summary: list[dict[str, Any]]) -> str:
    """Table 1 over seeds as Markdown: mean +- sd (accuracy in %)."""
    levels = sorted({r["gaussian_sigma_mean"] for r in summary})
    level = ", ".join(f"{s:g}" for s in levels)

    def cell(r, c):
        return f"{100 * r[c + '_mean']:.2f} +- {100 * r[c + '_sd']:.2f}"

    lines = [
        f"| method | clean | Gaussian (sigma {level}) | mean of 15 | seeds |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['method']} | {cell(r, 'clean')} | {cell(r, 'gaussian')} | "
        f"{cell(r, 'corruptions_mean')} | {r['n_seeds']} |"
        for r in summary
    ]
    return "\n".join(lines)
