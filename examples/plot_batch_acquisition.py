"""
Batch-diverse, committee and low-budget queries, with a stopping rule
=====================================================================

Runs the same active learning loop on the digits for several strategies: random,
MaxEntropy (top-B uncertainty), BADGE, BatchBALD, TypiClust, ProbCover and query
by committee (ensemble BALD on a committee of five networks), each from the same
20 labels, 20 more per round, until a label budget or a validation plateau stops
it (``stopping=``; the reason and every measurement are in ``learner.history_``).
Plots test accuracy against labels and writes ``batch_acquisition.png`` and a
table of the stops into the folder given as the first argument (default: the
current folder). Set ``ROBUSTSK_EXAMPLES_SMALL=1`` for a quick run.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from robustsk.active import ActiveLearner, LabelBudget, ValidationPlateau  # noqa: E402
from robustsk.datasets import load_digits_images  # noqa: E402
from robustsk.estimators import RobustNetClassifier  # noqa: E402
from robustsk.nets import MLP  # noqa: E402
from robustsk.query import (  # noqa: E402
    CommitteeClassifier,
    badge,
    batchbald,
    ensemble_bald,
    max_entropy,
    probcover,
    random_sampling,
    typiclust,
)

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
out_dir.mkdir(parents=True, exist_ok=True)

X, y = load_digits_images(return_X_y=True)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
X_pool, X_val, y_pool, y_val = train_test_split(
    X_rest, y_rest, test_size=200, stratify=y_rest, random_state=0
)
per_round, budget = 20, (60 if small else 200)


def net(seed=0):
    return RobustNetClassifier(
        MLP,
        module__hidden_units=(64,),
        module__dropout=0.2,
        max_epochs=5 if small else 30,
        lr=1e-2,
        classes=np.arange(10),
        verbose=0,
        random_state=seed,
    )


strategies = {
    "random": (net, random_sampling),
    "MaxEntropy": (net, max_entropy),
    "BADGE": (net, badge),
    "BatchBALD": (net, lambda *a, **k: batchbald(*a, n_draws=10, max_configs=512, **k)),
    "TypiClust": (net, typiclust),
    "ProbCover": (net, probcover),
    "committee (ensemble BALD)": (
        lambda: CommitteeClassifier([net(s) for s in range(3 if small else 5)], random_state=0),
        ensemble_bald,
    ),
}
if small:
    strategies = {k: strategies[k] for k in ("random", "BADGE", "committee (ensemble BALD)")}

rng = np.random.default_rng(0)
start = rng.choice(len(X_pool), per_round, replace=False)
curves, stops = {}, []
for name, (make, strategy) in strategies.items():
    unlabeled = np.setdiff1d(np.arange(len(X_pool)), start)
    learner = ActiveLearner(
        make(),
        strategy,
        X_pool[start],
        y_pool[start],
        random_state=0,
        stopping=[LabelBudget(budget), ValidationPlateau(X_val, y_val, patience=3)],
    )
    points = []
    while not learner.should_stop(X_pool[unlabeled]):
        points.append((len(learner.y_training), learner.score(X_test, y_test)))
        idx, _ = learner.query(X_pool[unlabeled], per_round)
        picked = unlabeled[idx]
        learner.teach(X_pool[picked], y_pool[picked])  # the oracle: the true labels
        unlabeled = np.setdiff1d(unlabeled, picked)
    points.append((len(learner.y_training), learner.score(X_test, y_test)))
    curves[name] = np.array(points)
    stops.append(f"| {name} | {len(learner.y_training)} | {learner.stop_reason_} |")

fig, ax = plt.subplots(figsize=(7, 4.5))
for name, c in curves.items():
    ax.plot(c[:, 0], c[:, 1], marker="o", ms=3, label=name)
ax.set_xlabel("labels")
ax.set_ylabel("test accuracy")
ax.set_title(f"Active learning on digits: {per_round} labels per round")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out_dir / "batch_acquisition.png", dpi=120)
table = "| strategy | labels at the stop | why it stopped |\n|---|---|---|\n" + "\n".join(stops)
(out_dir / "batch_acquisition_stops.md").write_text(table + "\n", encoding="utf-8")
print(table)
