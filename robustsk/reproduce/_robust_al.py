"""Robust active learning (robust-AL paper, sections 3, 5 and 7): the stage loop, its CSV,
Figure 2-like curves, a Table 5-like summary, a full-data ceiling and the summary over seeds."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..active import ActiveLearner
from ..estimators import AdversarialClassifier, RobustNetClassifier
from ..metrics import adversarial_accuracy
from ..nets import VGG8, VGG16, LeNet5
from ..query import ROBUST_AL_STRATEGIES, selection_bias
from ..utils import check_number, check_options, progress_bar, write_csv
from ._data import dataset_title
from ._networks import format_radius, module_params, network_kwargs, network_name
from ._plots import subplots
from ._robust_al_stages import format_stage_tables, selection_bias_summary, stagewise_differences
from ._seeds import sample_sd, seed_configs

#: When AutoAttack runs: every stage, Table 5's two columns (one third and last), the last.
AUTOATTACK_STAGES = ("all", "summary", "last")
#: The per-stage measurements, in table order.
METRICS = ("accuracy", "pgd", "autoattack")
#: The paired differences of the summary over seeds (the paper's Table 5 ordering).
DEFAULT_PAIRS = (("dre", "random"), ("random", "max_entropy"))


@dataclass
class RobustALConfig:
    """Size and settings of a robust active learning run.

    The defaults are the CPU run (minutes on 2 cores); :meth:`cpu_large` is the
    larger CPU run (five strategies, 3,000 labels, AutoAttack, the ceiling; about
    28 minutes a seed on 2 cores) and :meth:`paper` the paper's MNIST protocol
    (Tables 3 and 4).

    Parameters
    ----------
    strategies : tuple of str, default=("random", "max_entropy", "dre")
        Names from :data:`robustsk.query.ROBUST_AL_STRATEGIES`.
    n_pool : int, default=5000
        Unlabelled pool size (the first rows of the training set).
    n_test : int, default=500
        Test examples used for accuracy and PGD robustness.
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
    train_loss : {"ce", "trades"}, default="ce"
        Adversarial training objective: Madry's cross-entropy on PGD examples
        (the paper's) or TRADES (``AdversarialClassifier(loss="trades")``).
    trades_beta : float, default=6.0
        TRADES' weight of the robustness term.
    eval_alpha : float, default=0.01
        PGD step size for evaluation.
    eval_steps : int, default=50
        PGD steps for evaluation (PGD-50).
    autoattack : bool, default=False
        Also evaluate with AutoAttack (standard version; needs torchattacks).
    n_test_autoattack : int or None, default=None
        AutoAttack runs on the first ``n_test_autoattack`` of the ``n_test``
        examples (all of them when None): on a CPU it costs about 0.27 s per
        example that survives PGD, some 40 times PGD-50.
    autoattack_stages : {"all", "summary", "last"}, default="all"
        Stages evaluated with AutoAttack: every stage, the two of Table 5 (one
        third of the stages and the last) or the last only.
    standard_run : str or None, default="random"
        Strategy of the extra run with standard (non-adversarial) training.
    ceiling : bool, default=False
        Add the full-data ceiling: the whole pool labelled, adversarially trained
        once with the same network, PGD and learning rate (the row ``ceiling``).
    ceiling_epochs : int or None, default=None
        Epochs of the ceiling. None matches one active learning run's training
        compute: as many example passes as all its stages together,
        ``ceil(epochs_per_stage * sum of the labelled-set sizes / n_pool)``.
        The ceiling's eps ramp is ``eps_warmup_epochs`` capped at a third of its
        epochs.
    lr : float, default=3e-3
        Adam learning rate (1e-3 in the paper configuration).
    random_state : int, default=0
        Seed of the initial set, the strategies and training.
    module : torch.nn.Module class, default=LeNet5
        The network (the paper's MNIST model); it gets ``input_shape`` and
        ``n_classes`` from the data.
    module_kwargs : dict, default={}
        Further constructor arguments of ``module`` (``normalize``, a width).
    dataset : str, default="mnist"
        The data set's name, for the summaries; :meth:`for_dataset` sets it
        with the paper's network and radii for that data set.
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
    train_loss: str = "ce"
    trades_beta: float = 6.0
    eval_alpha: float = 0.01
    eval_steps: int = 50
    autoattack: bool = False
    n_test_autoattack: int | None = None
    autoattack_stages: str = "all"
    standard_run: str | None = "random"
    ceiling: bool = False
    ceiling_epochs: int | None = None
    lr: float = 3e-3
    random_state: int = 0
    module: type = LeNet5
    module_kwargs: dict = field(default_factory=dict)
    dataset: str = "mnist"

    @classmethod
    def for_dataset(cls, dataset: str, *, toy: bool = False, **changes: Any) -> RobustALConfig:
        """The configuration on ``dataset`` with the paper's network and radii (Tables 2
        and 4): LeNet-5 at eps 0.3 on MNIST and Fashion-MNIST; VGG8 (SVHN) and VGG16
        (CIFAR-10) at eps 8/255 with PGD steps of 2/255, each with its data set's
        standardisation as first layer. ``toy`` shrinks a colour network to about
        1/16 of its width; ``changes`` override any field.
        """
        check_options(dataset, "dataset", set(DATASET_SETTINGS))
        params: dict[str, Any] = {"dataset": dataset, **DATASET_SETTINGS[dataset], **changes}
        module = params.get("module", LeNet5)
        params["module_kwargs"] = {
            **network_kwargs(dataset, module, toy=toy),
            **changes.get("module_kwargs", {}),
        }
        return cls(**params)

    @classmethod
    def paper(cls, **changes: Any) -> RobustALConfig:
        """The paper's protocol (Tables 3 and 4) on ``changes["dataset"]`` (default MNIST).

        MNIST / LeNet-5: 200 initial, +200 per stage, 24 stages (5k budget), PGD-40
        training (alpha 0.01), PGD-50 and AutoAttack evaluation on the full test
        set; Fashion-MNIST: 29 stages (6k); SVHN / VGG8: 1,000 initial, +500, 18
        stages (10k); CIFAR-10 / VGG16: 1,000 initial, +500, 48 stages (25k), on
        a pool of the 50,000 training images.
        """
        dataset = changes.pop("dataset", "mnist")
        check_options(dataset, "dataset", set(DATASET_SETTINGS))
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
        params.update(DATASET_SETTINGS[dataset])
        params.update(PAPER_SIZES[dataset])
        params.update(changes)
        return cls.for_dataset(dataset, **params)

    @classmethod
    def cpu_large(cls, **changes: Any) -> RobustALConfig:
        """The larger CPU run, sized for 3 seeds in at most 90 minutes on 2 cores.

        DRE, random, MaxEntropy, core-set and BALD with PGD-10 training; pool
        10,000; 200 + 7 x 400 = 3,000 labels; 8 epochs per stage (eps ramp over
        the first 10 epochs); PGD-50 on 1,000 test images at every stage and
        AutoAttack on the first 300 at the last stage; the standard-training run
        (random) and the full-data ceiling (11 epochs on the pool, compute-matched).

        Parameters
        ----------
        **changes
            Fields to override.

        Returns
        -------
        cfg : RobustALConfig
        """
        params: dict[str, Any] = dict(
            strategies=("dre", "random", "max_entropy", "coreset", "bald"),
            n_pool=10000,
            n_test=1000,
            n_initial=200,
            n_per_stage=400,
            n_stages=7,
            epochs_per_stage=8,
            autoattack=True,
            n_test_autoattack=300,
            autoattack_stages="last",
            ceiling=True,
        )
        params.update(changes)
        return cls.for_dataset(params.pop("dataset", "mnist"), **params)


#: The paper's network and radii on each data set (Tables 2 and 4). The paper's Table 4
#: gives SVHN and CIFAR-10 evaluation at eps 8/255, alpha 2/255, and repeats MNIST's
#: eps 0.3 on the training row, a radius that erases a colour image; training here
#: uses the evaluation radius, the usual protocol on these data sets.
DATASET_SETTINGS: dict[str, dict[str, Any]] = {
    "mnist": {},
    "fashion-mnist": {},
    "svhn": dict(module=VGG8, eps=8 / 255, train_alpha=2 / 255, eval_alpha=2 / 255),
    "cifar10": dict(module=VGG16, eps=8 / 255, train_alpha=2 / 255, eval_alpha=2 / 255),
}

#: The paper's active learning sizes beside MNIST's (Table 3: budget = initial + stages x new).
PAPER_SIZES: dict[str, dict[str, Any]] = {
    "mnist": {},
    "fashion-mnist": dict(n_stages=29),
    "svhn": dict(n_pool=50000, n_initial=1000, n_per_stage=500, n_stages=18),
    "cifar10": dict(n_pool=50000, n_initial=1000, n_per_stage=500, n_stages=48),
}


def _check_config(cfg: RobustALConfig) -> None:
    """Refuse a bad configuration before any work, naming the field and what is allowed."""
    unknown = [s for s in cfg.strategies if s not in ROBUST_AL_STRATEGIES]
    if unknown:
        raise ValueError(f"strategies must be from {list(ROBUST_AL_STRATEGIES)}, got {unknown}.")
    if cfg.standard_run is not None:
        check_options(cfg.standard_run, "standard_run", set(ROBUST_AL_STRATEGIES))
    check_options(cfg.autoattack_stages, "autoattack_stages", set(AUTOATTACK_STAGES))
    for name in ("n_pool", "n_test", "n_initial", "n_per_stage", "n_stages", "epochs_per_stage"):
        check_number(getattr(cfg, name), name, low=1, integer=True)
    for name in ("n_test_autoattack", "ceiling_epochs"):
        if getattr(cfg, name) is not None:
            check_number(getattr(cfg, name), name, low=1, integer=True)


def _third(n_stages: int) -> int:
    """The stage of Table 5's first column: one third of the budget."""
    return max(1, round(n_stages / 3))


def _autoattack_stages(cfg: RobustALConfig) -> set[int]:
    if not cfg.autoattack:
        return set()
    if cfg.autoattack_stages == "all":
        return set(range(cfg.n_stages + 1))
    if cfg.autoattack_stages == "summary":
        return {_third(cfg.n_stages), cfg.n_stages}
    return {cfg.n_stages}


def _make_estimator(cfg: RobustALConfig, adversarial: bool, n_classes: int) -> Any:
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
            loss=cfg.train_loss,
            beta=cfg.trades_beta,
            **module_params(cfg.module_kwargs),
            **common,
        )
    return RobustNetClassifier(cfg.module, **module_params(cfg.module_kwargs), **common)


def _evaluate(
    estimator: Any, X_test: np.ndarray, y_test: np.ndarray, cfg: RobustALConfig, autoattack: bool
) -> dict[str, float]:
    """Clean accuracy, PGD robustness and (on the AutoAttack subset) AutoAttack robustness."""
    row = {
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
    if autoattack:
        n = len(X_test) if cfg.n_test_autoattack is None else cfg.n_test_autoattack
        row["autoattack"] = adversarial_accuracy(
            estimator,
            X_test[:n],
            y_test[:n],
            attack="autoattack",
            eps=cfg.eps,
            random_state=cfg.random_state,
        )
    return row


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
        One per stage: labels used, accuracy, PGD (and AutoAttack, at the stages
        ``cfg.autoattack_stages`` names) robustness, seconds; a stage that
        queries also has ``entropy_jsd`` and ``label_jsd``, the Jensen-Shannon
        divergence between its batch's and the unlabelled pool's histograms of
        predictive entropy (50 bins) and of the label (the paper's section 6,
        :func:`robustsk.query.selection_bias`).
    """
    check_options(strategy_name, "strategy_name", set(ROBUST_AL_STRATEGIES))
    _check_config(replace(cfg, strategies=(strategy_name,)))
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
    aa_stages = _autoattack_stages(cfg)
    for stage in progress_bar(
        range(cfg.n_stages + 1), desc=f"{strategy_name} ({mode})", verbose=verbose, leave=False
    ):
        start = time.perf_counter()
        row: dict[str, Any] = {
            "strategy": strategy_name,
            "training": mode,
            "stage": stage,
            "n_labeled": int((~unlabeled).sum()),
            **_evaluate(estimator, X_test, y_test, cfg, stage in aa_stages),
        }
        if stage < cfg.n_stages:
            candidates = np.flatnonzero(unlabeled)
            X_candidates = X_pool[candidates]
            idx, _ = learner.query(X_candidates, n_instances=cfg.n_per_stage)
            # Section 6: how far this batch's entropy and labels are from the pool's (Eq. 12),
            # under the model that chose it
            bias = selection_bias(
                estimator,
                X_candidates,
                idx,
                y_pool=y_pool[candidates],
                characteristics=("entropy", "label"),
            )
            row["entropy_jsd"], row["label_jsd"] = bias["entropy"], bias["label"]
            chosen = candidates[idx]
            unlabeled[chosen] = False
            learner.teach(X_pool[chosen], y_pool[chosen])
        row["seconds"] = time.perf_counter() - start
        records.append(row)
    return records


def _ceiling_epochs(cfg: RobustALConfig, n_pool: int) -> int:
    """Epochs on the whole pool with the training compute of one active learning run."""
    if cfg.ceiling_epochs is not None:
        return int(cfg.ceiling_epochs)
    sizes = [min(n_pool, cfg.n_initial + k * cfg.n_per_stage) for k in range(cfg.n_stages + 1)]
    return max(1, math.ceil(cfg.epochs_per_stage * sum(sizes) / n_pool))


def _run_ceiling(
    X_pool: np.ndarray,
    y_pool: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    cfg: RobustALConfig,
) -> dict[str, Any]:
    """Full-data adversarial training: every pool example labelled, one fit, the last stage's
    evaluation. The record's ``n_labeled`` counts the examples of its last training epoch."""
    start = time.perf_counter()
    epochs = _ceiling_epochs(cfg, len(X_pool))
    ramp = min(cfg.eps_warmup_epochs, max(1, epochs // 3)) if cfg.eps_warmup_epochs else 0
    ceiling_cfg = replace(cfg, epochs_per_stage=epochs, eps_warmup_epochs=ramp)
    estimator = _make_estimator(ceiling_cfg, True, int(np.max(y_pool)) + 1)
    estimator.fit(X_pool, y_pool)
    trained = sum(estimator.history_[-1, "batches", :, "train_batch_size"])
    return {
        "strategy": "ceiling",
        "training": "robust",
        "stage": cfg.n_stages,
        "n_labeled": int(trained),
        **_evaluate(estimator, X_test, y_test, cfg, bool(_autoattack_stages(cfg))),
        "epochs": epochs,
        "seconds": time.perf_counter() - start,
    }


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
    """Run every configured strategy (the standard-training baseline and the ceiling) and
    write results.

    Writes ``stages.csv`` (one row per strategy, training and stage; the
    ceiling's one row at the last stage), ``curves.png`` (accuracy and
    robustness against labels, like Figure 2), ``summary.csv`` and
    ``summary.md`` (accuracy and robustness at one third and at the end of the
    budget, like Table 5). Returns the stage records.

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
    _check_config(cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X_pool, y_pool = X_pool[: cfg.n_pool], y_pool[: cfg.n_pool]
    X_test, y_test = X_test[: cfg.n_test], y_test[: cfg.n_test]
    runs: list[tuple[str, bool | None]] = [(s, True) for s in cfg.strategies]
    if cfg.standard_run:
        runs.append((cfg.standard_run, False))
    if cfg.ceiling:
        runs.append(("ceiling", None))
    records: list[dict[str, Any]] = []
    for name, adversarial in progress_bar(runs, desc="robust-al", verbose=verbose):
        if adversarial is None:
            records.append(_run_ceiling(X_pool, y_pool, X_test, y_test, cfg))
        else:
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


def summarize(records: list[dict[str, Any]], n_stages: int) -> list[dict[str, Any]]:
    """Accuracy and robustness at one third of the stages and at the last stage (Table 5);
    a run without the one-third stage (the ceiling) has its last columns only."""
    rows = []
    for name, mode in dict.fromkeys((r["strategy"], r["training"]) for r in records):
        runs = {r["stage"]: r for r in records if r["strategy"] == name and r["training"] == mode}
        row: dict[str, Any] = {"strategy": name, "training": mode}
        for label, stage in (("third", _third(n_stages)), ("last", n_stages)):
            if stage not in runs:
                continue
            row[f"{label}_n_labeled"] = runs[stage]["n_labeled"]
            for metric in METRICS:
                if metric in runs[stage]:
                    row[f"{label}_{metric}"] = runs[stage][metric]
        rows.append(row)
    return rows


def _percent(value: Any) -> str:
    return "-" if value is None or value == "" else f"{100 * float(value):.2f}"


def format_summary(summary: list[dict[str, Any]], cfg: RobustALConfig) -> str:
    """Table 5's layout as Markdown: accuracy and robustness (%) at 1/3 and at the end."""
    metrics = [m for m in METRICS if any(f"last_{m}" in r or f"third_{m}" in r for r in summary)]
    names = {"accuracy": "acc", "pgd": f"PGD-{cfg.eval_steps}", "autoattack": "AutoAttack"}
    head = ["strategy", "training", "1/3 labels"]
    head += [f"1/3 {names[m]}" for m in metrics] + ["last labels"]
    head += [f"last {names[m]}" for m in metrics]
    lines = [
        f"Robust active learning, {dataset_title(cfg.dataset)} / "
        f"{network_name(cfg.module, cfg.module_kwargs)}: accuracy / robustness (%), "
        f"eps {format_radius(cfg.eps)}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in summary:
        cells = [r["strategy"], r["training"], str(r.get("third_n_labeled", "-"))]
        cells += [_percent(r.get(f"third_{m}")) for m in metrics]
        cells += [str(r.get("last_n_labeled", "-"))]
        cells += [_percent(r.get(f"last_{m}")) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _last_stage_by_seed(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[int, dict]]:
    """``{(strategy, training): {seed: record at that run's last stage}}`` (seed 0 if absent)."""
    runs: dict[tuple[str, str], dict[int, dict]] = {}
    for r in records:
        by_seed = runs.setdefault((r["strategy"], r["training"]), {})
        seed = int(r.get("seed", 0))
        if seed not in by_seed or int(r["stage"]) > int(by_seed[seed]["stage"]):
            by_seed[seed] = r
    return runs


def _has(record: dict[str, Any], metric: str) -> bool:
    return record.get(metric) not in (None, "")


def summarize_seeds(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run's last stage over seeds: mean and sd of accuracy, PGD and AutoAttack robustness.

    Parameters
    ----------
    records : sequence of dict
        Stage records of :func:`run_stage_loop` (and the ceiling's) with a
        ``"seed"`` key, as :func:`run_robust_al_seeds` writes them to
        ``stages_seeds.csv``; a record without one counts as seed 0.

    Returns
    -------
    summary : list of dict
        One per ``(strategy, training)`` in first-seen order: ``n_seeds``,
        ``n_labeled`` (mean over seeds) and ``{metric}_mean``, ``{metric}_sd``
        (sample sd, ``ddof=1``; 0 for one seed) of every metric that all seeds
        measured at the last stage.
    """
    rows = []
    for (name, mode), by_seed in _last_stage_by_seed(list(records)).items():
        last = list(by_seed.values())
        row: dict[str, Any] = {
            "strategy": name,
            "training": mode,
            "n_seeds": len(last),
            "n_labeled": float(np.mean([float(r["n_labeled"]) for r in last])),
        }
        for metric in METRICS:
            if all(_has(r, metric) for r in last):
                values = np.array([float(r[metric]) for r in last])
                row[f"{metric}_mean"] = float(values.mean())
                row[f"{metric}_sd"] = sample_sd(values)
        rows.append(row)
    return rows


def paired_differences(
    records: Sequence[dict[str, Any]],
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    *,
    training: str = "robust",
) -> list[dict[str, Any]]:
    """Same-seed differences ``a - b`` at the last stage, with two tests against noise.

    For each pair and metric, ``d_k = a_k - b_k`` over the seeds both ran.
    ``beyond_2sd`` is ``mean(d) > 2 sd(d)`` (with 3 seeds a one-sided t-test
    at p of about 0.04); ``beyond_seed_spread`` is ``mean(d) > sd(a) + sd(b)``,
    the two runs' mean +- sd intervals do not overlap. Both are False with
    fewer than 2 seeds.

    Parameters
    ----------
    records : sequence of dict
        Stage records with a ``"seed"`` key, as for :func:`summarize_seeds`.
    pairs : sequence of (str, str), default=(("dre", "random"), ("random", "max_entropy"))
        Strategy pairs ``(a, b)``; a pair with a strategy not in ``records`` is skipped.
    training : str, default="robust"
        Which runs to compare ("robust" or "standard").

    Returns
    -------
    differences : list of dict
        One per pair and metric: ``difference`` ("a - b"), ``a``, ``b``,
        ``metric``, ``n_seeds``, ``per_seed`` (space-separated ``d_k``),
        ``mean``, ``sd``, ``sd_a``, ``sd_b``, ``beyond_2sd``,
        ``beyond_seed_spread``.
    """
    runs = _last_stage_by_seed(list(records))
    rows = []
    for a, b in pairs:
        if (a, training) not in runs or (b, training) not in runs:
            continue
        ra, rb = runs[(a, training)], runs[(b, training)]
        seeds = sorted(set(ra) & set(rb))
        for metric in METRICS:
            if not seeds or not all(_has(ra[k], metric) and _has(rb[k], metric) for k in seeds):
                continue
            va = np.array([float(ra[k][metric]) for k in seeds])
            vb = np.array([float(rb[k][metric]) for k in seeds])
            d = va - vb
            mean, sd, sd_a, sd_b = float(d.mean()), sample_sd(d), sample_sd(va), sample_sd(vb)
            enough = len(seeds) > 1
            rows.append(
                {
                    "difference": f"{a} - {b}",
                    "a": a,
                    "b": b,
                    "metric": metric,
                    "n_seeds": len(seeds),
                    "per_seed": " ".join(f"{x:.4f}" for x in d),
                    "mean": mean,
                    "sd": sd,
                    "sd_a": sd_a,
                    "sd_b": sd_b,
                    "beyond_2sd": bool(enough and mean > 2 * sd),
                    "beyond_seed_spread": bool(enough and mean > sd_a + sd_b),
                }
            )
    return rows


def run_robust_al_seeds(
    X_pool: np.ndarray,
    y_pool: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    out_dir: str | os.PathLike,
    cfg: RobustALConfig | None = None,
    *,
    seeds: int = 3,
    command: str | None = None,
    verbose: int = 1,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`run_robust_al` for ``seeds`` seeds, then the last stage as mean and sd over them.

    Seed ``k`` uses ``random_state = cfg.random_state + k`` (initial set,
    strategies, training, attacks' random starts) on the same pool and test
    set, and writes into ``out_dir/seed-k``. ``out_dir`` gets
    ``stages_seeds.csv`` (every record with its seed), ``summary_seeds.csv``
    (:func:`summarize_seeds`), ``differences_seeds.csv``
    (:func:`paired_differences`: DRE - random and random - MaxEntropy),
    ``summary.md`` (both tables, the reading and the command) and
    ``curves.png`` (mean curves with +- sd bands; the ceiling as a band).

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
        Sizes and settings of every seed (the CPU defaults when None).
    seeds : int, default=3
        Number of seeds.
    command : str or None, default=None
        The command that made the run, written into ``summary.md``.
    verbose : int, default=1
        Progress bars and the printed summary.

    Returns
    -------
    summary : list of dict
        :func:`summarize_seeds` of all records.
    differences : list of dict
        :func:`paired_differences` of all records.
    """
    cfg = cfg or RobustALConfig()
    _check_config(cfg)
    check_number(seeds, "seeds", low=1, integer=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    for k, seed_cfg in seed_configs(cfg, seeds):
        if verbose:
            print(f"seed {k + 1} of {seeds} (random_state {seed_cfg.random_state})")
        seed_records = run_robust_al(
            X_pool, y_pool, X_test, y_test, out / f"seed-{k}", seed_cfg, verbose=verbose
        )
        records += [{"seed": k, "random_state": seed_cfg.random_state, **r} for r in seed_records]
        write_csv(records, out / "stages_seeds.csv")
    summary = summarize_seeds(records)
    differences = paired_differences(records)
    write_csv(summary, out / "summary_seeds.csv")
    if differences:
        write_csv(differences, out / "differences_seeds.csv")
    minutes = [sum(r["seconds"] for r in records if r["seed"] == k) / 60 for k in range(seeds)]
    text = format_seeds_summary(
        summary, differences, cfg, command=command, minutes=minutes, records=records
    )
    (out / "summary.md").write_text(text, encoding="utf-8")
    plot_curves(records, out / "curves.png", cfg)
    if verbose:
        print(text)
        print(f"wrote {out / 'summary.md'}, {out / 'summary_seeds.csv'}, {out / 'curves.png'}")
    return summary, differences


def _describe(cfg: RobustALConfig) -> str:
    aa = ""
    if cfg.autoattack:
        subset = "all" if cfg.n_test_autoattack is None else f"the first {cfg.n_test_autoattack}"
        aa = f"; AutoAttack (standard) on {subset} of them at stages: {cfg.autoattack_stages}"
    ceiling = ""
    if cfg.ceiling:
        epochs = _ceiling_epochs(cfg, cfg.n_pool)
        ceiling = f"; ceiling: the whole pool, {epochs} epochs"
    return (
        f"{dataset_title(cfg.dataset)} / {network_name(cfg.module, cfg.module_kwargs)}, eps "
        f"{format_radius(cfg.eps)} (Linf); pool {cfg.n_pool}, "
        f"{cfg.n_initial} + {cfg.n_stages} x {cfg.n_per_stage} labels; PGD-{cfg.train_steps} "
        f"training (alpha {format_radius(cfg.train_alpha)}), {cfg.epochs_per_stage} epochs per "
        f"stage, eps ramp "
        f"{cfg.eps_warmup_epochs} epochs, Adam lr {cfg.lr}; PGD-{cfg.eval_steps} (alpha "
        f"{format_radius(cfg.eval_alpha)}) on {cfg.n_test} test images{aa}{ceiling}."
    )


def format_seeds_summary(
    summary: Sequence[dict[str, Any]],
    differences: Sequence[dict[str, Any]],
    cfg: RobustALConfig,
    *,
    command: str | None = None,
    minutes: Sequence[float] | None = None,
    records: Sequence[dict[str, Any]] | None = None,
) -> str:
    """The summary over seeds as Markdown: last stage (mean +- sd, %), paired differences
    (percentage points) with both noise tests, a reading line per difference and the command;
    with ``records``, the paired PGD differences at every stage and the selection bias.

    Parameters
    ----------
    summary : sequence of dict
        :func:`summarize_seeds`'s rows.
    differences : sequence of dict
        :func:`paired_differences`'s rows.
    cfg : RobustALConfig
        The settings (described under the tables).
    command : str or None, default=None
        The command that made the run.
    minutes : sequence of float or None, default=None
        Wall time of each seed.
    records : sequence of dict or None, default=None
        Every stage record with its seed (``stages_seeds.csv``): adds
        :func:`~robustsk.reproduce.stagewise_differences` of the default pairs
        and :func:`~robustsk.reproduce.selection_bias_summary`.

    Returns
    -------
    text : str
    """
    names = {"accuracy": "accuracy", "pgd": f"PGD-{cfg.eval_steps}", "autoattack": "AutoAttack"}
    metrics = [m for m in METRICS if any(f"{m}_mean" in r for r in summary)]
    n_seeds = max((int(r["n_seeds"]) for r in summary), default=0)
    lines = [f"# Robust active learning, last stage over {n_seeds} seeds", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [f"Settings: {_describe(cfg)}", ""]
    if minutes:
        lines += ["Minutes per seed: " + ", ".join(f"{m:.1f}" for m in minutes), ""]
    head = ["strategy", "training", "labels"] + [names[m] for m in metrics]
    lines += [
        "Mean +- sd over seeds (%):",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in summary:
        cells = [r["strategy"], r["training"], f"{float(r['n_labeled']):.0f}"]
        for m in metrics:
            if f"{m}_mean" in r:
                cells.append(f"{100 * r[f'{m}_mean']:.2f} +- {100 * r[f'{m}_sd']:.2f}")
            else:
                cells.append("-")
        lines.append("| " + " | ".join(cells) + " |")
    if differences:
        lines += [
            "",
            "Paired differences, same seed (percentage points); beyond 2 sd: mean > 2 sd of the "
            "difference; beyond spread: mean > sd(a) + sd(b):",
            "",
            "| difference | metric | per seed | mean | sd | beyond 2 sd | beyond spread |",
            "|---|---|---|---|---|---|---|",
        ]
        for d in differences:
            per_seed = ", ".join(f"{100 * float(x):+.2f}" for x in d["per_seed"].split())
            lines.append(
                f"| {d['difference']} | {names[d['metric']]} | {per_seed} | "
                f"{100 * d['mean']:+.2f} | {100 * d['sd']:.2f} | "
                f"{'yes' if d['beyond_2sd'] else 'no'} | "
                f"{'yes' if d['beyond_seed_spread'] else 'no'} |"
            )
        lines += ["", "Reading (robustness; the paper's Table 5 has DRE >= random > MaxEntropy):"]
        for d in differences:
            if d["metric"] == "accuracy":
                continue
            tests = [
                "mean > 2 sd: " + ("yes" if d["beyond_2sd"] else "no"),
                "mean > seed spread: " + ("yes" if d["beyond_seed_spread"] else "no"),
            ]
            side = "above" if d["mean"] > 0 else "not above"
            lines.append(
                f"- {names[d['metric']]}, {d['difference']}: {100 * d['mean']:+.2f} +- "
                f"{100 * d['sd']:.2f} points over {d['n_seeds']} seeds ({d['a']} {side} "
                f"{d['b']}; {', '.join(tests)})."
            )
    if records:
        stagewise = [
            (f"{a} - {b}, {names['pgd']}", stagewise_differences(records, a, b, metric="pgd"))
            for a, b in DEFAULT_PAIRS
        ]
        lines += format_stage_tables(stagewise, selection_bias_summary(records))
    return "\n".join(lines) + "\n"


def plot_curves(records: Sequence[dict[str, Any]], path: str | os.PathLike, cfg: Any) -> None:
    """Accuracy and robustness against the number of labels, one line per run: the mean over
    seeds with a +- sd band (records with a ``"seed"`` key), the ceiling as a horizontal band,
    AutoAttack as points with error bars where it was measured."""
    metrics = [m for m in METRICS if any(_has(r, m) for r in records)]
    titles = {
        "accuracy": "clean accuracy",
        "pgd": f"PGD-{cfg.eval_steps} robustness, eps {format_radius(cfg.eps)}",
        "autoattack": f"AutoAttack robustness, eps {format_radius(cfg.eps)}",
    }
    fig, axes = subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    n_seeds = len({r.get("seed", 0) for r in records})
    x_max = max(float(r["n_labeled"]) for r in records if r["strategy"] != "ceiling")
    n_runs = len({(r["strategy"], r["training"]) for r in records})
    for i, (name, mode) in enumerate(
        dict.fromkeys((r["strategy"], r["training"]) for r in records)
    ):
        rows = [r for r in records if r["strategy"] == name and r["training"] == mode]
        stages = sorted({r["stage"] for r in rows})
        color = f"C{i % 10}"
        label = name if mode == "robust" else f"{name} (standard training)"
        if name == "ceiling":
            label = f"ceiling (all {float(rows[0]['n_labeled']):.0f} labelled)"
        for ax, metric in zip(axes[0], metrics):
            points = []
            for s in stages:
                at = [r for r in rows if r["stage"] == s and _has(r, metric)]
                if at:
                    v = 100 * np.array([float(r[metric]) for r in at])
                    labels = float(np.mean([float(r["n_labeled"]) for r in at]))
                    points.append((labels, float(v.mean()), sample_sd(v)))
            if not points:
                continue
            n, mean, sd = (np.array(c) for c in zip(*points))
            if name == "ceiling":
                ax.axhline(mean[0], color=color, ls="--", label=label)
                ax.axhspan(mean[0] - sd[0], mean[0] + sd[0], color=color, alpha=0.15)
            elif len(points) == 1 or metric == "autoattack":
                shift = (i - n_runs / 2) * 0.006 * x_max  # runs side by side at one stage
                ax.errorbar(
                    n + shift, mean, yerr=sd, fmt="o", color=color, ms=4, capsize=3, label=label
                )
            else:
                ax.plot(n, mean, "-" if mode == "robust" else ":", color=color, marker="o", ms=3)
                ax.fill_between(n, mean - sd, mean + sd, color=color, alpha=0.15)
                ax.plot([], [], "-" if mode == "robust" else ":", color=color, label=label)
    for ax, metric in zip(axes[0], metrics):
        ax.set_title(titles[metric] + (f" ({n_seeds} seeds, mean +- sd)" if n_seeds > 1 else ""))
        ax.set_xlabel("labelled examples")
        ax.set_ylabel("%")
        ax.set_xlim(0, x_max * 1.05)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
