"""Robust active learning along the stages: paired differences at every stage, and the
selection bias of each batch (robust-AL paper, section 6), over seeds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._seeds import sample_sd

#: The selection-bias columns the stage loop records for each queried batch (Eq. 12's JSD).
BIAS_COLUMNS = ("entropy_jsd", "label_jsd")


def _runs_by_seed(
    records: Sequence[dict[str, Any]], training: str
) -> dict[str, dict[int, dict[int, dict[str, Any]]]]:
    """``{strategy: {seed: {stage: record}}}`` of the runs with this training."""
    runs: dict[str, dict[int, dict[int, dict[str, Any]]]] = {}
    for r in records:
        if r["training"] != training:
            continue
        runs.setdefault(r["strategy"], {}).setdefault(int(r.get("seed", 0)), {})[
            int(r["stage"])
        ] = r
    return runs


def _value(record: dict[str, Any] | None, column: str) -> float | None:
    if record is None or record.get(column) in (None, ""):
        return None
    return float(record[column])


def stagewise_differences(
    records: Sequence[dict[str, Any]],
    a: str,
    b: str,
    *,
    metric: str = "pgd",
    training: str = "robust",
) -> list[dict[str, Any]]:
    """Same-seed differences ``a - b`` of one metric at every stage.

    The last-stage comparison of :func:`~robustsk.reproduce.paired_differences`
    misses where two curves part and meet again; this gives each stage's
    paired difference, its spread and how many seeds it is positive on.

    Parameters
    ----------
    records : sequence of dict
        Stage records with a ``"seed"`` key (``stages_seeds.csv``); a record
        without one counts as seed 0.
    a : str
        The strategy the differences are of.
    b : str
        The strategy subtracted.
    metric : str, default="pgd"
        The stage column to compare ("accuracy", "pgd", "autoattack").
    training : str, default="robust"
        Which runs to compare.

    Returns
    -------
    rows : list of dict
        One per stage both strategies measured on every common seed:
        ``stage``, ``n_labeled`` (mean over seeds), ``n_seeds``, ``per_seed``
        (space-separated differences), ``mean``, ``sd`` and ``n_positive``.
        Empty when either strategy is missing.
    """
    runs = _runs_by_seed(records, training)
    if a not in runs or b not in runs:
        return []
    seeds = sorted(set(runs[a]) & set(runs[b]))
    if not seeds:
        return []
    stages = sorted(set.intersection(*(set(runs[a][k]) & set(runs[b][k]) for k in seeds)))
    rows = []
    for stage in stages:
        pairs = [(runs[a][k][stage], runs[b][k][stage]) for k in seeds]
        va = [_value(ra, metric) for ra, _ in pairs]
        vb = [_value(rb, metric) for _, rb in pairs]
        if any(v is None for v in va + vb):
            continue
        d = np.array(va, dtype=float) - np.array(vb, dtype=float)
        rows.append(
            {
                "stage": stage,
                "n_labeled": float(np.mean([float(ra["n_labeled"]) for ra, _ in pairs])),
                "n_seeds": len(seeds),
                "per_seed": " ".join(f"{x:.4f}" for x in d),
                "mean": float(d.mean()),
                "sd": sample_sd(d),
                "n_positive": int((d > 0).sum()),
            }
        )
    return rows


def selection_bias_summary(
    records: Sequence[dict[str, Any]], *, training: str = "robust"
) -> list[dict[str, Any]]:
    """Each strategy's selection bias, averaged over its queried batches, over seeds.

    The stage loop records, for the batch each stage queries, the Jensen-Shannon
    divergence between the batch's and the unlabelled pool's histograms of
    predictive entropy (50 bins) and of the true label (section 6, Eq. 12),
    under the model that chose the batch. DRE exists to make the entropy
    divergence small; random sampling's is its sampling noise.

    Parameters
    ----------
    records : sequence of dict
        Stage records with a ``"seed"`` key; records without the bias columns
        (the last stage, the ceiling) are ignored.
    training : str, default="robust"
        Which runs to summarize.

    Returns
    -------
    rows : list of dict
        One per strategy with bias columns, in first-seen order:
        ``strategy``, ``n_seeds``, ``n_batches`` (per seed), and
        ``{column}_mean`` / ``{column}_sd`` over seeds of each seed's mean
        over its batches, for ``entropy_jsd`` and ``label_jsd``.
    """
    rows = []
    for name, by_seed in _runs_by_seed(records, training).items():
        per_seed: dict[str, list[float]] = {c: [] for c in BIAS_COLUMNS}
        n_batches = 0
        for stages in by_seed.values():
            for column in BIAS_COLUMNS:
                values = [v for r in stages.values() if (v := _value(r, column)) is not None]
                if values:
                    per_seed[column].append(float(np.mean(values)))
                    n_batches = max(n_batches, len(values))
        if not per_seed[BIAS_COLUMNS[0]]:
            continue
        row: dict[str, Any] = {
            "strategy": name,
            "n_seeds": len(per_seed[BIAS_COLUMNS[0]]),
            "n_batches": n_batches,
        }
        for column, values in per_seed.items():
            if values:
                row[f"{column}_mean"] = float(np.mean(values))
                row[f"{column}_sd"] = sample_sd(np.array(values))
        rows.append(row)
    return rows


def format_stage_tables(
    stagewise: Sequence[tuple[str, Sequence[dict[str, Any]]]],
    bias: Sequence[dict[str, Any]],
) -> list[str]:
    """Markdown lines: the stage-by-stage paired differences and the selection bias.

    Parameters
    ----------
    stagewise : sequence of (str, rows)
        A title (``"dre - random, PGD-50"``) and :func:`stagewise_differences`'s rows.
    bias : sequence of dict
        :func:`selection_bias_summary`'s rows.

    Returns
    -------
    lines : list of str
    """
    lines: list[str] = []
    for title, rows in stagewise:
        if not rows:
            continue
        lines += [
            "",
            f"Paired differences at every stage, {title} (percentage points, same seed):",
            "",
            "| labels | per seed | mean | sd | seeds above 0 |",
            "|---|---|---|---|---|",
        ]
        for r in rows:
            per_seed = ", ".join(f"{100 * float(x):+.1f}" for x in r["per_seed"].split())
            lines.append(
                f"| {r['n_labeled']:.0f} | {per_seed} | {100 * r['mean']:+.2f} | "
                f"{100 * r['sd']:.2f} | {r['n_positive']} of {r['n_seeds']} |"
            )
    if bias:
        lines += [
            "",
            "Selection bias of the queried batches (section 6: Jensen-Shannon divergence "
            "between the batch's and the pool's histograms, 50 entropy bins / one per label; "
            "each seed's mean over its batches, then mean +- sd over seeds):",
            "",
            "| strategy | batches | entropy JSD | label JSD |",
            "|---|---|---|---|",
        ]
        for r in bias:
            cells = [
                f"{r[f'{c}_mean']:.4f} +- {r[f'{c}_sd']:.4f}" if f"{c}_mean" in r else "-"
                for c in BIAS_COLUMNS
            ]
            lines.append(f"| {r['strategy']} | {r['n_batches']} | " + " | ".join(cells) + " |")
    return lines
