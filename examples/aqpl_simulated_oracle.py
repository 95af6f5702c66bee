"""
AQPL with a simulated oracle: conformity queries against random queries
=======================================================================

A noise-trained reference model stands in for the person (``SimulatedOracle``).
Starting from GNT with one level for every example, AQPL asks about the examples
whose classification entropy under their own noise is highest and lowest
(``noise_entropy``); the baseline asks about random examples. After each round
both retrain with the corrected levels (Eq. 2). The script plots accuracy under
Gaussian noise against the number of queries, like the paper's Figure 4.

Writes ``aqpl.png`` into the folder given as the first argument (default: the
current folder). Set ``ROBUSTSK_EXAMPLES_SMALL=1`` for a quick run.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from robustsk.active import PerturbationLevelLearner, SimulatedOracle  # noqa: E402
from robustsk.datasets import load_digits_images  # noqa: E402
from robustsk.estimators import NoiseTrainedClassifier  # noqa: E402
from robustsk.query import noise_entropy, random_sampling  # noqa: E402

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
reference = NoiseTrainedClassifier(
    sigma=0.4, max_epochs=3 if small else 40, lr=3e-3, verbose=0, random_state=1
).fit(X_train, y_train)
oracle = SimulatedOracle(reference, tau=0.9, n_draws=10 if small else 20, random_state=0)

curves = {}
for name, strategy in {"AQPL (noise entropy)": noise_entropy, "Random": random_sampling}.items():
    learner = PerturbationLevelLearner(
        oracle,
        NoiseTrainedClassifier(max_epochs=2 if small else 10, lr=3e-3, verbose=0, random_state=0),
        query_strategy=strategy,
        n_per_side=10 if small else 50,
        n_draws=10 if small else 50,
        sigma_init=0.8,
        max_rounds=1 if small else 5,
        random_state=0,
    )
    learner.fit(X_train, y_train)
    learner.run(eval_set=(X_test, y_test), eval_sigma=0.5)
    curves[name] = [(0, None)] + [
        (r["total_queries"], r["noise_accuracy"]) for r in learner.history_
    ]
    print(
        name,
        [(q, round(a, 3)) for q, a in curves[name][1:]],
        f"mean level {learner.sigma_.mean():.3f}",
    )

fig, ax = plt.subplots(figsize=(6, 4))
for name, points in curves.items():
    ax.plot([q for q, _ in points[1:]], [100 * a for _, a in points[1:]], marker="o", label=name)
ax.set_xlabel("queries")
ax.set_ylabel("accuracy under Gaussian noise (sigma 0.5), %")
ax.set_title("AQPL vs random queries (digits, simulated oracle)")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "aqpl.png", dpi=120)
print(f"wrote {out_dir / 'aqpl.png'}")
