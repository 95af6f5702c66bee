"""``robustsk demo``: standard, GNT and adaptive-noise training on the embedded digits.

Reproduces the shape of AQPL's Table 1 (clean accuracy, Gaussian-noise accuracy
and mean accuracy over the 15 common corruptions) for the three non-interactive
baselines, prints it, and writes it to CSV and a bar chart PNG.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from .datasets import load_digits_images, make_corrupted
from .estimators import NoiseTrainedClassifier, RobustNetClassifier
from .perturb import GaussianNoise
from .reproduce import subplots
from .utils import write_csv


def demo_models(*, max_epochs: int, random_state: int, verbose: int) -> dict:
    """The three models of the demo, by display name."""
    common: dict[str, Any] = dict(
        module__hidden_units=(256,),
        lr=3e-3,
        max_epochs=max_epochs,
        batch_size=64,
        random_state=random_state,
        verbose=0,
    )
    return {
        "Standard": RobustNetClassifier(**common),
        "GNT": NoiseTrainedClassifier(sigma=0.4, **common),
        "Adaptive noise": NoiseTrainedClassifier(sigma=0.4, sigma_mode="adaptive", **common),
    }


def run_demo(
    out_dir="robustsk-demo",
    *,
    max_epochs: int = 40,
    severity: int = 3,
    gaussian_sigma: float = 0.3,
    random_state: int = 0,
    verbose: int = 1,
) -> list[dict]:
    """Train the three models, evaluate them, write ``table.csv`` and ``accuracy.png``.

    Returns the table as a list of row dicts.
    """
    from .utils import progress_bar

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_digits_images(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    X_gauss = GaussianNoise(gaussian_sigma, random_state=random_state)(X_test)
    corrupted = make_corrupted(
        X_test, severity=severity, random_state=random_state, verbose=verbose
    )

    rows = []
    models = demo_models(max_epochs=max_epochs, random_state=random_state, verbose=verbose)
    for name, model in progress_bar(models.items(), desc="training", verbose=verbose):
        start = time.perf_counter()
        model.fit(X_train, y_train)
        per_corruption = {c: model.score(Xc, y_test) for c, Xc in corrupted.items()}
        rows.append(
            {
                "model": name,
                "clean": model.score(X_test, y_test),
                "gaussian": model.score(X_gauss, y_test),
                "corruptions_mean": float(np.mean(list(per_corruption.values()))),
                "fit_seconds": time.perf_counter() - start,
                **{f"c_{c}": acc for c, acc in per_corruption.items()},
            }
        )

    write_csv(rows, out / "table.csv")
    _plot(rows, out / "accuracy.png", gaussian_sigma, severity)
    print(format_table(rows, gaussian_sigma, severity))
    print(f"\nwrote {out / 'table.csv'} and {out / 'accuracy.png'}")
    return rows


def format_table(rows, gaussian_sigma, severity) -> str:
    """The demo's table as text (accuracies in percent)."""
    head = (
        f"{'model':<16}{'clean':>8}{'gauss ' + str(gaussian_sigma):>12}"
        f"{'15 corr. (s' + str(severity) + ')':>18}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['model']:<16}{100 * r['clean']:>8.1f}{100 * r['gaussian']:>12.1f}"
            f"{100 * r['corruptions_mean']:>18.1f}"
        )
    return "\n".join(lines)


def _plot(rows, path, gaussian_sigma, severity):
    cols = [
        ("clean", "clean"),
        ("gaussian", f"Gaussian noise\n(sigma {gaussian_sigma})"),
        ("corruptions_mean", f"mean of 15 corruptions\n(severity {severity})"),
    ]
    width = 0.8 / len(rows)
    fig, ax = subplots(figsize=(7, 4))
    for i, r in enumerate(rows):
        pos = np.arange(len(cols)) + (i - (len(rows) - 1) / 2) * width
        bars = ax.bar(pos, [100 * r[c] for c, _ in cols], width, label=r["model"])
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(np.arange(len(cols)), [label for _, label in cols])
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 118)
    ax.set_title("Noise training on digits (robustsk demo)")
    ax.legend(loc="upper center", ncol=len(rows), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
